//! Hidden helpers for `scripts/bench` (not part of the documented CLI): the SQLite limit for this
//! schema, and filling a store directly for the query benchmarks.

use crate::gen::{now_ns, Generator};
use crate::pdata::SignalData;
use crate::store::codec::BlobCodec;
use crate::store::retention::Retention;
use crate::store::rows::{flatten_logs, flatten_metrics, flatten_traces, RowBatch};
use crate::store::writer::Writer;
use crate::store::{db_file, schema, Location, Store, StoreConfig};
use clap::Args;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct SqliteLimitArgs {
    /// Spans to insert
    #[arg(long, default_value_t = 1_000_000)]
    pub spans: usize,
    /// Directory for the scratch database
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Extra `name=value` pragmas applied after the standard ones (experiments)
    #[arg(long)]
    pub pragma: Vec<String>,
    /// SQL run after the schema is created (experiments: `DROP INDEX spans_trace`, ...)
    #[arg(long)]
    pub sql: Vec<String>,
}

/// The same rows the box stores, inserted by the writer's own insert code on one thread, with
/// nothing else running: no HTTP, no decoding, no pipeline. What SQLite allows for this schema.
pub fn sqlite_limit(args: SqliteLimitArgs) -> anyhow::Result<i32> {
    let mut generator = Generator::new(99);
    let mut batches: Vec<RowBatch> = Vec::new();
    let mut spans = 0;
    while spans < args.spans {
        let request = generator.traces_request(1000);
        spans += request.item_count();
        batches.push(flatten_traces(request));
    }
    std::fs::create_dir_all(&args.data_dir)?;
    let path = db_file(&args.data_dir);
    let mut conn = rusqlite::Connection::open(&path)?;
    for p in args.pragma.iter().filter(|p| p.starts_with("page_size")) {
        conn.execute_batch(&format!("PRAGMA {p}"))?; // must precede WAL mode and the first table
    }
    schema::configure_writer(&conn, true, false)?;
    for p in args.pragma.iter().filter(|p| !p.starts_with("page_size")) {
        conn.execute_batch(&format!("PRAGMA {p}"))?;
    }
    schema::migrate(&mut conn)?;
    crate::store::packed::attach(&conn)?;
    for sql in &args.sql {
        conn.execute_batch(sql)?;
    }
    // The rows as the box's flatteners hand them over: attributes compressed once a dictionary is
    // trained on the first of them (before the clock, as the flatteners do it off the writer thread).
    let codec = BlobCodec::default();
    batches.iter_mut().for_each(|batch| codec.compress_batch(batch));
    codec.save_trained(&conn);
    batches.iter_mut().for_each(|batch| codec.compress_batch(batch));
    let mut writer = Writer::standalone(conn);
    let started = Instant::now();
    let mut group = Vec::new();
    let mut rows = 0;
    for batch in batches {
        rows += batch.row_count();
        group.push(batch);
        // The same group size bound as the writer thread.
        if rows >= crate::store::writer::GROUP_MAX_ROWS {
            writer.commit_rows(std::mem::take(&mut group))?;
            rows = 0;
        }
    }
    writer.commit_rows(group)?;
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"spans": spans, "elapsed_s": elapsed, "spans_per_s": spans as f64 / elapsed})
    );
    Ok(0)
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Spans to store
    #[arg(long, default_value_t = 1_000_000)]
    pub spans: usize,
    /// Log records to store
    #[arg(long, default_value_t = 0)]
    pub logs: usize,
    /// Spread the data over this much time up to now
    #[arg(long, default_value = "24h", value_parser = crate::units::parse_duration)]
    pub spread: Duration,
    /// Metric scrapes (one every spread/scrapes), 6 series each
    #[arg(long, default_value_t = 0)]
    pub scrapes: u64,
}

/// Fill a store directly through its writer (no HTTP): the dataset of the query benchmarks.
pub fn load(args: LoadArgs) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        std::fs::create_dir_all(&args.data_dir)?;
        let store = Store::open(StoreConfig {
            location: Location::Disk(db_file(&args.data_dir)),
            retention: Retention::default(),
            durable_sync: false,
        })?;
        let started = Instant::now();
        let mut generator = Generator::new(7);
        let now = now_ns();
        let spread = args.spread.as_nanos() as u64;
        // Each signal spread evenly over the whole spread, up to now: the runs advance the clock
        // by the lagging signal's progress, and only it keeps a run's data (a run has more spans
        // than log records). A fixed number of runs would pile the rest up at `now` once the guess
        // ran short, turning "the latest spans" into a walk over a hundred thousand of them.
        let progress = |done: usize, target: usize| if target == 0 { 1.0 } else { done as f64 / target as f64 };
        let (mut spans, mut logs) = (0usize, 0usize);
        let mut traces = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::default();
        let mut log_request = opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest::default();
        // Rows as the storage exporter hands them to the writer: attributes compressed (`store::codec`).
        let rows = |mut batch: RowBatch| {
            store.codec().compress_batch(&mut batch);
            batch
        };
        while spans < args.spans || logs < args.logs {
            let (spans_progress, logs_progress) = (progress(spans, args.spans), progress(logs, args.logs));
            let lagging = spans_progress.min(logs_progress).min(1.0);
            let r = generator.agent_run(now - spread + (lagging * spread as f64) as u64);
            if spans < args.spans && spans_progress <= logs_progress {
                spans += r.traces.item_count();
                traces.merge(r.traces);
            }
            if logs < args.logs && logs_progress <= spans_progress {
                logs += r.logs.item_count();
                log_request.merge(r.logs);
            }
            if traces.item_count() >= 1000 {
                store
                    .write(rows(flatten_traces(std::mem::take(&mut traces))), crate::store::unreported())
                    .await?;
            }
            if log_request.item_count() >= 1000 {
                store
                    .write(rows(flatten_logs(std::mem::take(&mut log_request))), crate::store::unreported())
                    .await?;
            }
        }
        store.write(rows(flatten_traces(traces)), crate::store::unreported()).await?;
        store.write(rows(flatten_logs(log_request)), crate::store::unreported()).await?;
        let start = now - spread;
        for tick in 0..args.scrapes {
            let at = start + tick * spread / args.scrapes.max(1);
            store
                .write(
                    flatten_metrics(generator.metrics_request_at(start, at, tick)),
                    crate::store::unreported(),
                )
                .await?;
        }
        let packing = Instant::now();
        let packed = store.pack_waiting().await?;
        let packing_s = packing.elapsed().as_secs_f64();
        store.close().await;
        println!(
            "{}",
            serde_json::json!({"spans": spans, "packed_spans": packed, "packing_s": packing_s, "logs": logs, "scrapes": args.scrapes, "elapsed_s": started.elapsed().as_secs_f64()})
        );
        Ok(0)
    })
}
