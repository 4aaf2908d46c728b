//! LLM runs, sessions, models and agents, aggregated from `llm_spans` (the LLM and agent spans of every
//! dialect, normalized by `crate::llm` when they were written). The run page's calls are normalized again
//! from the stored spans and their trace's log records, to read their messages, which `llm_spans` does
//! not keep.

use super::blocks::id_condition;
use super::read::{search_logs, search_traces_counted, trace_spans, LogQuery, TimeRange, Total, TraceQuery, TraceSummary, Values};
use super::rows::CostSource as StoredCostSource;
use super::schema::span_in_trace;
use super::sql::{compile, ResourceAttrs, SqlFilter, Target};
use super::stats::nearest_rank;
use super::StoreError;
use crate::llm::detect::{self, Flag, Step, StepKind};
use crate::llm::{Dialect, LlmSpan, Operation, SpanMessages};

use crate::query::filter::{CmpOp, Expr, Field, Literal};
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection, OptionalExtension};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A run's spans read at most: a run page of more is cut (and says so by its span count).
pub const MAX_RUN_SPANS: usize = 20_000;
/// `llm_spans` rows a sessions, models or agents page reads at most, the newest first.
pub const MAX_WINDOW_ROWS: usize = 200_000;

/// Token counts under OTel's rule (input includes cache reads and writes, output includes reasoning).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LlmTokens {
    pub input: i64,
    pub output: i64,
    pub cache_read: i64,
    pub cache_creation: i64,
    pub reasoning: i64,
}

impl LlmTokens {
    fn add(&mut self, other: &LlmTokens) {
        self.input = self.input.saturating_add(other.input);
        self.output = self.output.saturating_add(other.output);
        self.cache_read = self.cache_read.saturating_add(other.cache_read);
        self.cache_creation = self.cache_creation.saturating_add(other.cache_creation);
        self.reasoning = self.reasoning.saturating_add(other.reasoning);
    }

