//! The live tails: spans and log records as server-sent events, as they are committed, read once
//! per signal and filter however many follow them.

use super::wire::StreamParams;
use super::{convert, filter_with_service, non_empty, ApiError, ApiQuery, ApiState};
use crate::store::read;
use crate::store::sql::{SqlFilter, Target};
use crate::store::writer::Committed;
use crate::store::{Store, StoreError};
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::Stream;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::{broadcast, Semaphore};

/// Rows one read of a live tail shows at most: the newest of those committed since the last read.
/// With `TAIL_INTERVAL` that is 50 a second, more than anyone reads; beyond it rows are skipped
/// (the tail says so), so that following 200,000 spans a second costs the writer next to nothing.
const TAIL_ROWS: usize = 25;

pub(super) async fn stream_spans(
    State(state): State<Arc<ApiState>>,
    ApiQuery(params): ApiQuery<StreamParams>,
) -> Result<Response, ApiError> {
    let filter = filter_with_service(&state, params.q.as_deref(), non_empty(&params.service), Target::Spans)?;
    Ok(live_tail(
        &state,
        "spans",
        filter,
        |c| c.span_id,
        |conn, filter, after, upto| {
            let spans = read::newest_spans_after(conn, filter, after, upto, TAIL_ROWS + 1)?;
            Ok(TailBatch::of(
                spans
                    .iter()
                    .map(|s| serde_json::to_string(&convert::span(s)).unwrap_or_default())
                    .collect(),
            ))
        },
    )
    .into_response())
}

pub(super) async fn stream_logs(
    State(state): State<Arc<ApiState>>,
    ApiQuery(params): ApiQuery<StreamParams>,
) -> Result<Response, ApiError> {
    let filter = filter_with_service(&state, params.q.as_deref(), non_empty(&params.service), Target::Logs)?;
    Ok(live_tail(
        &state,
        "logs",
        filter,
        |c| c.log_id,
        |conn, filter, after, upto| {
            let logs = read::newest_logs_after(conn, filter, after, upto, TAIL_ROWS + 1)?;
            Ok(TailBatch::of(
                logs.iter()
                    .map(|l| serde_json::to_string(&convert::log(l)).unwrap_or_default())
                    .collect(),
            ))
        },
    )
    .into_response())
}

/// What one read of a tail shows: its newest rows as JSON, oldest first, and whether older ones
/// committed since the last read were left out.
pub struct TailBatch {
    items: Vec<String>,
    skipped: bool,
}

impl TailBatch {
    /// From up to `TAIL_ROWS + 1` rows, oldest first: one more than shown means some were skipped.
    fn of(mut items: Vec<String>) -> Self {
        let skipped = items.len() > TAIL_ROWS;
        if skipped {
            items.drain(..items.len() - TAIL_ROWS);
        }
        TailBatch { items, skipped }
    }
}

/// Reads the tail's rows in (after, upto] through its filter.
type TailFetch = fn(&rusqlite::Connection, &SqlFilter, i64, i64) -> Result<TailBatch, StoreError>;

/// Least time between two reads of one tail: under load commits come hundreds of times a second,
/// and reading after each, per subscriber, cut ingest by three quarters with 200 tails. Twice a
/// second is as often as the UI's live views redraw.
const TAIL_INTERVAL: Duration = Duration::from_millis(500);
/// Batches a subscriber may fall behind before it skips (and is told so).
const TAIL_BACKLOG: usize = 64;

/// The live tails being served. Subscribers with the same signal and filter share one tail (one
/// read per `TAIL_INTERVAL`, broadcast to all of them), and tails read one at a time: however many
/// watch, they cost the writer about one reader's share.
pub struct Tails {
    hubs: Mutex<HashMap<String, Weak<Hub>>>,
    reading: Arc<Semaphore>,
    /// Store reads made for tails so far.
    reads: Arc<std::sync::atomic::AtomicU64>,
}

impl Default for Tails {
    fn default() -> Self {
        Tails {
            hubs: Mutex::new(HashMap::new()),
            reading: Arc::new(Semaphore::new(1)),
            reads: Default::default(),
        }
    }
}

/// One shared tail: its subscribers hold it; its task stops once none is left.
struct Hub {
    events: broadcast::Sender<Arc<TailBatch>>,
}

impl Tails {
    /// A subscription to the tail of `signal` through `filter`, started if nobody follows it yet.
    fn subscribe(
        &self,
        store: &Arc<Store>,
        signal: &'static str,
        filter: SqlFilter,
        cursor: fn(&Committed) -> i64,
        fetch: TailFetch,
    ) -> (Arc<Hub>, broadcast::Receiver<Arc<TailBatch>>) {
        let key = format!("{signal}|{}|{:?}", filter.sql, filter.params);
        let mut hubs = self.hubs.lock().unwrap_or_else(|e| e.into_inner());
        hubs.retain(|_, hub| hub.strong_count() > 0);
        if let Some(hub) = hubs.get(&key).and_then(Weak::upgrade) {
            let events = hub.events.subscribe();
            return (hub, events);
        }
        let (sender, events) = broadcast::channel(TAIL_BACKLOG);
        let hub = Arc::new(Hub { events: sender.clone() });
        hubs.insert(key, Arc::downgrade(&hub));
        tokio::spawn(follow(
            store.clone(),
            Arc::new(filter),
            cursor,
            fetch,
            sender,
            self.reading.clone(),
            self.reads.clone(),
        ));
        (hub, events)
    }
}

