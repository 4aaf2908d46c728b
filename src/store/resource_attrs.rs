//! The attribute values stored resources hold, as attribute-index hashes: the filter compiler asks
//! it whether an equality such as `deployment.environment = prod` may match through a resource.

use super::rows::{attr_hashes, Fnv};
use crate::query::ResourceAttrs;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use rusqlite::Connection;
use std::collections::HashSet;
use std::sync::RwLock;

/// Past this many distinct resource attribute values the set stops growing and answers "may hold"
/// to everything: queries stay correct (they walk the time index), and memory stays a few MiB.
const MAX_HASHES: usize = 1 << 18;

/// A superset of the attribute hashes of every stored resource. Resources are never deleted, and
/// the writer adds a resource's hashes before the transaction that inserts it commits, so a query
/// never misses a committed resource (at worst it takes the slower, always-correct path).
#[derive(Default)]
pub struct ResourceAttrHashes {
    inner: RwLock<Hashes>,
}

#[derive(Default)]
struct Hashes {
    known: HashSet<i64>,
    /// Also the bodies seen, so a resource's attributes are hashed once per process.
    resources: HashSet<i64>,
    overflowed: bool,
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

    /// A resource (its encoded `Resource` body, as stored) about to be inserted.
    pub fn add(&self, body: &[u8]) {
        let body_hash = Fnv::new().write(body).finish();
        if self
            .inner
            .read()
            .map(|h| h.overflowed || h.resources.contains(&body_hash))
            .unwrap_or(true)
        {
            return;
        }
        // An undecodable body holds nothing a filter can match (`otelbox_attr` finds nothing either).
        let attributes = Resource::decode(body).map(|r| r.attributes).unwrap_or_default();
        let Ok(mut inner) = self.inner.write() else { return };
        inner.resources.insert(body_hash);
        inner.known.extend(attr_hashes(&attributes));
        if inner.known.len() + inner.resources.len() > MAX_HASHES {
            inner.overflowed = true;
            inner.known = HashSet::new();
            inner.resources = HashSet::new();
        }
    }
}

impl ResourceAttrs for ResourceAttrHashes {
    fn may_hold(&self, hashes: &[i64]) -> bool {
        match self.inner.read() {
            Ok(inner) => inner.overflowed || hashes.iter().any(|h| inner.known.contains(h)),
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

    #[test]
    fn holds_exactly_the_values_of_added_resources() {
        let hashes = ResourceAttrHashes::default();
        let prod = attr_hash("deployment.environment", &IndexValue::Str("prod"));
        assert!(!hashes.may_hold(&[prod]));
        hashes.add(&body("deployment.environment", "prod"));
        assert!(hashes.may_hold(&[prod]));
        assert!(!hashes.may_hold(&[attr_hash("deployment.environment", &IndexValue::Str("dev"))]));
        hashes.add(b"\xff not a resource");
        assert!(!hashes.may_hold(&[attr_hash("run_id", &IndexValue::Str("R1"))]));
    }

    #[test]
    fn too_many_values_make_every_equality_possible() {
        let hashes = ResourceAttrHashes::default();
        for i in 0..MAX_HASHES {
            hashes.add(&body("pod", &i.to_string()));
        }
        assert!(hashes.may_hold(&[attr_hash("run_id", &IndexValue::Str("R1"))]));
    }
}
