//! The price table: what a model call costs by model and token type, for calls whose instrumentation
//! reports no cost. One table ships in the binary (`prices.json`, dated); a config can add or replace
//! models (`exporters.otelbox.llm_prices`). Costs computed from it say which table, so a reader can tell
//! a reported cost from an estimate.

use super::model::TokenUsage;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::OnceLock;

/// One model's prices in USD per million tokens. `cache_read` and `cache_creation` default to `input`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    /// The base name, without a date snapshot suffix: `gpt-4o-mini`, `claude-sonnet-4`.
    pub model: String,
    #[serde(default)]
    pub provider: Option<String>,
    pub input: f64,
    pub output: f64,
    #[serde(default)]
    pub cache_read: Option<f64>,
    #[serde(default)]
    pub cache_creation: Option<f64>,
}

#[derive(Deserialize)]
struct TableFile {
    table: String,
    as_of: String,
    models: Vec<ModelPrice>,
}

/// Model prices, looked up by the longest model name that begins the requested one at a word boundary.
#[derive(Clone, Debug, PartialEq)]
pub struct PriceTable {
    /// What a computed cost cites: `otelbox-prices 2026-12-01`, with `+ config` when a config changed it.
    label: String,
    /// By lowercase model name: a lookup probes the requested name cut at each boundary, longest first
    /// (every model call of the ingest path is priced).
    models: HashMap<String, ModelPrice>,
}

/// A cost computed from the table, and the table's label.
#[derive(Clone, Debug, PartialEq)]
pub struct ComputedCost {
    pub usd: f64,
    pub table: String,
}

impl PriceTable {
    /// The table shipped in this binary.
    pub fn builtin() -> &'static PriceTable {
        static BUILTIN: OnceLock<PriceTable> = OnceLock::new();
        BUILTIN.get_or_init(|| PriceTable::from_json(include_str!("prices.json")).expect("the shipped price table is valid"))
    }

    pub fn from_json(text: &str) -> Result<PriceTable, String> {
        let file: TableFile = serde_json::from_str(text).map_err(|e| format!("price table: {e}"))?;
        for price in &file.models {
            check(price)?;
        }
        Ok(PriceTable::new(format!("{} {}", file.table, file.as_of), file.models))
    }

    fn new(label: String, models: Vec<ModelPrice>) -> PriceTable {
        let models = models
            .into_iter()
            .map(|mut price| {
                price.model = price.model.to_ascii_lowercase();
                (price.model.clone(), price)
            })
            .collect();
        PriceTable { label, models }
    }

    /// This table with `entries` added, each replacing a model of the same name.
    pub fn with_overrides(&self, entries: Vec<ModelPrice>) -> Result<PriceTable, String> {
        if entries.is_empty() {
            return Ok(self.clone());
        }
        for price in &entries {
            check(price)?;
        }
        // Later entries replace earlier ones of the same name.
        let models: Vec<ModelPrice> = self.models.values().cloned().chain(entries).collect();
        Ok(PriceTable::new(format!("{} + config", self.label), models))
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn len(&self) -> usize {
        self.models.len()
    }

    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }

    /// The price of `model`, matched case-insensitively after any provider prefix (`openai/gpt-4o`,
    /// `models/gemini-2.5-pro`, Bedrock's `anthropic.claude-…`): the longest listed name that begins it
    /// and is followed by its end or a snapshot separator (`-`, `@`, `:`), so `gpt-4o-2024-08-06` is
    /// `gpt-4o` but `gpt-4o` is never `gpt-4`.
    pub fn find(&self, model: &str) -> Option<&ModelPrice> {
        let lower = model.trim().to_ascii_lowercase();
        let name = lower.rsplit('/').next().unwrap_or(&lower);
        let name = BEDROCK_VENDORS.iter().find_map(|vendor| name.strip_prefix(vendor)).unwrap_or(name);
        let boundaries = name.match_indices(['-', '@', ':']).map(|(at, _)| at).rev();
        std::iter::once(name.len())
            .chain(boundaries)
            .find_map(|end| self.models.get(&name[..end]))
    }

    /// What a call with these tokens costs, or `None` when the model is not listed or no token was
    /// counted. Tokens follow OTel's rule: input includes cache reads and writes, which are priced at their
    /// own rates, and output includes reasoning, which is billed as output.
    pub fn cost(&self, model: &str, tokens: &TokenUsage) -> Option<ComputedCost> {
        if tokens.input.is_none() && tokens.output.is_none() {
            return None;
        }
        let price = self.find(model)?;
        let cache_read = tokens.cache_read.unwrap_or(0);
        let cache_creation = tokens.cache_creation.unwrap_or(0);
        let uncached = tokens.input.unwrap_or(0).saturating_sub(cache_read).saturating_sub(cache_creation);
        let per_million = uncached as f64 * price.input
            + cache_read as f64 * price.cache_read.unwrap_or(price.input)
            + cache_creation as f64 * price.cache_creation.unwrap_or(price.input)
            + tokens.output.unwrap_or(0) as f64 * price.output;
        Some(ComputedCost {
            usd: per_million / 1_000_000.0,
            table: self.label.clone(),
        })
    }
}

/// Prefixes of Bedrock model ids (`anthropic.claude-3-5-sonnet-20240620-v1:0`), also after a region
/// (`us.anthropic.…`, cut at the last `/` first, then here).
const BEDROCK_VENDORS: &[&str] = &[
    "us.anthropic.",
    "eu.anthropic.",
    "apac.anthropic.",
    "anthropic.",
    "meta.",
    "mistral.",
    "cohere.",
    "amazon.",
];

