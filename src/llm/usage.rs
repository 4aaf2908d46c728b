//! Token counts and reported cost: the keys each convention states them under, and how their meanings
//! are brought to one (OTel's: input includes cached tokens, output includes reasoning; nothing counted twice).

use super::attributes::{json_amount, json_as_count, json_count, Attributes};
use super::model::{ReportedCost, TokenUsage};
use serde_json::Value;

// ---------------------------------------------------------------------------
// Tokens
//
// Every flat key below is read under OTel's rule: input includes cached tokens, output includes reasoning
// tokens. OpenAI's own usage counts that way, and the conventions say so (OTel's registry, OpenInference's
// prompt count, the Vercel AI SDK since v5, whose `inputTokenDetails.noCacheTokens` is the uncached part);
// an instrumentation that passes Anthropic's usage through unchanged (its `input_tokens` leaves the cache
// out) is caught by `include_parts_counted_apart` where the numbers show it. Each count reads its first
// key present, so a span that states a count twice (current and deprecated OTel, Vercel's `ai.*` and
// `gen_ai.*` twins, OpenInference with its GenAI switch) counts it once.

const INPUT_TOKENS: &[&str] = &[
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
    "ai.usage.inputTokens",
    "ai.usage.promptTokens",
    "llm.usage.prompt_tokens",
    "llm.tokens_in",
];
const OUTPUT_TOKENS: &[&str] = &[
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
    "ai.usage.outputTokens",
    "ai.usage.completionTokens",
    "llm.usage.completion_tokens",
    "llm.tokens_out",
];
const CACHE_READ_TOKENS: &[&str] = &[
    "gen_ai.usage.cache_read.input_tokens",
    // Traceloop before semconv-ai 0.5.
    "gen_ai.usage.cache_read_input_tokens",
    "llm.token_count.prompt_details.cache_read",
    "ai.usage.inputTokenDetails.cacheReadTokens",
    "ai.usage.cachedInputTokens",
    // OpenLIT.
    "gen_ai.usage.prompt_tokens_details.cache_read",
];
const CACHE_CREATION_TOKENS: &[&str] = &[
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "llm.token_count.prompt_details.cache_write",
    "ai.usage.inputTokenDetails.cacheWriteTokens",
    "gen_ai.usage.prompt_tokens_details.cache_write",
];
const REASONING_TOKENS: &[&str] = &[
    "gen_ai.usage.reasoning.output_tokens",
    // OpenLIT.
    "gen_ai.usage.reasoning_tokens",
    "gen_ai.usage.completion_tokens_details.reasoning",
    "llm.token_count.completion_details.reasoning",
    "ai.usage.outputTokenDetails.reasoningTokens",
    "ai.usage.reasoningTokens",
];

pub(crate) fn tokens(attributes: &Attributes<'_>) -> TokenUsage {
    let mut tokens = TokenUsage {
        input: attributes.first_count(INPUT_TOKENS),
        output: attributes.first_count(OUTPUT_TOKENS),
        cache_read: attributes.first_count(CACHE_READ_TOKENS),
        cache_creation: attributes.first_count(CACHE_CREATION_TOKENS),
        reasoning: attributes.first_count(REASONING_TOKENS),
    };
    for reported in [mlflow_token_usage(attributes), langfuse_usage_details(attributes)]
        .into_iter()
        .flatten()
    {
        tokens.input = tokens.input.or(reported.input);
        tokens.output = tokens.output.or(reported.output);
        tokens.cache_read = tokens.cache_read.or(reported.cache_read);
        tokens.cache_creation = tokens.cache_creation.or(reported.cache_creation);
        tokens.reasoning = tokens.reasoning.or(reported.reasoning);
    }
    include_parts_counted_apart(&mut tokens);
    tokens
}

/// `mlflow.chat.tokenUsage`: `{input_tokens, output_tokens, total_tokens, cache_read_input_tokens,
/// cache_creation_input_tokens}`, input including the cache.
fn mlflow_token_usage(attributes: &Attributes<'_>) -> Option<TokenUsage> {
    let usage = attributes.json("mlflow.chat.tokenUsage")?;
    Some(TokenUsage {
        input: json_count(&usage, "input_tokens"),
        output: json_count(&usage, "output_tokens"),
        cache_read: json_count(&usage, "cache_read_input_tokens"),
        cache_creation: json_count(&usage, "cache_creation_input_tokens"),
        reasoning: None,
    })
}