    fn is_zero(&self) -> bool {
        *self == LlmTokens::default()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CostSource {
    /// Every cost was sent by the instrumentation.
    Reported,
    /// Every cost was computed from a price table.
    Computed,
    Mixed,
}

impl CostSource {
    pub fn as_str(self) -> &'static str {
        match self {
            CostSource::Reported => "reported",
            CostSource::Computed => "computed",
            CostSource::Mixed => "mixed",
        }
    }
}

/// A sum of costs, saying where they came from.
#[derive(Clone, Debug, PartialEq)]
pub struct LlmCost {
    pub usd: f64,
    pub source: CostSource,
    /// The price table of the computed costs ("" when none was computed).
    pub table: String,
    /// Model calls with tokens but no cost (a model the table does not list).
    pub unpriced_calls: i64,
}

/// One call's cost as stored: `reported:<attribute>` or `computed:<price table>`.
#[derive(Clone, Debug, PartialEq)]
pub struct CallCost {
    pub usd: f64,
    pub reported: bool,
    /// The attribute (reported) or the price table (computed).
    pub from: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolUsage {
    pub name: String,
    pub calls: i64,
    pub errors: i64,
}

/// One row of `llm_spans`.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredLlmSpan {
    pub id: i64,
    pub trace_id: Vec<u8>,
    pub start_ns: i64,
    pub duration_ns: i64,
    pub operation: String,
    pub error: bool,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub tokens: LlmTokens,
    pub cost: Option<CallCost>,
    pub agent: Option<String>,
    pub session: Option<String>,
    pub user_id: Option<String>,
    pub tool: Option<String>,
    pub tool_arguments_hash: Option<i64>,
    pub dialects: Vec<String>,
}

impl StoredLlmSpan {
    fn is_model_call(&self) -> bool {
        matches!(self.operation.as_str(), "llm_call" | "embeddings")
    }
}

/// An `llm_spans` row `s` with its span `t`, which holds the trace id and the times.
const ROW_COLUMNS: &str = "s.id, t.trace_id, t.start_ns, t.end_ns - t.start_ns, s.operation, s.error, s.provider, s.model, \
     s.input_tokens, s.output_tokens, s.cache_read_tokens, s.cache_creation_tokens, s.reasoning_tokens, s.cost_usd, s.cost_source, \
     s.agent, s.session, s.user_id, s.tool, s.tool_arguments_hash, s.dialects";

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredLlmSpan> {
    let count = |i: usize| -> rusqlite::Result<i64> { Ok(r.get::<_, Option<i64>>(i)?.unwrap_or(0)) };
    let cost = match (r.get::<_, Option<f64>>(13)?, r.get::<_, Option<String>>(14)?) {
        (Some(usd), Some(source)) => Some(match StoredCostSource::decode(&source) {
            StoredCostSource::Reported { key } => CallCost {
                usd,
                reported: true,
                from: key,
            },
            StoredCostSource::Computed { table } => CallCost {
                usd,
                reported: false,
                from: table,
            },
        }),
        _ => None,
    };
    Ok(StoredLlmSpan {
        id: r.get(0)?,
        trace_id: r.get(1)?,
        start_ns: r.get(2)?,
        duration_ns: r.get(3)?,
        operation: Operation::from_code(r.get(4)?).as_str().to_string(),
        error: r.get(5)?,
        provider: r.get(6)?,
        model: r.get(7)?,
        tokens: LlmTokens {
            input: count(8)?,
            output: count(9)?,
            cache_read: count(10)?,
            cache_creation: count(11)?,
            reasoning: count(12)?,
        },
        cost,
        agent: r.get(15)?,
        session: r.get(16)?,
        user_id: r.get(17)?,
        tool: r.get(18)?,
        tool_arguments_hash: r.get(19)?,
        dialects: Dialect::from_bits(r.get(20)?).into_iter().map(|d| d.as_str().to_string()).collect(),
    })
}

/// The `llm_spans` rows of one trace, in start order.
pub fn trace_rows(conn: &Connection, trace_id: &[u8]) -> Result<Vec<StoredLlmSpan>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ROW_COLUMNS} FROM spans t JOIN llm_spans s ON s.id = t.id WHERE {} ORDER BY t.start_ns, t.id LIMIT ?2",
        span_in_trace("t", "?1")
    ))?;
    let rows = stmt.query_map(rusqlite::params![trace_id, MAX_RUN_SPANS as i64], read_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// What a run adds up to, from its `llm_spans` rows in start order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunTotals {
    pub run_id: Option<String>,
    pub agent: Option<String>,
    pub session: Option<String>,
    pub user_id: Option<String>,
    pub models: BTreeSet<String>,
    pub providers: BTreeSet<String>,
    pub dialects: BTreeSet<String>,
    pub llm_calls: i64,
    pub embedding_calls: i64,
    pub tool_calls: i64,
    pub tool_errors: i64,
    /// Spans of the run's LLM telemetry with an error.
    pub errors: i64,
    pub tools: Vec<ToolUsage>,
    pub tokens: LlmTokens,
    pub cost: Option<LlmCost>,
    pub flags: Vec<Flag>,
    /// From the first row's start to the last row's end.
    pub start_ns: i64,
    pub end_ns: i64,
}

/// Costs summed, with where they came from. `None` when nothing has a cost.
#[derive(Default)]
struct CostSum {
    usd: f64,
    reported: bool,
    computed: bool,
    table: String,
    unpriced: i64,
}

impl CostSum {
    fn add(&mut self, row: &StoredLlmSpan) {
        match &row.cost {
            Some(cost) => {
                self.usd += cost.usd;
                if cost.reported {
                    self.reported = true;
                } else {
                    self.computed = true;
                    if self.table.is_empty() {
                        self.table = cost.from.clone();
                    }
                }
            }
            None if row.is_model_call() && !row.tokens.is_zero() => self.unpriced += 1,
            None => {}
        }
    }

