//! Acknowledgement tracking: a request is answered only after every piece of its data has been
//! committed (or deliberately discarded), however the pipeline splits, merges or fans it out.

use super::PipelineError;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Shared by every token derived from one request; reports once, when the last token is gone.
struct Completion {
    first_error: Mutex<Option<PipelineError>>,
    reply: Mutex<Option<oneshot::Sender<Result<(), PipelineError>>>>,
}

impl Drop for Completion {
    fn drop(&mut self) {
        let outcome = match self.first_error.get_mut().ok().and_then(|e| e.take()) {
            Some(err) => Err(err),
            None => Ok(()),
        };
        if let Some(reply) = self.reply.get_mut().ok().and_then(|r| r.take()) {
            let _ = reply.send(outcome);
        }
    }
}

/// One piece of a request's data. Settle it with `commit`, `discard` or `fail`; a token dropped
/// unsettled counts as a retryable failure, so lost data is never acknowledged.
pub struct AckToken {
    completion: Arc<Completion>,
    settled: bool,
}

/// What the receiver awaits before answering.
pub type AckReceiver = oneshot::Receiver<Result<(), PipelineError>>;

impl AckToken {
    pub fn new() -> (AckToken, AckReceiver) {
        let (tx, rx) = oneshot::channel();
        let completion = Arc::new(Completion {
            first_error: Mutex::new(None),
            reply: Mutex::new(Some(tx)),
        });
        (
            AckToken {
                completion,
                settled: false,
            },
            rx,
        )
    }

    /// A further, independently settled piece of the same request (for splits and fan-out).
    pub fn split(&self) -> AckToken {
        AckToken {
            completion: self.completion.clone(),
            settled: false,
        }
    }

    /// The data is durably stored (or handed to a persistent queue).
    pub fn commit(mut self) {
        self.settled = true;
    }

    /// The data was intentionally dropped (sampling, filtering): success for the sender.
    pub fn discard(mut self) {
        self.settled = true;
    }

    pub fn fail(mut self, error: PipelineError) {
        self.settled = true;
        self.record(error);
    }

    fn record(&self, error: PipelineError) {
        if let Ok(mut slot) = self.completion.first_error.lock() {
            slot.get_or_insert(error);
        }
    }
}

impl Drop for AckToken {
    fn drop(&mut self) {
        if !self.settled {
            self.record(PipelineError::retryable("data was dropped inside otelbox before it was stored"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_only_when_every_piece_is_settled() {
        let (token, mut rx) = AckToken::new();
        let a = token.split();
        let b = token.split();
        token.commit();
        a.commit();
        assert!(rx.try_recv().is_err(), "must wait for b");
        b.discard();
        assert!(rx.await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn a_dropped_piece_is_a_retryable_failure() {
        let (token, rx) = AckToken::new();
        let piece = token.split();
        token.commit();
        drop(piece);
        let err = rx.await.unwrap().unwrap_err();
        assert!(err.is_retryable());
    }

    #[tokio::test]
    async fn the_first_failure_is_reported() {
        let (token, rx) = AckToken::new();
        let piece = token.split();
        piece.fail(PipelineError::permanent("bad"));
        token.fail(PipelineError::retryable("later"));
        assert_eq!(rx.await.unwrap().unwrap_err().to_string(), "bad");
    }
}