/// `langfuse.observation.usage_details`: usage types that do not overlap (Langfuse's SDKs take cached
/// tokens out of `input` and reasoning out of `output`, so its prices add up), hence each side is the sum
/// of its types: `input`, `input_cached_tokens`, `cache_read_input_tokens` are all input.
fn langfuse_usage_details(attributes: &Attributes<'_>) -> Option<TokenUsage> {
    let Value::Object(details) = attributes.json("langfuse.observation.usage_details")? else {
        return None;
    };
    let mut usage = TokenUsage::default();
    for (kind, value) in &details {
        let Some(count) = json_as_count(value) else {
            continue;
        };
        let kind = kind.to_ascii_lowercase();
        if kind.contains("total") {
            continue;
        }
        if kind.contains("input") || kind.contains("prompt") {
            add(&mut usage.input, count);
            if kind.contains("cache_read") || kind.contains("cached") {
                add(&mut usage.cache_read, count);
            } else if kind.contains("cache_creation") || kind.contains("cache_write") {
                add(&mut usage.cache_creation, count);
            }
        } else if kind.contains("output") || kind.contains("completion") || kind.contains("reasoning") {
            add(&mut usage.output, count);
            if kind.contains("reasoning") {
                add(&mut usage.reasoning, count);
            }
        }
    }
    Some(usage)
}

fn add(total: &mut Option<u64>, count: u64) {
    *total = Some(total.unwrap_or(0).saturating_add(count));
}

/// An input smaller than its own cached part cannot include it: that source counted only the uncached
/// input, as Anthropic's raw usage does, so the cached parts are added. Likewise reasoning beyond the output.
/// (A source that counts apart but whose uncached input is the larger part cannot be told from the rule.)
fn include_parts_counted_apart(tokens: &mut TokenUsage) {
    let cached = tokens.cache_read.unwrap_or(0).saturating_add(tokens.cache_creation.unwrap_or(0));
    if let Some(input) = tokens.input.filter(|&input| input < cached) {
        tokens.input = Some(input.saturating_add(cached));
    }
    let reasoning = tokens.reasoning.unwrap_or(0);
    if let Some(output) = tokens.output.filter(|&output| output < reasoning) {
        tokens.output = Some(output.saturating_add(reasoning));
    }
}

// ---------------------------------------------------------------------------
// Reported cost

#[derive(Clone, Copy)]
enum CostSource {
    /// A number of USD.
    Amount(&'static str),
    /// A JSON object of USD amounts: its total, else the sum of its parts.
    Breakdown(&'static str),
    /// Two numbers to add, reported under `label`.
    Sum { keys: [&'static str; 2], label: &'static str },
}

/// Langfuse's order first (its cost details, then OpenLIT's and Laminar's `gen_ai.usage.cost`, then
/// OpenInference's total), then the others.
const COST_SOURCES: &[CostSource] = &[
    CostSource::Breakdown("langfuse.observation.cost_details"),
    CostSource::Amount("gen_ai.usage.cost"),
    CostSource::Amount("llm.cost.total"),
    CostSource::Breakdown("mlflow.llm.cost"),
    // Logfire, from pydantic's genai-prices.
    CostSource::Amount("operation.cost"),
    CostSource::Amount("llm.cost_usd"),
    CostSource::Sum {
        keys: ["gen_ai.usage.input_cost", "gen_ai.usage.output_cost"],
        label: "gen_ai.usage.input_cost+gen_ai.usage.output_cost",
    },
    CostSource::Sum {
        keys: ["llm.cost.prompt", "llm.cost.completion"],
        label: "llm.cost.prompt+llm.cost.completion",
    },
];

pub(crate) fn reported_cost(attributes: &Attributes<'_>) -> Option<ReportedCost> {
    COST_SOURCES.iter().find_map(|&source| match source {
        CostSource::Amount(key) => Some(ReportedCost {
            usd: attributes.amount(key)?,
            key,
        }),
        CostSource::Breakdown(key) => Some(ReportedCost {
            usd: breakdown_total(&attributes.json(key)?)?,
            key,
        }),
        CostSource::Sum {
            keys: [first, second],
            label,
        } => {
            let (first, second) = (attributes.amount(first), attributes.amount(second));
            if first.is_none() && second.is_none() {
                return None;
            }
            Some(ReportedCost {
                usd: first.unwrap_or(0.0) + second.unwrap_or(0.0),
                key: label,
            })
        }
    })
}

/// MLflow's `{input_cost, output_cost, total_cost}`, Langfuse's `{input, output, …, total}`, or a number.
fn breakdown_total(breakdown: &Value) -> Option<f64> {
    let Value::Object(parts) = breakdown else {
        return json_amount(breakdown);
    };
    if let Some(total) = ["total", "total_cost"].iter().find_map(|key| parts.get(*key).and_then(json_amount)) {
        return Some(total);
    }
    let amounts: Vec<f64> = parts.values().filter_map(json_amount).collect();
    (!amounts.is_empty()).then(|| amounts.iter().sum::<f64>())
}