    fn merge(&mut self, other: Option<&LlmCost>) {
        let Some(other) = other else { return };
        self.usd += other.usd;
        self.reported |= matches!(other.source, CostSource::Reported | CostSource::Mixed);
        self.computed |= matches!(other.source, CostSource::Computed | CostSource::Mixed);
        if self.table.is_empty() {
            self.table = other.table.clone();
        }
        self.unpriced += other.unpriced_calls;
    }

    fn priced(&self) -> bool {
        self.reported || self.computed
    }

    fn finish(self) -> Option<LlmCost> {
        let source = match (self.reported, self.computed) {
            (true, true) => CostSource::Mixed,
            (true, false) => CostSource::Reported,
            (false, true) => CostSource::Computed,
            (false, false) => return None,
        };
        Some(LlmCost {
            usd: self.usd,
            source,
            table: self.table,
            unpriced_calls: self.unpriced,
        })
    }
}

impl RunTotals {
    /// Totals of a run's rows (in start order). Tokens and cost are the model calls'; agent and workflow
    /// spans' own figures (often the run's total, reported again) count only when no model call has any,
    /// so nothing is counted twice.
    pub fn of(rows: &[StoredLlmSpan]) -> RunTotals {
        let mut totals = RunTotals {
            start_ns: rows.iter().map(|r| r.start_ns).min().unwrap_or(0),
            end_ns: rows.iter().map(|r| r.start_ns.saturating_add(r.duration_ns)).max().unwrap_or(0),
            ..RunTotals::default()
        };
        let mut tools: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
        let (mut model_tokens, mut outer_tokens) = (LlmTokens::default(), LlmTokens::default());
        let (mut model_cost, mut outer_cost) = (CostSum::default(), CostSum::default());
        let mut steps = Vec::new();
        for row in rows {
            let first = |slot: &mut Option<String>, value: &Option<String>| {
                if slot.is_none() {
                    slot.clone_from(value);
                }
            };
            first(&mut totals.agent, &row.agent);
            first(&mut totals.session, &row.session);
            first(&mut totals.user_id, &row.user_id);
            totals.dialects.extend(row.dialects.iter().cloned());
            totals.errors += i64::from(row.error);
            match row.operation.as_str() {
                "llm_call" | "embeddings" => {
                    if row.operation == "llm_call" {
                        totals.llm_calls += 1;
                    } else {
                        totals.embedding_calls += 1;
                    }
                    totals.models.extend(row.model.clone());
                    totals.providers.extend(row.provider.clone());
                    model_tokens.add(&row.tokens);
                    model_cost.add(row);
                    steps.push(Step {
                        kind: StepKind::Model,
                        target: row.model.clone().unwrap_or_default(),
                        arguments: None,
                        failed: row.error,
                    });
                }
                "tool" => {
                    let name = row.tool.as_deref().unwrap_or("");
                    totals.tool_calls += 1;
                    totals.tool_errors += i64::from(row.error);
                    let usage = tools.entry(name).or_default();
                    usage.0 += 1;
                    usage.1 += i64::from(row.error);
                    steps.push(Step {
                        kind: StepKind::Tool,
                        target: name.to_string(),
                        arguments: row.tool_arguments_hash,
                        failed: row.error,
                    });
                }
                _ => {
                    totals.providers.extend(row.provider.clone());
                    outer_tokens.add(&row.tokens);
                    outer_cost.add(row);
                }
            }
        }
        totals.tokens = if model_tokens.is_zero() { outer_tokens } else { model_tokens };
        totals.cost = if model_cost.priced() {
            model_cost.finish()
        } else {
            outer_cost.finish()
        };
        let mut tools: Vec<ToolUsage> = tools
            .into_iter()
            .map(|(name, (calls, errors))| ToolUsage {
                name: name.to_string(),
                calls,
                errors,
            })
            .collect();
        tools.sort_by(|a, b| b.calls.cmp(&a.calls).then_with(|| a.name.cmp(&b.name)));
        totals.tools = tools;
        totals.flags = detect::flags(&steps);
        totals
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct LlmRun {
    pub trace: TraceSummary,
    pub totals: RunTotals,
}

/// What a runs search asks for besides its filters.
#[derive(Clone, Debug, Default)]
pub struct RunQuery {
    /// Each filter must be matched by some span of the run, not necessarily the same one: a run with a
    /// `gpt-4o` call and a failed tool matches `model = gpt-4o` and `status = error`.
    pub filters: Vec<SqlFilter>,
    pub run_id: Option<String>,
    pub session: Option<String>,
}

/// LLM runs, newest first: traces starting in the window that hold a span of an LLM dialect (a row of
/// `llm_spans`) and satisfy every filter.
pub fn llm_runs(
    conn: &Connection,
    resources: &dyn ResourceAttrs,
    query: &RunQuery,
    range: TimeRange,
    limit: usize,
) -> Result<Vec<LlmRun>, StoreError> {
    Ok(llm_runs_counted(conn, resources, query, range, limit, false)?.0)
}

/// `llm_runs`, and how many runs match in all (as `read::search_traces_counted`: exact when the
/// page has room, counted up to `read::TOTAL_CAP` when `count`).
pub fn llm_runs_counted(
    conn: &Connection,
    resources: &dyn ResourceAttrs,
    query: &RunQuery,
    range: TimeRange,
    limit: usize,
    count: bool,
) -> Result<(Vec<LlmRun>, Option<Total>), StoreError> {
    let mut also_matching = vec![has_llm_row("", Vec::new())];
    if let Some(session) = &query.session {
        also_matching.push(has_llm_row("AND l.session = ?", vec![Value::Text(session.clone())]));
    }
    // Through the attribute index: the run id as sent, or JSON-encoded as MLflow sends every value.
    if let Some(run_id) = &query.run_id {
        let equals = |value: String| Expr::Compare {
            field: Field::Attribute(RUN_ID.into()),
            op: CmpOp::Eq,
            value: Literal::Str(value),
        };
        let quoted = serde_json::Value::String(run_id.clone()).to_string();
        let either = Expr::Or(Box::new(equals(run_id.clone())), Box::new(equals(quoted)));
        also_matching.push(compile(&either, Target::Spans, resources).expect("attribute equalities always compile"));
    }
    let mut filters = query.filters.iter();
    let first = filters.next().cloned().unwrap_or_else(SqlFilter::everything);
    also_matching.extend(filters.cloned());
    let trace_query = TraceQuery {
        also_matching,
        ..Default::default()
    };
    let (traces, total) = search_traces_counted(conn, &first, &trace_query, range, limit, count)?;
    let runs = traces
        .into_iter()
        .map(|trace| {
            let rows = trace_rows(conn, &trace.trace_id)?;
            Ok(LlmRun {
                totals: run_totals(conn, &trace.trace_id, &rows)?,
                trace,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok((runs, total))
}

/// The plain scheme's run id key.
const RUN_ID: &str = "run_id";

/// A run's totals with its run id: the first `run_id` attribute among its spans in start order (on an
/// LLM span or not: the plain scheme's run root speaks no LLM convention), JSON-decoded when MLflow
/// encoded it.
pub fn run_totals(conn: &Connection, trace_id: &[u8], rows: &[StoredLlmSpan]) -> Result<RunTotals, StoreError> {
    let mut totals = RunTotals::of(rows);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT otelbox_attr(s.attrs, '{RUN_ID}') AS v FROM spans s WHERE {} AND v IS NOT NULL ORDER BY s.start_ns, s.id LIMIT 1",
        span_in_trace("s", "?1")
    ))?;
    let value: Option<Value> = stmt.query_row([trace_id], |r| r.get(0)).optional()?;
    totals.run_id = match value {
        Some(Value::Text(text)) => Some(match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::String(decoded)) => decoded,
            _ => text,
        }),
        Some(Value::Integer(n)) => Some(n.to_string()),
        _ => None,
    };
    Ok(totals)
}

/// A span filter: the span has an `llm_spans` row satisfying `condition` (on alias `l`).
fn has_llm_row(condition: &str, params: Vec<Value>) -> SqlFilter {
    SqlFilter {
        sql: format!("EXISTS (SELECT 1 FROM llm_spans l WHERE l.id = s.id {condition})"),
        params,
        selective: false,
        full_text: None,
    }
}

/// One LLM span of a run page: its row, and the span normalized with its messages.
#[derive(Clone, Debug)]
pub struct RunCall {
    pub row: StoredLlmSpan,
    pub span: opentelemetry_proto::tonic::trace::v1::Span,
    pub service: String,
    pub llm: LlmSpan,
    /// Leading input messages already shown by an earlier call of the run.
    pub repeated_history: usize,
}

/// A run's LLM spans in start order with their messages: each span normalized again from its stored
/// attributes and events, its messages completed from the trace's log records (OTel's per-message
/// events and `gen_ai.client.inference.operation.details`).
pub fn run_calls(conn: &Connection, trace_id: &[u8]) -> Result<Vec<RunCall>, StoreError> {
    let rows = trace_rows(conn, trace_id)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let spans: HashMap<i64, _> = trace_spans(conn, trace_id, Values::Whole)?
        .into_iter()
        .map(|s| (s.row_id, s))
        .collect();
    let query = LogQuery {
        trace_id: Some(trace_id.to_vec()),
        ..Default::default()
    };
    let mut logs = search_logs(conn, &SqlFilter::everything(), &query, TimeRange::ALL, MAX_RUN_SPANS)?;
    logs.sort_by_key(|l| (l.time_ns, l.row_id));
    let mut log_messages: HashMap<Vec<u8>, SpanMessages> = HashMap::new();
    for log in &logs {
        let messages = crate::llm::messages_from_log(&log.record);
        if !messages.is_empty() {
            log_messages.entry(log.record.span_id.clone()).or_default().append(messages);
        }
    }
    let mut calls: Vec<RunCall> = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(stored) = spans.get(&row.id) else { continue };
        let Some(mut llm) = crate::llm::normalize_span(&stored.span, &stored.resource.resource.attributes) else {
            continue;
        };
        if let Some(from_logs) = log_messages.remove(&stored.span.span_id) {
            llm.messages.fill_missing_from(from_logs);
        }
        let earlier: Vec<&SpanMessages> = calls.iter().map(|c| &c.llm.messages).collect();
        let repeated_history = crate::llm::repeated_history_len(&earlier, &llm.messages.input);
        calls.push(RunCall {
            span: stored.span.clone(),
            service: stored.resource.service.clone(),
            row,
            llm,
            repeated_history,
        });
    }
    Ok(calls)
}

/// The window's `llm_spans` rows by trace, newest rows first, at most `MAX_WINDOW_ROWS`; and whether
/// that cap cut the window.
/// A run's trace id and its rows in start order.
type RunRows = (Vec<u8>, Vec<StoredLlmSpan>);

fn window_runs(conn: &Connection, range: TimeRange) -> Result<(Vec<RunRows>, bool), StoreError> {
    let (ids, mut params) = id_condition(conn, range)?;
    params.extend([
        Value::Integer(range.start),
        Value::Integer(range.end),
        Value::Integer(MAX_WINDOW_ROWS as i64 + 1),
    ]);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ROW_COLUMNS} FROM llm_spans s JOIN spans t ON t.id = s.id WHERE {ids} AND t.start_ns BETWEEN ? AND ? ORDER BY s.id DESC LIMIT ?"
    ))?;
    let mut rows: Vec<StoredLlmSpan> = stmt.query_map(params_from_iter(params), read_row)?.collect::<Result<_, _>>()?;
    let cut = rows.len() > MAX_WINDOW_ROWS;
    rows.truncate(MAX_WINDOW_ROWS);
    rows.reverse();
    let mut order: Vec<Vec<u8>> = Vec::new();
    let mut by_trace: HashMap<Vec<u8>, Vec<StoredLlmSpan>> = HashMap::new();
    for row in rows {
        let entry = by_trace.entry(row.trace_id.clone()).or_insert_with(|| {
            order.push(row.trace_id.clone());
            Vec::new()
        });
        entry.push(row);
    }
    let mut runs: Vec<RunRows> = order
        .into_iter()
        .map(|trace| {
            let mut rows = by_trace.remove(&trace).unwrap_or_default();
            rows.sort_by_key(|r| (r.start_ns, r.id));
            (trace, rows)
        })
        .collect();
    runs.reverse();
    Ok((runs, cut))
}

