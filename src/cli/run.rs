//! `otelbox run -- CMD ARGS`: run a command against a fresh in-memory box, wait until its
//! telemetry goes quiet, print a summary, check assertions, write JUnit and an export. Exit code:
//! the command's if non-zero, else 1 if an assertion failed, else 0.

use super::assert::report;
use super::gen::Protocol;
use super::wait::{wait_idle, Watch};
use crate::api::wire;
use crate::app::{self, BoxOptions};
use crate::assertions::{self, eval, per_test, Assertion, Bound, Subject};
use crate::client::ApiClient;
use crate::store::retention::Retention;
use crate::store::Location;
use clap::Args;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  otelbox run -- pytest tests/integration\n  otelbox run --assert 'name = \"checkout\" and status != error' --junit otel.xml -- ./integration-tests.sh\n  otelbox run --assertions telemetry.yaml --export run.jsonl -- npm test\n  otelbox run --per-test --assert 'count(status = error) == 0' --junit otel.xml -- python -m pytest   # docs/ci\n\nThe command gets OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL and\nOTEL_{TRACES,METRICS,LOGS}_EXPORTER=otlp (values it already has win unless --force-env),\nand OTELBOX_SERVER for `otelbox assert`/`wait`/`query` from inside it."
)]
pub struct RunArgs {
    /// An assertion checked after the command (repeatable); same forms as `otelbox assert`
    #[arg(long = "assert", value_name = "EXPR")]
    pub asserts: Vec<String>,
    /// A YAML file of assertions (name, signal, where, count/min/max, max_duration, descendant, order, no_orphans;
    /// metric, value, min/max/equals)
    #[arg(long, value_name = "FILE")]
    pub assertions: Option<PathBuf>,
    /// Write a JUnit XML report of the assertions here
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a self-contained HTML report here (summary, assertions, traces with a waterfall, logs)
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// Write everything received as OTLP/JSON lines here
    #[arg(long, value_name = "FILE")]
    pub export: Option<PathBuf>,
    /// After the command exits, wait until no telemetry has arrived for this long
    #[arg(long, default_value = "2s", value_parser = crate::units::parse_duration)]
    pub idle: Duration,
    /// ...but no longer than this
    #[arg(long, default_value = "30s", value_parser = crate::units::parse_duration)]
    pub settle_timeout: Duration,
    /// Then also wait (up to --settle-timeout) until every trace is complete: its root span arrived
    /// and no stored span names a parent that is missing; lists the traces that are not
    #[arg(long)]
    pub complete: bool,
    /// After the command exits, wait this long for processes it started that still run (a forked
    /// worker, a detached helper): their telemetry is lost once the box stops; those left are listed
    #[arg(long, default_value = "5s", value_parser = crate::units::parse_duration)]
    pub leftover_timeout: Duration,
    /// Evaluate every assertion once per test, over that test's traces only (those with a span whose
    /// ATTR, by default test.name, names the test): JUnit cases "TEST :: ASSERTION", a testsuite per test
    #[arg(long, value_name = "ATTR", num_args = 0..=1, require_equals = true, default_missing_value = "test.name")]
    pub per_test: Option<String>,
    /// Protocol the command's SDK is told to use
    #[arg(long, value_enum, default_value = "http/protobuf")]
    pub protocol: Protocol,
    /// Override OTEL_* variables the command already has
    #[arg(long)]
    pub force_env: bool,
    /// Do not print the summary
    #[arg(long)]
    pub quiet: bool,
    /// Fail the run on instrumentation lint findings: `error` on errors (missing service.name,
    /// spans ending before they start), `warn` on warnings too (orphans, duplicate span ids, clock
    /// skew, ...); each gating rule is a failed case in the JUnit report
    #[arg(long, value_enum, default_value = "off")]
    pub lint: LintGate,
    /// Compare the structure of the run's traces with this golden file (YAML, or JSON if it ends
    /// in .json): a span added, missing or changed fails the run with a diff; one JUnit case per shape
    #[arg(long, value_name = "FILE")]
    pub golden: Option<PathBuf>,
    /// Write the --golden file from this run instead (creating it; its options are kept)
    #[arg(long, requires = "golden")]
    pub update_golden: bool,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// Which lint findings fail a run (`--lint`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LintGate {
    Off,
    Warn,
    Error,
}

impl LintGate {
    fn gates(self, severity: wire::LintSeverity) -> bool {
        match self {
            LintGate::Off => false,
            LintGate::Warn => true,
            LintGate::Error => severity == wire::LintSeverity::Error,
        }
    }
}

