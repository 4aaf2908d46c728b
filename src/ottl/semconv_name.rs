//! `set_semconv_span_name`: a span's name as the semantic conventions define it for its kind and
//! attributes (HTTP `{method} {route}`, RPC `{service}/{method}`, database `{operation} {target}`,
//! messaging `{operation} {destination}`), the Collector's transform processor's low-cardinality
//! renaming (it fixes frameworks that name spans by raw URL). Spans no convention names keep theirs.

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::Span;

/// The versions the Collector's function accepts (the naming rules are the same in each).
pub const SUPPORTED_VERSIONS: &[&str] = &["1.37.0", "1.38.0", "1.39.0", "1.40.0", "1.41.0", "1.42.0", "1.43.0"];

/// Renames `span`; with `original_name_attribute`, a changed name's old value is kept there.
pub fn rename(span: &mut Span, original_name_attribute: Option<&str>) {
    let derived = derive(span);
    if let Some(name) = derived {
        if name != span.name {
            let original = std::mem::replace(&mut span.name, name);
            if let Some(key) = original_name_attribute {
                put(&mut span.attributes, key, original);
            }
        }
    }
}

/// The conventional name, or None where no convention applies.
fn derive(span: &Span) -> Option<String> {
    let kind = SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified);
    let attributes = Attributes(&span.attributes);
    let named = |candidates: &[fn(&Attributes) -> Option<String>]| candidates.iter().find_map(|f| f(&attributes));
    match kind {
        SpanKind::Server => named(&[|a| http(a, "http.route"), rpc, messaging]),
        SpanKind::Consumer | SpanKind::Producer => named(&[messaging]),
        SpanKind::Client => named(&[|a| http(a, "url.template"), rpc, database, messaging]),
        _ => None,
    }
}

struct Attributes<'a>(&'a [KeyValue]);

impl Attributes<'_> {
    fn get(&self, key: &str) -> Option<&AnyValue> {
        self.0.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref())
    }

    /// The value as text (the Collector's `AsString`), under `key` or its older `alias`.
    fn text(&self, key: &str, alias: Option<&str>) -> Option<String> {
        self.get(key).or_else(|| alias.and_then(|a| self.get(a))).map(as_string)
    }

    fn flag(&self, key: &str) -> bool {
        matches!(
            self.get(key).and_then(|v| v.value.as_ref()),
            Some(any_value::Value::BoolValue(true))
        )
    }

    /// `server.address[:server.port]`.
    fn server(&self) -> Option<String> {
        let address = self.text("server.address", None)?;
        Some(match self.text("server.port", None) {
            Some(port) => format!("{address}:{port}"),
            None => address,
        })
    }
}

fn http(a: &Attributes, subject: &str) -> Option<String> {
    let method = a.text("http.request.method", Some("http.method"))?;
    // An unknown method is `_OTHER` in the attribute and `HTTP` in the name.
    let method = if method == "_OTHER" { "HTTP".to_string() } else { method };
    Some(match a.text(subject, None) {
        Some(target) => format!("{method} {target}"),
        None => method,
    })
}

fn rpc(a: &Attributes) -> Option<String> {
    let system = a.text("rpc.system", None)?;
    let method = a.text("rpc.method", Some("rpc.grpc.method"));
    let service = a.text("rpc.service", Some("rpc.grpc.service"));
    Some(match (service, method) {
        (Some(service), Some(method)) => format!("{service}/{method}"),
        (None, Some(method)) => method,
        (Some(service), None) => format!("{service}/*"),
        (None, None) => system,
    })
}

fn database(a: &Attributes) -> Option<String> {
    let system = a.text("db.system.name", Some("db.system"))?;
    if let Some(summary) = a.text("db.query.summary", None) {
        return Some(summary);
    }
    let operation = a.text("db.operation.name", Some("db.operation")).filter(|o| !o.is_empty());
    let target = database_target(a).filter(|t| !t.is_empty());
    Some(match (operation, target) {
        (Some(operation), Some(target)) => format!("{operation} {target}"),
        (Some(operation), None) => operation,
        (None, Some(target)) => target,
        (None, None) => system,
    })
}

fn database_target(a: &Attributes) -> Option<String> {
    let namespace = a.text("db.namespace", Some("db.name")).filter(|n| !n.is_empty());
    let qualified = |name: String| match &namespace {
        Some(namespace) => format!("{namespace}.{name}"),
        None => name,
    };
    if let Some(collection) = a.text("db.collection.name", None) {
        return Some(qualified(collection));
    }
    if let Some(procedure) = a.text("db.stored_procedure.name", None) {
        return Some(qualified(procedure));
    }
    namespace.clone().or_else(|| a.server())
}

fn messaging(a: &Attributes) -> Option<String> {
    let system = a.text("messaging.system", None)?;
    let operation = a.text("messaging.operation.name", Some("messaging.operation"));
    let destination = messaging_destination(a).filter(|d| !d.is_empty());
    Some(match (operation, destination) {
        (Some(operation), Some(destination)) => format!("{operation} {destination}"),
        (None, Some(destination)) => destination,
        (Some(operation), None) => operation,
        (None, None) => system,
    })
}