/// A conversation across runs: the runs whose spans carry one session (conversation) id.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LlmSession {
    pub session: String,
    pub user_id: Option<String>,
    pub runs: i64,
    pub first_start_ns: i64,
    pub last_end_ns: i64,
    pub agents: BTreeSet<String>,
    pub models: BTreeSet<String>,
    pub llm_calls: i64,
    pub tool_calls: i64,
    pub errors: i64,
    pub tokens: LlmTokens,
    pub cost: Option<LlmCost>,
}

/// Sessions with a run in the window, the latest active first.
pub fn llm_sessions(conn: &Connection, range: TimeRange, limit: usize) -> Result<(Vec<LlmSession>, bool), StoreError> {
    let (runs, cut) = window_runs(conn, range)?;
    let mut sessions: HashMap<String, (LlmSession, CostSum)> = HashMap::new();
    for (_, rows) in &runs {
        let totals = RunTotals::of(rows);
        let Some(id) = totals.session.clone() else { continue };
        let (session, cost) = sessions.entry(id.clone()).or_insert_with(|| {
            let session = LlmSession {
                session: id,
                first_start_ns: i64::MAX,
                ..LlmSession::default()
            };
            (session, CostSum::default())
        });
        if session.user_id.is_none() {
            session.user_id.clone_from(&totals.user_id);
        }
        session.runs += 1;
        session.first_start_ns = session.first_start_ns.min(totals.start_ns);
        session.last_end_ns = session.last_end_ns.max(totals.end_ns);
        session.agents.extend(totals.agent.clone());
        session.models.extend(totals.models.iter().cloned());
        session.llm_calls += totals.llm_calls;
        session.tool_calls += totals.tool_calls;
        session.errors += totals.errors;
        session.tokens.add(&totals.tokens);
        cost.merge(totals.cost.as_ref());
    }
    let mut sessions: Vec<LlmSession> = sessions
        .into_values()
        .map(|(mut session, cost)| {
            session.cost = cost.finish();
            session
        })
        .collect();
    sessions.sort_by(|a, b| b.last_end_ns.cmp(&a.last_end_ns).then_with(|| a.session.cmp(&b.session)));
    sessions.truncate(limit);
    Ok((sessions, cut))
}