fn check(price: &ModelPrice) -> Result<(), String> {
    let prices = [Some(price.input), Some(price.output), price.cache_read, price.cache_creation];
    if price.model.trim().is_empty() {
        return Err("price table: a model without a name".into());
    }
    if prices.into_iter().flatten().any(|p| !p.is_finite() || p < 0.0) {
        return Err(format!(
            "price table: model {}: prices must be non-negative numbers (USD per 1M tokens)",
            price.model
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> PriceTable {
        PriceTable::new(
            "test 2026-01-01".into(),
            vec![
                price("gpt-4o", 2.5, 10.0, Some(1.25), None),
                price("gpt-4o-mini", 0.15, 0.6, Some(0.075), None),
                price("gpt-4", 30.0, 60.0, None, None),
                price("claude-sonnet-4", 3.0, 15.0, Some(0.3), Some(3.75)),
            ],
        )
    }

    fn price(model: &str, input: f64, output: f64, cache_read: Option<f64>, cache_creation: Option<f64>) -> ModelPrice {
        ModelPrice {
            model: model.into(),
            provider: None,
            input,
            output,
            cache_read,
            cache_creation,
        }
    }

    fn tokens(input: u64, output: u64, cache_read: u64, cache_creation: u64, reasoning: u64) -> TokenUsage {
        TokenUsage {
            input: Some(input),
            output: Some(output),
            cache_read: Some(cache_read),
            cache_creation: Some(cache_creation),
            reasoning: Some(reasoning),
        }
    }

    #[test]
    fn the_longest_name_at_a_word_boundary_wins() {
        let table = table();
        let found = |m: &str| table.find(m).map(|p| p.model.as_str());
        assert_eq!(found("gpt-4o-mini-2024-07-18"), Some("gpt-4o-mini"));
        assert_eq!(found("gpt-4o-2024-08-06"), Some("gpt-4o"));
        assert_eq!(found("GPT-4o"), Some("gpt-4o"));
        assert_eq!(found("openai/gpt-4o-mini"), Some("gpt-4o-mini"));
        assert_eq!(found("gpt-4-0613"), Some("gpt-4"));
        assert_eq!(found("gpt-4.5-preview"), None, "gpt-4 must not price gpt-4.5");
        assert_eq!(found("us.anthropic.claude-sonnet-4-20250514-v1:0"), Some("claude-sonnet-4"));
        assert_eq!(found("claude-sonnet-4@20250514"), Some("claude-sonnet-4"));
        assert_eq!(found("llama3"), None);
    }

    #[test]
    fn cached_tokens_are_priced_apart_and_reasoning_as_output_never_twice() {
        let table = table();
        // 120 input of which 64 cached, 30 output of which 10 reasoning.
        let cost = table.cost("gpt-4o-mini-2024-07-18", &tokens(120, 30, 64, 0, 10)).unwrap();
        let expected = (56.0 * 0.15 + 64.0 * 0.075 + 30.0 * 0.6) / 1e6;
        assert!((cost.usd - expected).abs() < 1e-12, "{} vs {expected}", cost.usd);
        assert_eq!(cost.table, "test 2026-01-01");
        // Anthropic-style cache writes at their own price.
        let cost = table.cost("claude-sonnet-4-20250514", &tokens(1000, 100, 200, 300, 0)).unwrap();
        let expected = (500.0 * 3.0 + 200.0 * 0.3 + 300.0 * 3.75 + 100.0 * 15.0) / 1e6;
        assert!((cost.usd - expected).abs() < 1e-12);
        // Without cache prices, cached tokens cost the input price.
        let cost = table.cost("gpt-4", &tokens(100, 0, 50, 0, 0)).unwrap();
        assert!((cost.usd - 100.0 * 30.0 / 1e6).abs() < 1e-12);
    }

    #[test]
    fn no_tokens_or_an_unknown_model_has_no_computed_cost() {
        let table = table();
        assert_eq!(table.cost("gpt-4o", &TokenUsage::default()), None);
        assert_eq!(table.cost("my-finetune", &tokens(10, 10, 0, 0, 0)), None);
    }

    #[test]
    fn a_config_entry_replaces_the_shipped_price_and_says_so() {
        let table = table()
            .with_overrides(vec![
                price("GPT-4o", 1.0, 2.0, None, None),
                price("my-finetune", 5.0, 5.0, None, None),
            ])
            .unwrap();
        assert_eq!(table.label(), "test 2026-01-01 + config");
        assert_eq!(table.find("gpt-4o-2024-08-06").unwrap().input, 1.0);
        assert!(table.find("my-finetune-v2").is_some());
        assert_eq!(table.len(), 5);
        assert!(table.with_overrides(vec![price("x", -1.0, 0.0, None, None)]).is_err());
    }

    #[test]
    fn the_shipped_table_parses_and_prices_the_common_models() {
        let table = PriceTable::builtin();
        assert!(table.len() >= 40, "{} models", table.len());
        assert!(table.label().starts_with("otelbox-prices 20"), "{}", table.label());
        for model in [
            "gpt-4o-mini-2024-07-18",
            "gpt-4o",
            "text-embedding-3-small",
            "claude-sonnet-4-20250514",
            "gemini-2.5-flash",
        ] {
            assert!(table.find(model).is_some(), "{model} is priced");
        }
    }
}
