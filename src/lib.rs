//! otelbox: one binary for the whole OpenTelemetry pipeline. The library holds every component;
//! `main.rs` only parses the command line and maps errors to exit codes.

pub mod api;
pub mod app;
pub mod assertions;
pub mod auth;
pub mod cli;
pub mod client;
pub mod components;
pub mod config;
pub mod connector;
pub mod exporter;
pub mod extension;
pub mod gen;
pub mod hash;
pub mod memory;
pub mod net;
pub mod ottl;
pub mod pdata;
pub mod pipeline;
pub mod processor;
pub mod query;
pub mod receiver;
pub mod service;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod units;
