//! The filter language: the parser and typed expression (`filter`) shared by the API's `q=`, the
//! CLI's `--where`/`assert` and the UI's search box; the words of a `~` search (`text`); conditions
//! across the spans of a trace (`trace`, for trace searches). It knows no tables: the store compiles
//! an expression to SQL (`store::sql`).

pub mod filter;
pub mod text;
pub mod trace;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FilterError {
    #[error("invalid filter: {0}")]
    Syntax(#[from] filter::ParseError),
    #[error("invalid filter: {0}")]
    Semantic(String),
}
