//! The `/api/v1` contract, defined once and compiled by the server (`otelbox::api::wire`), its CLI
//! client and the wasm UI: the JSON shapes of answers (`responses`), the query parameters and
//! request bodies (`params`), the route paths (`routes`) and the typed enums inside them
//! (`enums`). Times are unix nanoseconds, ids lowercase hex. Uses serde and serde_json only, so it
//! builds for wasm32 as well.

mod enums;
mod params;
mod responses;
pub mod routes;

pub use enums::*;
pub use params::*;
pub use responses::*;
