//! A client's `tls` block (the Collector's client `configtls`), as HTTP exporters, scraping
//! receivers and client authenticators write it: read into `tls::ClientTlsSettings`.

use super::Parser;
use crate::tls::{ClientTlsSettings, TlsVersion};
use serde_yaml_ng::Value;
use std::path::PathBuf;

/// The keys of a client's `tls` (the Collector's client `configtls`).
pub const CLIENT_TLS_KEYS: [&str; 8] = [
    "insecure",
    "insecure_skip_verify",
    "ca_file",
    "cert_file",
    "key_file",
    "server_name_override",
    "min_version",
    "max_version",
];

/// The client `tls` at `path` (HTTP exporters, the oauth2client extension): how its https:// URLs
/// are connected to. The URL's scheme decides whether TLS is used, so `insecure` (which in the
/// Collector only matters for gRPC) is accepted and changes nothing here (`parse_client_tls_with_insecure`
/// returns it, for clients of plain TCP protocols that it switches TLS on and off for). An empty file name or version is unset, as in the Collector
/// (`${env:CA_FILE}` with the variable unset). rustls speaks TLS 1.2 and 1.3: a `min_version` of
/// 1.0 or 1.1 allows what it can (1.2 and up), a `max_version` below 1.2 is an error.
pub fn parse_client_tls(p: &mut Parser, value: Option<&Value>, path: &str) -> ClientTlsSettings {
    parse_client_tls_with_insecure(p, value, path).1
}

