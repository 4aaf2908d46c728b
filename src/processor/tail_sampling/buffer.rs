//! The tail sampler's memory: spans grouped by trace while they wait for a decision, the decisions
//! already made (so late spans follow them), and the bounds that keep all of it finite.
//!
//! Bounds, and what happens at each:
//! - `num_traces` traces are held (waiting or decided). A new trace beyond that pushes out the
//!   oldest one; if it was still waiting, it is decided on the spans it has so far (the Collector
//!   drops it undecided; deciding keeps an early ERROR trace rather than losing it).
//! - `max_buffered_spans` spans wait in total. A request whose waiting spans would not fit is
//!   refused retryably before anything changes (unless nothing waits at all, so one request larger
//!   than the budget cannot be refused forever); the sender retries once decisions have freed room.
//! - `max_spans_per_trace` spans wait per trace. A trace reaching it is decided at once, so one
//!   endless trace cannot take the whole budget; its later spans follow that decision.
//! - Decided traces are remembered only while they are among the `num_traces` held, plus the two
//!   LRU decision caches (`decision_cache`), each bounded by its size.

use super::policy::{PolicySet, TraceView};
use crate::pdata::TraceId;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;
use tokio::time::Instant;

/// One trace's share of a request: its spans under copies of their resource and scope.
pub struct TracePart {
    pub id: TraceId,
    pub spans: usize,
    pub batches: Vec<ResourceSpans>,
}

/// Splits a request by trace id, keeping each span's resource, scope and schema URLs, in the order
/// traces first appear. Spans without a valid 16-byte trace id are counted and left out.
pub fn split_by_trace(data: ExportTraceServiceRequest) -> (Vec<TracePart>, usize) {
    struct Building {
        part: TracePart,
        /// The resource group and scope group the part's last batch and scope belong to.
        resource_group: usize,
        scope_group: usize,
    }
    let mut parts: Vec<Building> = Vec::new();
    let mut index: HashMap<TraceId, usize> = HashMap::new();
    let mut invalid = 0;
    let mut scope_group = 0;
    for (resource_group, resource_spans) in data.resource_spans.into_iter().enumerate() {
        let ResourceSpans {
            resource,
            scope_spans,
            schema_url,
        } = resource_spans;
        for scope_spans in scope_spans {
            scope_group += 1;
            let ScopeSpans {
                scope,
                spans,
                schema_url: scope_schema_url,
            } = scope_spans;
            for span in spans {
                let Some(id) = TraceId::from_bytes(&span.trace_id) else {
                    invalid += 1;
                    continue;
                };
                let at = *index.entry(id).or_insert_with(|| {
                    parts.push(Building {
                        part: TracePart {
                            id,
                            spans: 0,
                            batches: Vec::new(),
                        },
                        resource_group: usize::MAX,
                        scope_group: 0,
                    });
                    parts.len() - 1
                });
                let building = &mut parts[at];
                if building.resource_group != resource_group {
                    building.resource_group = resource_group;
                    building.part.batches.push(ResourceSpans {
                        resource: resource.clone(),
                        scope_spans: Vec::new(),
                        schema_url: schema_url.clone(),
                    });
                }
                let Some(batch) = building.part.batches.last_mut() else { continue };
                if building.scope_group != scope_group || batch.scope_spans.is_empty() {
                    building.scope_group = scope_group;
                    batch.scope_spans.push(ScopeSpans {
                        scope: scope.clone(),
                        spans: Vec::new(),
                        schema_url: scope_schema_url.clone(),
                    });
                }
                if let Some(scope) = batch.scope_spans.last_mut() {
                    scope.spans.push(span);
                    building.part.spans += 1;
                }
            }
        }
    }
    (parts.into_iter().map(|b| b.part).collect(), invalid)
}

/// A bounded LRU set of trace ids (the Collector's decision caches); size 0 is off.
pub struct DecisionCache {
    capacity: usize,
    stamp_of: HashMap<TraceId, u64>,
    by_stamp: BTreeMap<u64, TraceId>,
    clock: u64,
}

impl DecisionCache {
    pub fn new(capacity: usize) -> Self {
        DecisionCache {
            capacity,
            stamp_of: HashMap::new(),
            by_stamp: BTreeMap::new(),
            clock: 0,
        }
    }

    pub fn is_on(&self) -> bool {
        self.capacity > 0
    }

    /// Whether `id` is in the cache; a hit makes it the most recently used.
    pub fn hit(&mut self, id: &TraceId) -> bool {
        let Some(stamp) = self.stamp_of.get_mut(id) else {
            return false;
        };
        self.by_stamp.remove(stamp);
        self.clock += 1;
        *stamp = self.clock;
        self.by_stamp.insert(self.clock, *id);
        true
    }

    pub fn put(&mut self, id: TraceId) {
        if self.capacity == 0 || self.hit(&id) {
            return;
        }
        if self.stamp_of.len() >= self.capacity {
            if let Some((_, oldest)) = self.by_stamp.pop_first() {
                self.stamp_of.remove(&oldest);
            }
        }
        self.clock += 1;
        self.stamp_of.insert(id, self.clock);
        self.by_stamp.insert(self.clock, id);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.stamp_of.len()
    }
}