/// The lint findings `gate` fails the run on, as failed outcomes (one per rule).
async fn lint_outcomes(client: &ApiClient, gate: LintGate) -> anyhow::Result<Vec<eval::Outcome>> {
    if gate == LintGate::Off {
        return Ok(Vec::new());
    }
    let started = Instant::now();
    let lint: wire::LintResponse = client.get(wire::routes::LINT, &()).await?;
    Ok(lint
        .findings
        .iter()
        .filter(|f| gate.gates(f.severity))
        .map(|f| {
            let examples: Vec<String> = f
                .examples
                .iter()
                .map(|e| format!("{} ({}) in trace {}", e.name, e.service, e.trace_id))
                .collect();
            eval::Outcome {
                name: format!("lint: {}", f.rule),
                passed: false,
                detail: format!("{} {}: {}; e.g. {}", f.count, f.severity, f.message, examples.join("; ")),
                elapsed: started.elapsed(),
            }
        })
        .collect())
}

/// The SDK export delays the command gets unless it has them set (milliseconds).
const QUICK_EXPORT: [(&str, &str); 3] = [
    ("OTEL_BSP_SCHEDULE_DELAY", "200"),
    ("OTEL_BLRP_SCHEDULE_DELAY", "200"),
    ("OTEL_METRIC_EXPORT_INTERVAL", "1000"),
];

fn load_assertions(args: &RunArgs) -> Result<Vec<Assertion>, Vec<String>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for text in &args.asserts {
        match assertions::parse_compact(text, Subject::Spans, Bound::AtLeast(1)) {
            Ok(a) => out.push(a),
            Err(e) => errors.push(format!("--assert '{text}': {e}")),
        }
    }
    if let Some(path) = &args.assertions {
        match std::fs::read_to_string(path) {
            Ok(yaml) => match assertions::parse_file(&yaml) {
                Ok(list) => out.extend(list),
                Err(list) => errors.extend(list.into_iter().map(|e| format!("{}: {e}", path.display()))),
            },
            Err(e) => errors.push(format!("cannot read {}: {e}", path.display())),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

pub fn run(args: RunArgs) -> anyhow::Result<i32> {
    let assertions = match load_assertions(&args) {
        Ok(a) => a,
        Err(errors) => {
            for e in errors {
                eprintln!("otelbox run: {e}");
            }
            return Ok(2);
        }
    };
    if let Err(e) = crate::assertions::golden::check_before_run(args.golden.as_deref(), args.update_golden) {
        eprintln!("otelbox run: {e}");
        return Ok(2);
    }
    if let Some(Err(e)) = args.per_test.as_deref().map(per_test::attribute) {
        eprintln!("otelbox run: {e}");
        return Ok(2);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run_async(args, assertions))
}

async fn run_async(args: RunArgs, assertions: Vec<Assertion>) -> anyhow::Result<i32> {
    let started = Instant::now();
    let mut config = crate::config::Config::builtin(&crate::components::REGISTRY);
    let _ = crate::receiver::otlp::override_endpoints(&mut config, None, Some(0), Some(0));
    let options = BoxOptions {
        location: Location::Memory,
        ui: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        config,
        retention: Retention::default(),
        durable_sync: false,
        security: Default::default(),
    };
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app::run(
        options,
        async {
            let _ = stop_rx.await;
        },
        move |addrs| {
            let _ = ready_tx.send(addrs.clone());
        },
    ));
    let addrs = match ready_rx.await {
        Ok(a) => a,
        Err(_) => {
            let err = server
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            anyhow::bail!("the in-memory box did not start: {err}");
        }
    };
    let endpoint = match args.protocol {
        Protocol::Grpc => format!("http://{}", addrs.grpc.expect("the built-in config listens on gRPC")),
        _ => format!("http://{}", addrs.http.expect("the built-in config listens on HTTP")),
    };
    let protocol = match args.protocol {
        Protocol::HttpProtobuf => "http/protobuf",
        Protocol::HttpJson => "http/json",
        Protocol::Grpc => "grpc",
    };
    let server_url = format!("http://{}", addrs.ui);
    let mut command = tokio::process::Command::new(&args.command[0]);
    command.args(&args.command[1..]);
    let wanted = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
        ("OTEL_TRACES_EXPORTER", "otlp"),
        ("OTEL_METRICS_EXPORTER", "otlp"),
        ("OTEL_LOGS_EXPORTER", "otlp"),
    ];
    // The box's endpoint and exporters, and short export delays (the standard variables every
    // official SDK reads), unless the caller chose them.
    let caller: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let child_env = super::child::otel_env(&caller, &wanted, args.force_env, &QUICK_EXPORT);
    command.envs(&child_env);
    command.env("OTELBOX_SERVER", &server_url);
    // The command's orphans become ours, so what it leaves running can be waited for and named.
    let tracks_leftovers = super::child::become_subreaper();
    tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, "starting the command");
    let command_started = Instant::now();
    let status = match command.status().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("otelbox run: cannot start '{}': {e}", args.command[0]);
            let _ = stop_tx.send(());
            let _ = server.await;
            return Ok(127);
        }
    };
    let child_code = status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        128 + status.signal().unwrap_or(0)
    });
    let command_time = command_started.elapsed();
    if tracks_leftovers {
        let left = super::child::wait_for_leftovers(args.leftover_timeout).await;
        if !left.is_empty() {
            eprintln!("{}", super::child::describe(&left, args.leftover_timeout));
        }
    }

    let client = ApiClient::new(&server_url);
    let settled = wait_idle(&client, &Watch::Everything, args.idle, Instant::now() + args.settle_timeout).await?;
    if !settled {
        eprintln!(
            "otelbox run: telemetry was still arriving after --settle-timeout {:?}; checking what is there",
            args.settle_timeout
        );
    }
    if args.complete {
        if let Some(left) = super::wait::wait_complete(&client, None, Instant::now() + args.settle_timeout).await? {
            eprintln!(
                "otelbox run: --complete: after --settle-timeout {:?}, {}",
                args.settle_timeout,
                super::wait::describe_incomplete(&left)
            );
        }
    }
    if !args.quiet {
        eprint!("{}", summary(&client).await?);
    }
    let status: wire::StatusResponse = client.get(wire::routes::STATUS, &()).await?;
    if status.ingest.last_accepted_unix_nano == 0 {
        eprintln!("{}", super::child::nothing_arrived(&child_env, &endpoint));
    }
    let mut outcomes = Vec::new();
    // With --per-test, the tests found: their outcomes come first, test after test.
    let tests = match args.per_test.as_deref() {
        Some(attribute) => {
            let field = per_test::attribute(attribute).map_err(anyhow::Error::msg)?;
            let found = per_test::tests(&client, &field).await?;
            outcomes.extend(per_test::evaluate(&client, &found, &assertions).await?);
            if found.is_empty() && !assertions.is_empty() {
                outcomes.push(per_test::no_tests(attribute));
            }
            Some(found)
        }
        None => {
            for assertion in &assertions {
                outcomes.push(eval::evaluate(&client, assertion).await?);
            }
            None
        }
    };
    outcomes.extend(lint_outcomes(&client, args.lint).await?);
    outcomes.extend(crate::assertions::golden::run_outcomes(&client, args.golden.as_deref(), args.update_golden, child_code).await?);
    if !outcomes.is_empty() {
        report(&outcomes);
    }
    if let Some(path) = &args.report {
        let run = super::report::RunInfo {
            command: args.command.clone(),
            exit_code: child_code,
            command_time,
            total_time: started.elapsed(),
        };
        super::report::write(&client, path, &run, &outcomes).await?;
        // The JUnit failures then say where the report shows them.
        super::report::note_in_failures(&mut outcomes, path);
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, per_test::render_junit(tests.as_deref(), assertions.len(), &outcomes))
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }
    if let Some(path) = &args.export {
        let mut file =
            std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?);
        super::export::export_to(&client, &crate::pdata::Signal::ALL, None, &mut file).await?;
    }
    let _ = stop_tx.send(());
    let _ = server.await;
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    Ok(if child_code != 0 {
        child_code
    } else if failed > 0 {
        1
    } else {
        0
    })
}

