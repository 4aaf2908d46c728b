//! Exporters: the end of a pipeline. `storage` writes into otelbox's own SQLite store.

pub mod storage;