fn messaging_destination(a: &Attributes) -> Option<String> {
    if a.flag("messaging.destination.temporary") {
        return Some("(temporary)".into());
    }
    if a.flag("messaging.destination.anonymous") {
        return Some("(anonymous)".into());
    }
    a.text("messaging.destination.template", None)
        .or_else(|| a.text("messaging.destination.name", Some("messaging.destination")))
        .or_else(|| a.server())
}

/// A value as text, as the Collector's `AsString` writes it (maps and lists as JSON).
fn as_string(value: &AnyValue) -> String {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(n)) => n.to_string(),
        Some(any_value::Value::DoubleValue(x)) => x.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::BytesValue(bytes)) => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(bytes)
        }
        _ => super::value::Value::from_any(Some(value)).to_text().unwrap_or_default(),
    }
}

fn put(attributes: &mut Vec<KeyValue>, key: &str, text: String) {
    let value = Some(AnyValue {
        value: Some(any_value::Value::StringValue(text)),
    });
    match attributes.iter_mut().find(|kv| kv.key == key) {
        Some(kv) => kv.value = value,
        None => attributes.push(KeyValue {
            key: key.to_string(),
            value,
            ..Default::default()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(kind: SpanKind, name: &str, attributes: &[(&str, &str)]) -> Span {
        Span {
            kind: kind as i32,
            name: name.into(),
            attributes: attributes
                .iter()
                .map(|(k, v)| KeyValue {
                    key: (*k).into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue((*v).into())),
                    }),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn renamed(kind: SpanKind, name: &str, attributes: &[(&str, &str)]) -> String {
        let mut span = span(kind, name, attributes);
        rename(&mut span, None);
        span.name
    }

    #[test]
    fn each_convention_names_its_spans() {
        use SpanKind::*;
        // HTTP: a server by its route, a client by its URL template; the method alone otherwise.
        assert_eq!(
            renamed(
                Server,
                "GET /users/42",
                &[("http.request.method", "GET"), ("http.route", "/users/:id")]
            ),
            "GET /users/:id"
        );
        assert_eq!(renamed(Server, "/users/42", &[("http.method", "POST")]), "POST");
        assert_eq!(
            renamed(Client, "x", &[("http.request.method", "_OTHER"), ("url.template", "/a/{b}")]),
            "HTTP /a/{b}"
        );
        // RPC.
        assert_eq!(
            renamed(
                Server,
                "x",
                &[("rpc.system", "grpc"), ("rpc.service", "Cart"), ("rpc.method", "Add")]
            ),
            "Cart/Add"
        );
        assert_eq!(
            renamed(Client, "x", &[("rpc.system", "grpc"), ("rpc.grpc.service", "Cart")]),
            "Cart/*"
        );
        // Database: the summary, else operation and target, else the system.
        assert_eq!(
            renamed(
                Client,
                "SELECT * FROM t WHERE id=1",
                &[
                    ("db.system.name", "postgresql"),
                    ("db.operation.name", "SELECT"),
                    ("db.namespace", "shop"),
                    ("db.collection.name", "orders")
                ]
            ),
            "SELECT shop.orders"
        );
        assert_eq!(
            renamed(
                Client,
                "x",
                &[("db.system", "redis"), ("server.address", "cache"), ("server.port", "6379")]
            ),
            "cache:6379"
        );
        assert_eq!(renamed(Client, "x", &[("db.system", "sqlite")]), "sqlite");
        // Messaging.
        assert_eq!(
            renamed(
                Producer,
                "x",
                &[
                    ("messaging.system", "kafka"),
                    ("messaging.operation.name", "send"),
                    ("messaging.destination.name", "orders")
                ]
            ),
            "send orders"
        );
        assert_eq!(
            renamed(
                Consumer,
                "x",
                &[("messaging.system", "rabbitmq"), ("messaging.destination.temporary", "true")]
            ),
            "rabbitmq"
        );
        // Internal spans and spans without conventional attributes keep their names.
        assert_eq!(renamed(Internal, "work", &[("http.request.method", "GET")]), "work");
        assert_eq!(renamed(Server, "handler", &[]), "handler");
    }

    #[test]
    fn the_original_name_is_kept_only_when_it_changed() {
        let mut changed = span(
            SpanKind::Server,
            "GET /users/42",
            &[("http.request.method", "GET"), ("http.route", "/users/:id")],
        );
        rename(&mut changed, Some("original_span_name"));
        assert_eq!(changed.attributes.last().unwrap().key, "original_span_name");
        let mut same = span(SpanKind::Server, "GET", &[("http.request.method", "GET")]);
        rename(&mut same, Some("original_span_name"));
        assert_eq!(same.attributes.len(), 1);
    }
}
