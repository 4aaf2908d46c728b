//! The compliance test every registered component passes, so that a new component cannot forget its
//! example config or a counter: each is built from its testdata YAML (`src/<kind>/testdata/<type>.yaml`,
//! the component's section of a config) by the real topology, fed golden OTLP input for every signal
//! it declares, flushed by the topology's shutdown, and its counters are held to the books: a
//! processor's `sent + dropped` is what it received, an exporter's `sent + dropped + queued` is, and
//! what a stage sent is what the next one received. Receivers bind and serve; extensions start and stop.

use crate::components::{parse_config, REGISTRY};
use crate::config::{Config, Kind};
use crate::exporter::sender::golden;
use crate::pdata::Signal;
use crate::pipeline::ack::AckToken;
use crate::pipeline::{Envelope, PipelineData, SignalConsumers};
use crate::receiver::{Admission, ReceiverHost};
use crate::service::{self, Resources, Topology};
use crate::store::retention::Retention;
use crate::store::{Location, Store, StoreConfig};
use crate::telemetry::{ComponentCounters, Components, IngestStats};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

fn testdata_dir(kind: Kind) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(kind.as_str())
        .join("testdata")
}

/// The component's example section, environment references resolved (`OTELBOX_TESTDATA_DIR` is a
/// fresh directory), and the ids it defines.
fn example(kind: Kind, type_name: &str, dir: &Path) -> (String, Vec<String>) {
    let path = testdata_dir(kind).join(format!("{type_name}.yaml"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{}: every registered component has an example config here (its section of a config)",
            path.display()
        )
    });
    let text = crate::config::env::substitute(&text, |name| (name == "OTELBOX_TESTDATA_DIR").then(|| dir.display().to_string())).unwrap();
    let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let ids: Vec<String> = value
        .as_mapping()
        .unwrap_or_else(|| panic!("{}: a mapping of component ids", path.display()))
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    let indented = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| format!("  {l}\n"))
        .collect();
    (indented, ids)
}

/// A box's parts for one config: an in-memory store and the built topology.
struct Harness {
    store: Arc<Store>,
    components: Arc<Components>,
    topology: Topology,
    config: Config,
}

