//! The filter language: the parser and typed expression (`filter`) shared by the API's `q=`, the
//! CLI's `--where`/`assert` and the UI's search box. It knows no tables: the store compiles an
//! expression to SQL (`store::sql`).

pub mod filter;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FilterError {
    #[error("invalid filter: {0}")]
    Syntax(#[from] filter::ParseError),
    #[error("invalid filter: {0}")]
    Semantic(String),
}