/// The memory limits (see the module docs).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub num_traces: usize,
    pub max_buffered_spans: usize,
    pub max_spans_per_trace: usize,
}

/// A trace waiting for its decision.
struct Waiting {
    spans: usize,
    batches: Vec<ResourceSpans>,
}

enum State {
    Waiting(Waiting),
    Decided { sampled: bool },
}

/// A held trace; `seq` tells this holding apart from an earlier one of the same id in the queues.
struct Held {
    seq: u64,
    state: State,
}

/// What a step produced: whole sampled traces to send on, and how many spans were not kept.
#[derive(Default)]
pub struct Released {
    /// Sampled traces (late spans of sampled traces too), each as its resource groups and span count.
    pub sampled: Vec<(Vec<ResourceSpans>, usize)>,
    /// Spans not kept (not-sampled traces, late spans of them, spans without a trace id).
    pub dropped_spans: usize,
    /// A trace started waiting while none was: the decision task must look at the new deadline.
    pub new_deadline: bool,
}

impl Released {
    fn keep(&mut self, batches: Vec<ResourceSpans>, spans: usize) {
        if spans > 0 {
            self.sampled.push((batches, spans));
        }
    }
}

/// Why a request was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The waiting spans would exceed `max_buffered_spans`.
    Full { waiting: usize, limit: usize },
    /// The processor is shutting down.
    Closed,
}

pub struct TraceBuffer {
    held: HashMap<TraceId, Held>,
    /// Every held trace, oldest first (entries whose `seq` no longer matches are stale).
    arrival: VecDeque<(TraceId, u64)>,
    /// Waiting traces by deadline, earliest first (stale entries are skipped the same way).
    due: VecDeque<(Instant, TraceId, u64)>,
    next_seq: u64,
    waiting_spans: usize,
    sampled_cache: DecisionCache,
    not_sampled_cache: DecisionCache,
    policies: PolicySet,
    decision_wait: Duration,
    limits: Limits,
    closed: bool,
    /// Set once the buffer first had to push out a waiting trace (logged once, not per trace).
    warned_full: bool,
}

impl TraceBuffer {
    pub fn new(policies: PolicySet, decision_wait: Duration, limits: Limits, caches: (usize, usize), expected_traces: usize) -> Self {
        let capacity = expected_traces.min(limits.num_traces).min(1 << 16);
        TraceBuffer {
            held: HashMap::with_capacity(capacity),
            arrival: VecDeque::with_capacity(capacity),
            due: VecDeque::with_capacity(capacity),
            next_seq: 0,
            waiting_spans: 0,
            sampled_cache: DecisionCache::new(caches.0),
            not_sampled_cache: DecisionCache::new(caches.1),
            policies,
            decision_wait,
            limits,
            closed: false,
            warned_full: false,
        }
    }

    pub fn waiting_spans(&self) -> usize {
        self.waiting_spans
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// From now on every request is refused; `decide_all` then empties the buffer.
    pub fn close(&mut self) {
        self.closed = true;
    }

    /// The earliest deadline of a waiting trace (possibly of a stale entry: an early wake is harmless).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.due.front().map(|(deadline, _, _)| *deadline)
    }

    #[cfg(test)]
    pub fn held_traces(&self) -> usize {
        self.held.len()
    }

    #[cfg(test)]
    pub fn cached_decisions(&self) -> (usize, usize) {
        (self.sampled_cache.len(), self.not_sampled_cache.len())
    }

    fn known_decision(&mut self, id: &TraceId) -> Option<bool> {
        if self.sampled_cache.hit(id) {
            return Some(true);
        }
        if self.not_sampled_cache.hit(id) {
            return Some(false);
        }
        match self.held.get(id).map(|h| &h.state) {
            Some(State::Decided { sampled }) => Some(*sampled),
            _ => None,
        }
    }

    /// Takes a request's parts: late spans of decided traces follow their decision, the others
    /// wait. Refused (with nothing changed) when closed or when the waiting spans would not fit.
    pub fn admit(&mut self, parts: Vec<TracePart>, now: Instant) -> Result<Released, Refusal> {
        if self.closed {
            return Err(Refusal::Closed);
        }
        let mut routed: Vec<(TracePart, Option<bool>)> = parts.into_iter().map(|part| (part, None)).collect();
        let mut would_wait = 0;
        for (part, decision) in &mut routed {
            *decision = self.known_decision(&part.id);
            if decision.is_none() {
                would_wait += part.spans;
            }
        }
        let waiting = self.waiting_spans.saturating_add(would_wait);
        if self.waiting_spans > 0 && waiting > self.limits.max_buffered_spans {
            return Err(Refusal::Full {
                waiting,
                limit: self.limits.max_buffered_spans,
            });
        }
        let mut released = Released::default();
        for (part, decision) in routed {
            match decision {
                Some(true) => released.keep(part.batches, part.spans),
                Some(false) => released.dropped_spans += part.spans,
                None => self.add_waiting(part, now, &mut released),
            }
        }
        self.compact();
        Ok(released)
    }