impl Harness {
    fn build(yaml: &str, data_dir: &Path) -> Harness {
        let config = parse_config(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        let store = Store::open(StoreConfig {
            location: Location::Memory,
            retention: Retention::default(),
            durable_sync: false,
        })
        .unwrap();
        let components = Arc::new(Components::default());
        let topology = Topology::build(
            &config,
            &Resources {
                store: &store,
                data_dir: Some(data_dir.to_path_buf()),
                components: &components,
                extensions: &Default::default(),
            },
        )
        .unwrap_or_else(|e| panic!("{e:#}\n{yaml}"));
        Harness {
            store,
            components,
            topology,
            config,
        }
    }

    /// Hands each signal's golden input to the `otlp` receiver's head and waits for its ack;
    /// returns the items sent per signal.
    async fn feed(&self, signals: &[Signal]) -> Vec<(Signal, usize)> {
        let heads = self.topology.heads(&crate::config::ComponentId::parse("otlp").unwrap());
        let mut fed = Vec::new();
        for signal in signals {
            let items = match signal {
                Signal::Traces => feed_one(&heads, golden::traces()).await,
                Signal::Metrics => feed_one(&heads, golden::metrics()).await,
                Signal::Logs => feed_one(&heads, golden::logs()).await,
            };
            fed.push((*signal, items));
        }
        fed
    }

    async fn finish(self) -> (Arc<Components>, Config) {
        tokio::time::timeout(Duration::from_secs(30), self.topology.shutdown())
            .await
            .expect("the topology shuts down");
        self.store.close().await;
        (self.components, self.config)
    }
}

async fn feed_one<T: PipelineData>(heads: &SignalConsumers, data: T) -> usize {
    let items = data.item_count();
    let head = heads.get::<T>().unwrap_or_else(|| panic!("no {} pipeline", T::SIGNAL.as_str()));
    let (ack, committed) = AckToken::new();
    head.consume(Envelope::new(data, ack)).await.expect("accepted");
    let outcome = tokio::time::timeout(Duration::from_secs(20), committed)
        .await
        .expect("settled in time")
        .expect("settled");
    assert_eq!(outcome, Ok(()), "{} acknowledged", T::SIGNAL.as_str());
    items
}

fn counters(components: &Components, pipeline: &str, component: &str, signal: Signal) -> Arc<ComponentCounters> {
    components
        .snapshot()
        .into_iter()
        .find(|c| (c.pipeline == pipeline || pipeline == "*") && c.component == component && c.signal == signal)
        .unwrap_or_else(|| panic!("no counters for {component} in {pipeline} ({})", signal.as_str()))
}

fn get(c: &std::sync::atomic::AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

const OTLP_IN: &str = "receivers:\n  otlp: { protocols: { http: { endpoint: 127.0.0.1:0 } } }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_processor_builds_from_its_testdata_and_accounts_for_every_item() {
    for factory in REGISTRY.processors {
        let dir = tempfile::tempdir().unwrap();
        let (section, ids) = example(Kind::Processor, factory.type_name(), dir.path());
        let id = &ids[0];
        let pipelines: String = factory
            .signals()
            .iter()
            .map(|s| {
                format!(
                    "    {}: {{ receivers: [otlp], processors: [{id}], exporters: [otelbox] }}\n",
                    s.as_str()
                )
            })
            .collect();
        let yaml = format!("{OTLP_IN}processors:\n{section}exporters:\n  otelbox: {{}}\nservice:\n  pipelines:\n{pipelines}");
        let harness = Harness::build(&yaml, dir.path());
        let fed = harness.feed(factory.signals()).await;
        let (components, _) = harness.finish().await;
        for (signal, items) in fed {
            let name = signal.as_str();
            let processor = counters(&components, name, &format!("processor/{id}"), signal);
            let exporter = counters(&components, "*", "exporter/otelbox", signal);
            let (received, sent, dropped, refused) = (
                get(&processor.received),
                get(&processor.sent),
                get(&processor.dropped),
                get(&processor.refused),
            );
            let what = format!("processor {id} ({name})");
            eprintln!("{what}: received {received}, sent {sent}, dropped {dropped}");
            assert_eq!(received, items as u64, "{what}: received what was fed");
            assert_eq!(refused, 0, "{what}: refused nothing");
            assert_eq!(
                sent + dropped,
                received,
                "{what}: every item sent or dropped (sent {sent}, dropped {dropped})"
            );
            assert_eq!(get(&exporter.received), sent, "{what}: the exporter received what it sent");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_exporter_builds_from_its_testdata_and_accounts_for_every_item() {
    for factory in REGISTRY.exporters {
        let dir = tempfile::tempdir().unwrap();
        let (section, ids) = example(Kind::Exporter, factory.type_name(), dir.path());
        let id = &ids[0];
        let pipelines: String = factory
            .signals()
            .iter()
            .map(|s| format!("    {}: {{ receivers: [otlp], exporters: [{id}] }}\n", s.as_str()))
            .collect();
        let yaml = format!("{OTLP_IN}exporters:\n{section}service:\n  pipelines:\n{pipelines}");
        let harness = Harness::build(&yaml, dir.path());
        let fed = harness.feed(factory.signals()).await;
        let (components, _) = harness.finish().await;
        for (signal, items) in fed {
            let exporter = counters(&components, "*", &format!("exporter/{id}"), signal);
            let (received, sent, dropped, queued) = (
                get(&exporter.received),
                get(&exporter.sent),
                get(&exporter.dropped),
                get(&exporter.queued),
            );
            let what = format!("exporter {id} ({})", signal.as_str());
            eprintln!("{what}: received {received}, sent {sent}, dropped {dropped}, queued {queued}");
            assert_eq!(received, items as u64, "{what}: received what was fed");
            assert_eq!(get(&exporter.refused), 0, "{what}: refused nothing");
            assert_eq!(
                sent + dropped + queued,
                received,
                "{what}: every item sent, dropped or still queued (sent {sent}, dropped {dropped}, queued {queued})"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connector_builds_from_its_testdata_and_counts_what_it_takes_and_emits() {
    for factory in REGISTRY.connectors {
        let dir = tempfile::tempdir().unwrap();
        let (section, ids) = example(Kind::Connector, factory.type_name(), dir.path());
        let id = &ids[0];
        let inputs: String = factory
            .signals()
            .iter()
            .map(|s| format!("    {}: {{ receivers: [otlp], exporters: [{id}] }}\n", s.as_str()))
            .collect();
        let outputs: String = factory
            .output_signals()
            .iter()
            .map(|s| format!("    {}/out: {{ receivers: [{id}], exporters: [otelbox] }}\n", s.as_str()))
            .collect();
        let yaml = format!("{OTLP_IN}exporters:\n  otelbox: {{}}\nconnectors:\n{section}service:\n  pipelines:\n{inputs}{outputs}");
        let harness = Harness::build(&yaml, dir.path());
        let fed = match factory.type_name() {
            // Its input is log records whose bodies are OTLP/JSON requests (the golden ones).
            "otlpjson" => {
                let heads = harness.topology.heads(&crate::config::ComponentId::parse("otlp").unwrap());
                vec![(Signal::Logs, feed_one(&heads, crate::connector::otlpjson::golden_input()).await)]
            }
            _ => harness.feed(factory.signals()).await,
        };
        let (components, _) = harness.finish().await;
        let what = format!("connector {id}");
        let mut sent = 0;
        for (signal, items) in fed {
            let connector = counters(&components, "*", &format!("connector/{id}"), signal);
            assert_eq!(get(&connector.received), items as u64, "{what}: received what was fed");
            assert_eq!(get(&connector.refused), 0, "{what}: refused nothing");
            sent += get(&connector.sent);
        }
        assert!(sent > 0, "{what}: emitted something by shutdown");
        let emitted: u64 = factory
            .output_signals()
            .iter()
            .map(|s| get(&counters(&components, "*", "exporter/otelbox", *s).received))
            .sum();
        assert_eq!(emitted, sent, "{what}: what it sent reached the output pipelines");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_receiver_builds_from_its_testdata_binds_and_stops() {
    for factory in REGISTRY.receivers {
        let dir = tempfile::tempdir().unwrap();
        let (section, ids) = example(Kind::Receiver, factory.type_name(), dir.path());
        let pipelines: String = factory
            .signals()
            .iter()
            .map(|s| format!("    {}: {{ receivers: [{}], exporters: [otelbox] }}\n", s.as_str(), ids.join(", ")))
            .collect();
        let yaml = format!("receivers:\n{section}exporters:\n  otelbox: {{}}\nservice:\n  pipelines:\n{pipelines}");
        let harness = Harness::build(&yaml, dir.path());
        let host = ReceiverHost {
            stats: Arc::new(IngestStats::default()),
            admission: Arc::new(Admission::new(None)),
            ingest_tokens: Default::default(),
            tls: None,
            extensions: Default::default(),
            allowed_hosts: Default::default(),
        };
        let receivers = service::build_receivers(&harness.config, &harness.topology, &host).await.unwrap();
        let endpoints: Vec<_> = receivers.iter().flat_map(|r| r.endpoints()).collect();
        // Scraping receivers (hostmetrics) listen nowhere; every other receiver does.
        const SCRAPERS: &[&str] = &["hostmetrics", "prometheus", "httpcheck", "filelog", "nop", "nginx", "redis"];
        assert_eq!(
            endpoints.is_empty(),
            SCRAPERS.contains(&factory.type_name()),
            "receiver {}: listens somewhere unless it scrapes",
            factory.type_name()
        );
        assert!(endpoints.iter().all(|e| e.address.port() != 0), "bound ports are reported");
        let (stop, stopped) = crate::net::Stop::new();
        let mut servers = Vec::new();
        for receiver in receivers {
            servers.extend(receiver.start(&stopped).unwrap());
        }
        for endpoint in &endpoints {
            if endpoint.protocol == "udp" {
                // A datagram port is held: binding it again fails.
                assert!(std::net::UdpSocket::bind(endpoint.address).is_err(), "{endpoint:?} is bound");
                continue;
            }
            assert!(
                tokio::net::TcpStream::connect(endpoint.address).await.is_ok(),
                "{endpoint:?} accepts connections"
            );
        }
        let _ = stop.send(true);
        for server in servers {
            tokio::time::timeout(Duration::from_secs(10), server).await.unwrap().unwrap();
        }
        harness.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_extension_builds_from_its_testdata_starts_and_stops() {
    for factory in REGISTRY.extensions {
        let dir = tempfile::tempdir().unwrap();
        let (section, ids) = example(Kind::Extension, factory.type_name(), dir.path());
        let yaml = format!(
            "extensions:\n{section}{OTLP_IN}exporters:\n  otelbox: {{}}\nservice:\n  extensions: [{}]\n  pipelines:\n    traces: {{ receivers: [otlp], exporters: [otelbox] }}\n",
            ids.join(", ")
        );
        let config = parse_config(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        let extensions = service::start_extensions(&config).await.unwrap();
        extensions.shutdown().await;
    }
}

/// Every example belongs to a registered component, so none is left behind by a rename.
#[test]
fn every_testdata_file_names_a_registered_component() {
    for kind in Kind::ALL {
        let registered: BTreeSet<&str> = REGISTRY.types(kind).iter().map(|t| t.type_name()).collect();
        for entry in std::fs::read_dir(testdata_dir(kind)).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let type_name = name.trim_end_matches(".yaml");
            assert!(
                registered.contains(type_name),
                "src/{}/testdata/{name}: no such {} is registered",
                kind.as_str(),
                kind.as_str()
            );
        }
    }
}
