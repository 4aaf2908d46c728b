//! Connectors: exporters of one pipeline that are receivers of another.

pub mod spanmetrics;
