//! The attribute values stored resources hold, as attribute-index hashes: the filter compiler asks
//! it whether an equality such as `deployment.environment = prod` may match through a resource.

use super::rows::attr_hashes;
use super::sql::ResourceAttrs;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use rusqlite::Connection;
use std::collections::HashSet;
use std::sync::RwLock;

/// Past this many distinct resource attribute values (thousands of pods, each with its own names)
/// the values are forgotten and only the keys are kept: an equality on any key some resource has
/// then takes the time-index walk (always correct), one on any other key (`run_id`) still the
/// attribute index. Memory stays a few MiB.
const MAX_HASHES: usize = 1 << 18;

/// Past this many distinct resource attribute keys (a sender making up keys) the keys are forgotten
/// too and every equality takes the time-index walk (always correct). Keys are kept as 64-bit
/// hashes, never as text, so 15,000 keys of 10 KB cost about 120 KiB, not 150 MiB; a collision only
/// ever sends a query down the slower, correct path.
const MAX_KEYS: usize = 1 << 16;

/// A superset of the attribute hashes of every stored resource. Resources are never deleted, and
/// the writer adds a resource's hashes before the transaction that inserts it commits, so a query
/// never misses a committed resource (at worst it takes the slower, always-correct path).
#[derive(Default)]
pub struct ResourceAttrHashes {
    inner: RwLock<Hashes>,
}

#[derive(Default)]
struct Hashes {
    /// `attr_hash` of every (key, scalar value) seen, until `overflowed`.
    values: HashSet<i64>,
    /// The hash of every attribute key seen (few: the same keys recur on every resource), until
    /// `saturated`.
    keys: HashSet<u64>,
    overflowed: bool,
    /// Too many keys to track: any resource may hold anything.
    saturated: bool,
}

impl ResourceAttrHashes {
    /// Every resource already in the database.
    pub fn load(conn: &Connection) -> rusqlite::Result<Self> {
        let hashes = ResourceAttrHashes::default();
        let mut stmt = conn.prepare("SELECT body FROM resources")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let body: Option<Vec<u8>> = row.get(0)?;
            hashes.add(body.as_deref().unwrap_or_default());
        }
        Ok(hashes)
    }

    /// A resource (its encoded `Resource` body, as stored) about to be inserted. Called once per
    /// resource: the writer asks only for resources missing from its id cache.
    pub fn add(&self, body: &[u8]) {
        // An undecodable body holds nothing a filter can match (`otelbox_attr` finds nothing either).
        let attributes = Resource::decode(body).map(|r| r.attributes).unwrap_or_default();
        let Ok(mut inner) = self.inner.write() else { return };
        if inner.saturated {
            return;
        }
        inner.keys.extend(attributes.iter().map(|kv| key_hash(&kv.key)));
        if inner.keys.len() > MAX_KEYS {
            *inner = Hashes {
                overflowed: true,
                saturated: true,
                ..Hashes::default()
            };
            return;
        }
        if !inner.overflowed {
            inner.values.extend(attr_hashes(&attributes));
            if inner.values.len() > MAX_HASHES {
                inner.overflowed = true;
                inner.values = HashSet::new();
            }
        }
    }
}

fn key_hash(key: &str) -> u64 {
    crate::hash::fnv1a_64(&[key.as_bytes()])
}

impl ResourceAttrs for ResourceAttrHashes {
    fn may_hold(&self, key: &str, hashes: &[i64]) -> bool {
        match self.inner.read() {
            Ok(inner) if inner.saturated => true,
            Ok(inner) if inner.overflowed => inner.keys.contains(&key_hash(key)),
            Ok(inner) => hashes.iter().any(|h| inner.values.contains(h)),
            Err(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::rows::{attr_hash, IndexValue};
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};

    fn body(key: &str, value: &str) -> Vec<u8> {
        Resource {
            attributes: vec![KeyValue {
                key: key.into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(value.into())),
                }),
                ..Default::default()
            }],
            ..Default::default()
        }
        .encode_to_vec()
    }

    /// Resource attribute keys a sender makes up (15,000 unique 10 KB keys took RSS from 16 to
    /// 230 MiB, kept across restarts) are held as hashes and, past `MAX_KEYS`, not at all: memory
    /// stays bounded and every equality may still match (the correct, slower path).
    #[test]
    fn unbounded_resource_attribute_keys_stay_bounded_in_memory() {
        let hashes = ResourceAttrHashes::default();
        let long = "k".repeat(10_000);
        for i in 0..MAX_KEYS + 10 {
            hashes.add(&body(&format!("{long}{i}"), "v"));
        }
        let inner = hashes.inner.read().unwrap();
        assert!(inner.saturated);
        assert!(inner.keys.is_empty() && inner.values.is_empty(), "nothing of the keys is kept");
        drop(inner);
        assert!(hashes.may_hold("run_id", &[attr_hash("run_id", &IndexValue::Str("R1"))]));
    }

    #[test]
    fn holds_exactly_the_values_of_added_resources() {
        let hashes = ResourceAttrHashes::default();
        let env = "deployment.environment";
        let prod = attr_hash(env, &IndexValue::Str("prod"));
        assert!(!hashes.may_hold(env, &[prod]));
        hashes.add(&body(env, "prod"));
        assert!(hashes.may_hold(env, &[prod]));
        assert!(!hashes.may_hold(env, &[attr_hash(env, &IndexValue::Str("dev"))]));
        hashes.add(b"\xff not a resource");
        assert!(!hashes.may_hold("run_id", &[attr_hash("run_id", &IndexValue::Str("R1"))]));
    }

    #[test]
    fn past_too_many_values_every_value_of_a_resource_key_is_possible() {
        let hashes = ResourceAttrHashes::default();
        for i in 0..=MAX_HASHES {
            hashes.add(&body("pod", &i.to_string()));
        }
        hashes.add(&body("zone", "a"));
        for key in ["pod", "zone"] {
            assert!(hashes.may_hold(key, &[attr_hash(key, &IndexValue::Str("never stored"))]), "{key}");
        }
        assert!(!hashes.may_hold("run_id", &[attr_hash("run_id", &IndexValue::Str("R1"))]));
    }
}