/// A shared tail's task: after commits, at most once per `TAIL_INTERVAL`, read the newest rows in
/// (cursor, committed] through the filter (one tail at a time) and broadcast them.
async fn follow(
    store: Arc<Store>,
    filter: Arc<SqlFilter>,
    cursor: fn(&Committed) -> i64,
    fetch: TailFetch,
    events: broadcast::Sender<Arc<TailBatch>>,
    reading: Arc<Semaphore>,
    reads: Arc<std::sync::atomic::AtomicU64>,
) {
    let mut committed = store.committed();
    let mut after = cursor(&committed.borrow_and_update());
    let mut last_read = tokio::time::Instant::now();
    loop {
        if committed.changed().await.is_err() || events.receiver_count() == 0 {
            return;
        }
        tokio::time::sleep_until(last_read + TAIL_INTERVAL).await;
        let upto = cursor(&committed.borrow_and_update());
        if after < upto {
            let Ok(_turn) = reading.acquire().await else { return };
            let f = filter.clone();
            reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Ok(batch) = store.read(move |conn| fetch(conn, &f, after, upto)).await else {
                return;
            };
            after = upto;
            if !batch.items.is_empty() {
                let _ = events.send(Arc::new(batch));
            }
        }
        last_read = tokio::time::Instant::now();
    }
}

/// Server-sent events of rows committed after the client connected, one event per row, from the
/// shared tail of its signal and filter (`Tails`).
fn live_tail(
    state: &ApiState,
    signal: &'static str,
    filter: SqlFilter,
    cursor: fn(&Committed) -> i64,
    fetch: TailFetch,
) -> Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>> {
    let (hub, events) = state.tails.subscribe(&state.store, signal, filter, cursor, fetch);
    let stream = futures::stream::unfold(
        (VecDeque::<String>::new(), events, hub),
        |(mut pending, mut events, hub)| async move {
            loop {
                if let Some(item) = pending.pop_front() {
                    return Some((Ok(Event::default().data(item)), (pending, events, hub)));
                }
                match events.recv().await {
                    Ok(batch) => {
                        pending.extend(batch.items.iter().cloned());
                        if batch.skipped {
                            let note = format!(
                                "more rows arrived than a live tail shows ({} a second): older ones were skipped; search to see them all",
                                TAIL_ROWS * 2
                            );
                            return Some((Ok(Event::default().comment(note)), (pending, events, hub)));
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(skipped)) => {
                        let note = format!("{skipped} batches skipped: this client reads slower than the data arrives");
                        return Some((Ok(Event::default().comment(note)), (pending, events, hub)));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Location, StoreConfig};

    fn span_rows(conn: &rusqlite::Connection, filter: &SqlFilter, after: i64, upto: i64) -> Result<TailBatch, StoreError> {
        let spans = read::newest_spans_after(conn, filter, after, upto, TAIL_ROWS + 1)?;
        Ok(TailBatch::of(spans.iter().map(|s| s.span.name.clone()).collect()))
    }

    /// 200 subscribers of one filter share one tail: every one sees the newest spans of each read
    /// (and is told when older ones were skipped), while the store is read about once per
    /// `TAIL_INTERVAL`, not once per commit and subscriber (which cut ingest from 64.9k to 15.9k
    /// spans/s with 200 tails).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_live_tails_of_one_filter_share_one_read_per_interval() {
        let store = Store::open(StoreConfig {
            location: Location::Memory,
            retention: Default::default(),
            durable_sync: false,
        })
        .unwrap();
        let tails = Tails::default();
        let mut subscribers: Vec<_> = (0..200)
            .map(|_| tails.subscribe(&store, "spans", SqlFilter::everything(), |c| c.span_id, span_rows))
            .collect();
        let mut generator = crate::gen::Generator::new(9);
        let started = std::time::Instant::now();
        let mut last_name = String::new();
        for _ in 0..40 {
            let batch = crate::store::rows::flatten_traces(generator.traces_request(20));
            last_name = batch.spans.last().unwrap().name.clone();
            store.write_committed(batch).await.unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for (_, events) in &mut subscribers {
            let (mut shown, mut skipped) = (0, false);
            loop {
                let batch = tokio::time::timeout(Duration::from_secs(5), events.recv()).await.unwrap().unwrap();
                shown += batch.items.len();
                skipped |= batch.skipped;
                if batch.items.last() == Some(&last_name) {
                    break;
                }
            }
            assert!(skipped && shown >= TAIL_ROWS, "{shown} shown, older ones skipped: {skipped}");
        }
        let reads = tails.reads.load(std::sync::atomic::Ordering::Relaxed);
        let intervals = started.elapsed().as_millis() as u64 / TAIL_INTERVAL.as_millis() as u64 + 2;
        assert!(
            reads <= intervals,
            "{reads} reads for 40 commits and 200 subscribers in {intervals} intervals"
        );
    }
}