    fn add_waiting(&mut self, part: TracePart, now: Instant, released: &mut Released) {
        let id = part.id;
        if let Some(Held {
            state: State::Waiting(waiting),
            ..
        }) = self.held.get_mut(&id)
        {
            waiting.spans += part.spans;
            waiting.batches.extend(part.batches);
            self.waiting_spans += part.spans;
            if waiting.spans >= self.limits.max_spans_per_trace {
                tracing::debug!(trace_id = %id, spans = waiting.spans, "tail_sampling: trace reached the per-trace span limit; deciding it now");
                self.decide(id, now, true, released);
            }
            return;
        }
        while self.held.len() >= self.limits.num_traces {
            if !self.push_out_oldest(now, released) {
                break;
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        // A decision_wait past the clock's range (years) waits until shutdown, rather than panicking.
        let deadline = now
            .checked_add(self.decision_wait)
            .unwrap_or(now + Duration::from_secs(100 * 365 * 86_400));
        released.new_deadline |= self.due.is_empty();
        self.arrival.push_back((id, seq));
        self.due.push_back((deadline, id, seq));
        self.waiting_spans += part.spans;
        let spans = part.spans;
        self.held.insert(
            id,
            Held {
                seq,
                state: State::Waiting(Waiting {
                    spans,
                    batches: part.batches,
                }),
            },
        );
        if spans >= self.limits.max_spans_per_trace {
            self.decide(id, now, true, released);
        }
    }

    /// Frees the slot of the oldest held trace, deciding it first if it was still waiting.
    fn push_out_oldest(&mut self, now: Instant, released: &mut Released) -> bool {
        while let Some((id, seq)) = self.arrival.pop_front() {
            let Some(held) = self.held.get(&id).filter(|h| h.seq == seq) else {
                continue;
            };
            if matches!(held.state, State::Waiting(_)) {
                if !self.warned_full {
                    self.warned_full = true;
                    tracing::warn!(
                        num_traces = self.limits.num_traces,
                        "tail_sampling: num_traces traces are held, so the oldest waiting ones are decided before decision_wait; raise num_traces or lower decision_wait"
                    );
                }
                self.decide(id, now, false, released);
            }
            self.held.remove(&id);
            return true;
        }
        false
    }

    /// Evaluates the policies on a waiting trace and records the decision: in the decision
    /// caches, and (when `keep_slot` and no cache remembers it) in the held entry, so late spans
    /// follow it while the trace stays among the `num_traces` held.
    fn decide(&mut self, id: TraceId, now: Instant, keep_slot: bool, released: &mut Released) {
        let Some(held) = self.held.get_mut(&id) else { return };
        let State::Waiting(mut waiting) = std::mem::replace(&mut held.state, State::Decided { sampled: false }) else {
            return;
        };
        self.waiting_spans = self.waiting_spans.saturating_sub(waiting.spans);
        let mut view = TraceView {
            id,
            span_count: waiting.spans,
            batches: &mut waiting.batches,
        };
        let sampled = self.policies.keep(&mut view, now);
        held.state = State::Decided { sampled };
        let cache = if sampled {
            &mut self.sampled_cache
        } else {
            &mut self.not_sampled_cache
        };
        cache.put(id);
        // As in the Collector, a cached decision frees the trace's slot at once.
        if cache.is_on() || !keep_slot {
            self.held.remove(&id);
        }
        if sampled {
            released.keep(waiting.batches, waiting.spans);
        } else {
            released.dropped_spans += waiting.spans;
        }
    }

    /// Decides up to `max_traces` traces whose deadline has passed (or, with `everything`, all
    /// waiting traces); returns what they released and whether more are due.
    pub fn decide_due(&mut self, now: Instant, max_traces: usize, everything: bool) -> (Released, bool) {
        let mut released = Released::default();
        let mut decided = 0;
        while let Some(&(deadline, id, seq)) = self.due.front() {
            if !everything && deadline > now {
                break;
            }
            if decided >= max_traces {
                return (released, true);
            }
            self.due.pop_front();
            let live = self
                .held
                .get(&id)
                .is_some_and(|h| h.seq == seq && matches!(h.state, State::Waiting(_)));
            if live {
                self.decide(id, now, true, &mut released);
                decided += 1;
            }
        }
        self.compact();
        (released, false)
    }

    /// Drops stale queue entries once they outnumber the live ones, so the queues stay bounded by
    /// `num_traces` even when decisions free slots out of order.
    fn compact(&mut self) {
        let slack = self.held.len() + 1024;
        if self.arrival.len() > 2 * slack {
            let held = &self.held;
            self.arrival.retain(|(id, seq)| held.get(id).is_some_and(|h| h.seq == *seq));
        }
        if self.due.len() > 2 * slack {
            let held = &self.held;
            self.due
                .retain(|(_, id, seq)| held.get(id).is_some_and(|h| h.seq == *seq && matches!(h.state, State::Waiting(_))));
        }
    }
}
