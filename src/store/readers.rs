//! The store's read connections, each on a thread of its own started with the store: queries keep
//! the writer's priority and run ahead of the receiving threads (`crate::priority`) rather than
//! queueing behind them on the runtime's blocking pool. Under overload (`scripts/bench memory`)
//! trace searches on the blocking pool took twice as long once receiving ran below the writer.

use super::StoreError;
use rusqlite::Connection;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use tokio::sync::{oneshot, Semaphore};

type Job = Box<dyn FnOnce(&Connection) + Send>;

pub(super) struct Readers {
    jobs: mpsc::Sender<Job>,
    /// One per connection: a read waits for a free connection here, not in the queue.
    slots: Arc<Semaphore>,
}

impl Readers {
    /// A thread per connection, each taking the next read from one queue. They end when the
    /// store is dropped (the queue closes) and close their connections.
    pub(super) fn start(connections: Vec<Connection>) -> std::io::Result<Readers> {
        let slots = Arc::new(Semaphore::new(connections.len()));
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for (n, conn) in connections.into_iter().enumerate() {
            let queue = queue.clone();
            std::thread::Builder::new().name(format!("otelbox-read-{n}")).spawn(move || loop {
                let next = match queue.lock() {
                    Ok(queue) => queue.recv(),
                    Err(_) => return,
                };
                match next {
                    Ok(job) => job(&conn),
                    Err(_) => return,
                }
            })?;
        }
        Ok(Readers { jobs, slots })
    }

    /// Run `f` on a free connection. A read whose caller has gone still runs to its end (its
    /// connection is busy until then), and a read that panics leaves its thread and connection
    /// in service, answering `StoreError::Closed`.
    pub(super) async fn run<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        // The permit moves into the job: a caller that disconnects mid-query must not free a
        // slot whose connection is still in use.
        let slot = self.slots.clone().acquire_owned().await.map_err(|_| StoreError::Closed)?;
        let (answer, result) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _slot = slot;
            if let Ok(outcome) = std::panic::catch_unwind(AssertUnwindSafe(|| f(conn))) {
                let _ = answer.send(outcome);
            }
        });
        self.jobs.send(job).map_err(|_| StoreError::Closed)?;
        result.await.map_err(|_| StoreError::Closed)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readers(n: usize) -> Readers {
        Readers::start((0..n).map(|_| Connection::open_in_memory().unwrap()).collect()).unwrap()
    }

    #[tokio::test]
    async fn a_read_that_panics_leaves_every_connection_in_service() {
        let readers = readers(1);
        let panicked = readers.run(|_| -> Result<(), StoreError> { panic!("a bug in a query") }).await;
        assert!(matches!(panicked, Err(StoreError::Closed)), "{panicked:?}");
        let answer = readers
            .run(|conn| Ok(conn.query_row("SELECT 6 * 7", [], |r| r.get::<_, i64>(0)).unwrap()))
            .await
            .unwrap();
        assert_eq!(answer, 42, "the one connection still answers");
    }

    #[tokio::test]
    async fn reads_run_side_by_side_up_to_the_connections_and_no_further() {
        let readers = Arc::new(readers(2));
        let running = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let reads = (0..6).map(|_| {
            let (readers, running, most) = (readers.clone(), running.clone(), most.clone());
            tokio::spawn(async move {
                readers
                    .run(move |_| {
                        let now = running.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                        most.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(30));
                        running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                        Ok(())
                    })
                    .await
            })
        });
        for read in futures::future::join_all(reads).await {
            read.unwrap().unwrap();
        }
        assert_eq!(most.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
