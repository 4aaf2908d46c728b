//! Processors: components that sit inline in a pipeline and forward to their next consumer.

pub mod batch;
pub mod memory_limiter;