/// What arrived: counts, errors per service, the slowest operations, and lint findings.
async fn summary(client: &ApiClient) -> anyhow::Result<String> {
    use crate::assertions::eval::fmt_ns;
    let count = |signal: &'static str| async move {
        client
            .get::<wire::CountResponse, _>(
                wire::routes::COUNT,
                &wire::CountParams {
                    signal: Some(signal.to_string()),
                    ..Default::default()
                },
            )
            .await
            .map(|c| c.count)
    };
    let (traces, spans, logs) = (count("traces").await?, count("spans").await?, count("logs").await?);
    let services: wire::ServicesResponse = client.get(wire::routes::SERVICES, &()).await?;
    let slowest: wire::SpansResponse = client
        .get(
            wire::routes::SPANS,
            &wire::SpansParams {
                sort: Some("duration".into()),
                limit: Some(5),
                ..Default::default()
            },
        )
        .await?;
    let lint: wire::LintResponse = client.get(wire::routes::LINT, &()).await?;
    let metrics: wire::MetricsResponse = client.get(wire::routes::METRICS, &wire::FilterParams::default()).await?;
    let points = client
        .get::<wire::StatusResponse, _>(wire::routes::STATUS, &())
        .await?
        .storage
        .metric_points;
    let mut out = format!(
        "\notelbox: {traces} trace(s), {spans} span(s), {logs} log record(s), {} metric(s) ({points} point(s))\n",
        metrics.metrics.len()
    );
    for s in &services.services {
        out.push_str(&format!("  {:<24} {:>6} spans {:>5} errors\n", s.name, s.spans, s.errors));
    }
    out.push_str(&crate::assertions::metrics::summary_lines(&metrics.metrics));
    if !slowest.spans.is_empty() {
        out.push_str("  slowest:\n");
        for s in &slowest.spans {
            out.push_str(&format!(
                "    {:>9}  {}: {}{}\n",
                fmt_ns(s.duration_ns),
                s.service,
                s.name,
                if s.status.code == crate::api::wire::StatusCode::Error {
                    "  [error]"
                } else {
                    ""
                }
            ));
        }
    }
    if !lint.findings.is_empty() {
        out.push_str(&super::lint::format_findings(&lint.findings));
    }
    Ok(out)
}