/// Latency percentiles of a list of durations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Latency {
    pub p50_ns: i64,
    pub p95_ns: i64,
}

fn latency(mut durations: Vec<i64>) -> Latency {
    durations.sort_unstable();
    Latency {
        p50_ns: nearest_rank(&durations, 50),
        p95_ns: nearest_rank(&durations, 95),
    }
}

/// One model's calls in the window.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelUsage {
    pub model: String,
    pub provider: Option<String>,
    pub calls: i64,
    pub errors: i64,
    pub latency: Latency,
    /// Output tokens over the time spent in the calls that produced them.
    pub output_tokens_per_second: f64,
    pub tokens: LlmTokens,
    pub cost: Option<LlmCost>,
}

/// One agent's runs in the window (a run's agent is the first agent name among its spans).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentUsage {
    pub agent: String,
    pub runs: i64,
    pub llm_calls: i64,
    pub tool_calls: i64,
    pub tool_errors: i64,
    pub errors: i64,
    /// Of the runs, from their first LLM span's start to their last one's end.
    pub latency: Latency,
    pub tokens: LlmTokens,
    pub cost: Option<LlmCost>,
}

/// Models and agents in the window, the most called first; and whether `MAX_WINDOW_ROWS` cut it.
pub fn llm_models(conn: &Connection, range: TimeRange) -> Result<(Vec<ModelUsage>, Vec<AgentUsage>, bool), StoreError> {
    let (runs, cut) = window_runs(conn, range)?;
    #[derive(Default)]
    struct ModelAcc {
        usage: ModelUsage,
        durations: Vec<i64>,
        cost: CostSum,
        output_time_ns: i64,
    }
    let mut models: HashMap<String, ModelAcc> = HashMap::new();
    #[derive(Default)]
    struct AgentAcc {
        usage: AgentUsage,
        durations: Vec<i64>,
        cost: CostSum,
    }
    let mut agents: HashMap<String, AgentAcc> = HashMap::new();
    for (_, rows) in &runs {
        for row in rows.iter().filter(|r| r.is_model_call()) {
            let name = row.model.clone().unwrap_or_default();
            let acc = models.entry(name.clone()).or_insert_with(|| ModelAcc {
                usage: ModelUsage {
                    model: name,
                    ..ModelUsage::default()
                },
                ..ModelAcc::default()
            });
            if acc.usage.provider.is_none() {
                acc.usage.provider.clone_from(&row.provider);
            }
            acc.usage.calls += 1;
            acc.usage.errors += i64::from(row.error);
            acc.usage.tokens.add(&row.tokens);
            acc.durations.push(row.duration_ns);
            if row.tokens.output > 0 {
                acc.output_time_ns = acc.output_time_ns.saturating_add(row.duration_ns);
            }
            acc.cost.add(row);
        }
        let totals = RunTotals::of(rows);
        let Some(agent) = totals.agent.clone() else { continue };
        let acc = agents.entry(agent.clone()).or_insert_with(|| AgentAcc {
            usage: AgentUsage {
                agent,
                ..AgentUsage::default()
            },
            ..AgentAcc::default()
        });
        acc.usage.runs += 1;
        acc.usage.llm_calls += totals.llm_calls;
        acc.usage.tool_calls += totals.tool_calls;
        acc.usage.tool_errors += totals.tool_errors;
        acc.usage.errors += totals.errors;
        acc.usage.tokens.add(&totals.tokens);
        acc.durations.push(totals.end_ns.saturating_sub(totals.start_ns));
        acc.cost.merge(totals.cost.as_ref());
    }
    let mut models: Vec<ModelUsage> = models
        .into_values()
        .map(|acc| {
            let mut usage = acc.usage;
            usage.latency = latency(acc.durations);
            usage.output_tokens_per_second = if acc.output_time_ns > 0 {
                usage.tokens.output as f64 / (acc.output_time_ns as f64 / 1e9)
            } else {
                0.0
            };
            usage.cost = acc.cost.finish();
            usage
        })
        .collect();
    models.sort_by(|a, b| b.calls.cmp(&a.calls).then_with(|| a.model.cmp(&b.model)));
    let mut agents: Vec<AgentUsage> = agents
        .into_values()
        .map(|acc| {
            let mut usage = acc.usage;
            usage.latency = latency(acc.durations);
            usage.cost = acc.cost.finish();
            usage
        })
        .collect();
    agents.sort_by(|a, b| b.runs.cmp(&a.runs).then_with(|| a.agent.cmp(&b.agent)));
    Ok((models, agents, cut))
}
