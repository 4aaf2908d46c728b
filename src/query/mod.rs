//! The filter language: one parser (`filter`) and one compiler to parameterised SQL (`sql`),
//! shared by the API's `q=`, the CLI's `--where`/`assert` and the UI's search box.

pub mod filter;
pub mod series;
pub mod sql;

pub use sql::{compile, AnyResourceAttrs, NoResourceAttrs, ResourceAttrs, SqlFilter, Target};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FilterError {
    #[error("invalid filter: {0}")]
    Syntax(#[from] filter::ParseError),
    #[error("invalid filter: {0}")]
    Semantic(String),
}

/// Parse and compile in one step; `None` input or an empty expression matches everything.
/// `resources` is the store's `resource_attrs()` (or `AnyResourceAttrs` when there is no store).
pub fn compile_text(text: Option<&str>, target: Target, resources: &dyn ResourceAttrs) -> Result<SqlFilter, FilterError> {
    let expr = match text {
        Some(t) => filter::parse(t)?,
        None => None,
    };
    match expr {
        Some(e) => compile(&e, target, resources),
        None => Ok(SqlFilter::everything()),
    }
}
