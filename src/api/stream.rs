//! The live tails: spans and log records as server-sent events, as they are committed.

use super::wire::StreamParams;
use super::{convert, filter_with_service, non_empty, ApiError, ApiQuery, ApiState};
use crate::store::read;
use crate::store::sql::{SqlFilter, Target};
use crate::store::{Store, StoreError};
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::Stream;
use std::collections::VecDeque;
use std::sync::Arc;

/// Largest batch one poll of a live tail reads.
const STREAM_BATCH: usize = 500;

pub(super) async fn stream_spans(
    State(state): State<Arc<ApiState>>,
    ApiQuery(params): ApiQuery<StreamParams>,
) -> Result<Response, ApiError> {
    let filter = filter_with_service(&state, params.q.as_deref(), non_empty(&params.service), Target::Spans)?;
    Ok(live_tail(
        state.store.clone(),
        filter,
        |c| c.span_id,
        |conn, filter, after, upto| {
            let spans = read::spans_after(conn, filter, after, upto, STREAM_BATCH)?;
            let last = spans.last().map(|s| s.row_id);
            Ok((
                spans
                    .iter()
                    .map(|s| serde_json::to_string(&convert::span(s)).unwrap_or_default())
                    .collect(),
                last,
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
        state.store.clone(),
        filter,
        |c| c.log_id,
        |conn, filter, after, upto| {
            let logs = read::logs_after(conn, filter, after, upto, STREAM_BATCH)?;
            let last = logs.last().map(|l| l.row_id);
            Ok((
                logs.iter()
                    .map(|l| serde_json::to_string(&convert::log(l)).unwrap_or_default())
                    .collect(),
                last,
            ))
        },
    )
    .into_response())
}

type TailFetch = fn(&rusqlite::Connection, &SqlFilter, i64, i64) -> Result<(Vec<String>, Option<i64>), StoreError>;

/// Server-sent events of rows committed after the client connected: wake on each commit, read the
/// rows in (cursor, committed] through the same filter SQL as the search endpoints, one event each.
fn live_tail(
    store: Arc<Store>,
    filter: SqlFilter,
    cursor: fn(&crate::store::writer::Committed) -> i64,
    fetch: TailFetch,
) -> Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>> {
    let mut committed = store.committed();
    let start = cursor(&committed.borrow_and_update());
    let filter = Arc::new(filter);
    let stream = futures::stream::unfold(
        (VecDeque::<String>::new(), start, committed),
        move |(mut pending, mut after, mut committed)| {
            let store = store.clone();
            let filter = filter.clone();
            async move {
                loop {
                    if let Some(item) = pending.pop_front() {
                        return Some((Ok(Event::default().data(item)), (pending, after, committed)));
                    }
                    let upto = cursor(&committed.borrow_and_update());
                    if upto <= after {
                        if committed.changed().await.is_err() {
                            return None;
                        }
                        continue;
                    }
                    let f = filter.clone();
                    match store.read(move |conn| fetch(conn, &f, after, upto)).await {
                        Ok((items, last)) => {
                            // A full batch may have more behind it; otherwise everything up to `upto` was seen.
                            after = if items.len() >= STREAM_BATCH { last.unwrap_or(upto) } else { upto };
                            pending.extend(items);
                        }
                        Err(_) => return None,
                    }
                }
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}