/// `parse_client_tls` with `insecure` as given (None when absent).
pub fn parse_client_tls_with_insecure(p: &mut Parser, value: Option<&Value>, path: &str) -> (Option<bool>, ClientTlsSettings) {
    let mut tls = ClientTlsSettings::default();
    let mut insecure = None;
    let Some(body) = p.mapping(value, path) else {
        return (insecure, tls);
    };
    p.only_keys(body, &CLIENT_TLS_KEYS, path);
    let at = |key: &str| format!("{path}.{key}");
    if let Some(v) = body.get("insecure") {
        insecure = p.boolean(v, &at("insecure"));
    }
    if let Some(v) = body.get("insecure_skip_verify") {
        tls.insecure_skip_verify = p.boolean(v, &at("insecure_skip_verify")).unwrap_or(false);
    }
    let mut text = |key: &str| match body.get(key) {
        // `min_version: 1.2` unquoted is a number, which the Collector's decoding takes as "1.2".
        Some(Value::Number(n)) if key.ends_with("_version") => n
            .as_f64()
            .map(|v| format!("{v:.1}"))
            .filter(|text| text.parse::<f64>().ok() == n.as_f64())
            .or_else(|| Some(n.to_string())),
        Some(v) => p.string(v, &at(key)).filter(|t| !t.is_empty()),
        None => None,
    };
    let (ca, cert, key, name, min, max) = (
        text("ca_file"),
        text("cert_file"),
        text("key_file"),
        text("server_name_override"),
        text("min_version"),
        text("max_version"),
    );
    tls.ca_file = ca.map(PathBuf::from);
    match (cert, key) {
        (Some(cert), Some(key)) => tls.client_cert = Some((PathBuf::from(cert), PathBuf::from(key))),
        (None, None) => {}
        _ => p.error(path, "cert_file and key_file go together (a client certificate and its key)"),
    }
    if let Some(name) = name {
        match crate::tls::server_name(&name) {
            Some(_) => tls.server_name_override = Some(name),
            None => p.error(&at("server_name_override"), format!("'{name}' is not a host name or an IP address")),
        }
    }
    // The minor version: TLS 1.<minor>.
    let mut minor = |text: Option<String>, key: &str| {
        let text = text?;
        match text.as_str() {
            "1.0" => Some(0u8),
            "1.1" => Some(1),
            "1.2" => Some(2),
            "1.3" => Some(3),
            _ => {
                p.error(&at(key), format!("expected 1.0, 1.1, 1.2 or 1.3, got '{text}'"));
                None
            }
        }
    };
    let (min, max) = (minor(min, "min_version"), minor(max, "max_version"));
    if let Some(min) = min {
        tls.min_version = if min >= 3 { TlsVersion::Tls13 } else { TlsVersion::Tls12 };
    }
    match max {
        Some(max) if max < 2 => p.error(
            &at("max_version"),
            format!("otelbox speaks TLS 1.2 and 1.3, so a maximum of 1.{max} leaves no version to connect with; use 1.2 or 1.3"),
        ),
        Some(max) => {
            tls.max_version = if max >= 3 { TlsVersion::Tls13 } else { TlsVersion::Tls12 };
            if min.is_some_and(|min| min > max) {
                p.error(
                    &at("min_version"),
                    format!("1.{} is above max_version 1.{max}", min.unwrap_or_default()),
                );
            }
        }
        None => {}
    }
    (insecure, tls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_tls_parses_the_collectors_keys_with_errors_at_their_paths() {
        let parse = |yaml: &str| {
            let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
            let mut errors = Vec::new();
            let tls = parse_client_tls(&mut Parser::collecting(&mut errors), Some(&value), "exporters.otlphttp.tls");
            (tls, errors)
        };
        assert_eq!(parse("{}"), (ClientTlsSettings::default(), vec![]));
        assert_eq!(
            parse("{insecure: true, ca_file: '', min_version: ''}"),
            (ClientTlsSettings::default(), vec![]),
            "insecure changes nothing for HTTP; empty means unset"
        );
        assert_eq!(
            parse(
                "{insecure_skip_verify: true, ca_file: ca.pem, cert_file: c.pem, key_file: c.key, server_name_override: tempo.internal, min_version: '1.3', max_version: '1.3'}"
            ),
            (
                ClientTlsSettings {
                    ca_file: Some("ca.pem".into()),
                    client_cert: Some(("c.pem".into(), "c.key".into())),
                    insecure_skip_verify: true,
                    server_name_override: Some("tempo.internal".into()),
                    min_version: TlsVersion::Tls13,
                    max_version: TlsVersion::Tls13,
                },
                vec![]
            )
        );
        assert_eq!(parse("{min_version: '1.0'}").0.min_version, TlsVersion::Tls12, "rustls's floor");
        assert_eq!(
            parse("{min_version: 1.3}").0.min_version,
            TlsVersion::Tls13,
            "unquoted, as the Collector reads it"
        );
        assert_eq!(parse("{max_version: '1.2'}").0.max_version, TlsVersion::Tls12);
        assert_eq!(parse("{server_name_override: '10.0.0.7'}").1, Vec::<String>::new());
        let (_, errors) =
            parse("{max_version: '1.1', cert_file: c.pem, server_name_override: 'not a name', min_version: '1.4', verify: true}");
        assert_eq!(
            errors,
            vec![
                "exporters.otlphttp.tls.verify: unknown key (expected one of: insecure, insecure_skip_verify, ca_file, cert_file, key_file, server_name_override, min_version, max_version)",
                "exporters.otlphttp.tls: cert_file and key_file go together (a client certificate and its key)",
                "exporters.otlphttp.tls.server_name_override: 'not a name' is not a host name or an IP address",
                "exporters.otlphttp.tls.min_version: expected 1.0, 1.1, 1.2 or 1.3, got '1.4'",
                "exporters.otlphttp.tls.max_version: otelbox speaks TLS 1.2 and 1.3, so a maximum of 1.1 leaves no version to connect with; use 1.2 or 1.3",
            ]
        );
        assert_eq!(
            parse("{min_version: '1.3', max_version: '1.2', insecure_skip_verify: 'yes'}").1,
            vec![
                "exporters.otlphttp.tls.insecure_skip_verify: expected true or false, got a string",
                "exporters.otlphttp.tls.min_version: 1.3 is above max_version 1.2",
            ]
        );
    }

    #[test]
    fn insecure_is_returned_as_given_for_clients_it_switches() {
        let value: Value = serde_yaml_ng::from_str("{insecure: false}").unwrap();
        let mut errors = Vec::new();
        let (insecure, _) = parse_client_tls_with_insecure(&mut Parser::collecting(&mut errors), Some(&value), "receivers.redis.tls");
        assert_eq!((insecure, errors.len()), (Some(false), 0));
    }
}
