//! Exporters: where a pipeline's data ends up. `storage` is otelbox's own SQLite store; the others
//! forward (`otlp`, `otlphttp`), print (`debug`) or write files (`file`).

pub mod debug;
pub mod file;
pub mod otlp;
pub mod otlphttp;
pub mod storage;
