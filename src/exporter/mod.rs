//! Exporters: where a pipeline's data ends up. `storage` is otelbox's own SQLite store; the others
//! forward (`otlp`, `otlphttp`), print (`debug`) or write files (`file`). The forwarding exporters
//! share `sender` (the consumer side, delivery workers), `queue` (the persistent sending queue) and
//! `retry` (backoff and the retryable-or-not rules).

pub mod debug;
pub mod file;
pub mod otlp;
pub mod otlphttp;
pub mod queue;
pub mod retry;
pub mod sender;
pub mod storage;
