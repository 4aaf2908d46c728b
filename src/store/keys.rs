//! Why a search found nothing when a key it names is nowhere: "no span or resource has the
//! attribute `htp.method`; did you mean `http.method`?". The API asks only when a list came back
//! empty, so a search that finds something pays nothing.
//!
//! There is no index of attribute keys (the attribute index holds hashes of key and value), so the
//! keys are read from the newest `SAMPLE_ROWS` spans or log records and from the resources: exact
//! for a store that small, and the message says which rows were read when the store holds more.

use super::functions::{attribute_keys, event_attribute_keys};
use super::sql::Target;
use super::StoreError;
use crate::query::filter::{CmpOp, Expr, Field};
use rusqlite::Connection;
use std::collections::HashMap;

/// The newest spans or log records whose attribute keys are read.
pub const SAMPLE_ROWS: i64 = 20_000;
/// The newest resources whose attribute keys are read.
const MAX_RESOURCES: i64 = 10_000;
/// Keys longer than this are never suggested (nor compared letter by letter).
const MAX_SUGGESTED_CHARS: usize = 200;

/// What a filter names that a store may lack.
#[derive(Default, Debug, PartialEq)]
struct Named {
    /// Bare keys and `attr["..."]`: the item's attribute, else its resource's.
    attributes: Vec<String>,
    /// `resource.<key>`.
    resources: Vec<String>,
    /// `event.<key>` on spans.
    events: Vec<String>,
    /// `service = NAME`.
    services: Vec<String>,
}

fn push_new(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|i| i == item) {
        list.push(item.to_string());
    }
}

fn walk(expr: &Expr, target: Target, out: &mut Named) {
    let field = match expr {
        Expr::And(a, b) | Expr::Or(a, b) => {
            walk(a, target, out);
            walk(b, target, out);
            return;
        }
        Expr::Not(inner) => return walk(inner, target, out),
        Expr::Has(field) => field,
        Expr::Compare { field, op, value } => {
            if *field == Field::Service && *op == CmpOp::Eq {
                push_new(&mut out.services, &value_text(value));
            }
            field
        }
    };
    match field {
        Field::Attribute(key) => push_new(&mut out.attributes, key),
        Field::Resource(key) => push_new(&mut out.resources, key),
        Field::Event(key) if target == Target::Spans => push_new(&mut out.events, key),
        // Log records have no events: `event.<key>` is their attribute (`store::sql`).
        Field::Event(key) => push_new(&mut out.attributes, &format!("event.{key}")),
        _ => {}
    }
}

fn value_text(value: &crate::query::filter::Literal) -> String {
    use crate::query::filter::Literal;
    match value {
        Literal::Str(s) | Literal::Word(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Keys seen, with how often (the most used one is suggested among equally close ones).
type Seen = HashMap<String, u64>;

fn count_keys(seen: &mut Seen, key: &[u8]) {
    let key = String::from_utf8_lossy(key);
    match seen.get_mut(key.as_ref()) {
        Some(n) => *n += 1,
        None => {
            seen.insert(key.into_owned(), 1);
        }
    }
}

/// One message per key or service the expressions name that no item (of the newest
/// `SAMPLE_ROWS`) or resource has, with the closest known one when one is close. Spans and logs
/// only; empty when everything named exists somewhere.
pub fn missing_key_warnings(conn: &Connection, exprs: &[Expr], target: Target) -> Result<Vec<String>, StoreError> {
    if target == Target::Metrics {
        return Ok(Vec::new());
    }
    let mut named = Named::default();
    for expr in exprs {
        walk(expr, target, &mut named);
    }
    let mut warnings = Vec::new();
    if !named.services.is_empty() {
        let services: Vec<String> = conn
            .prepare_cached("SELECT DISTINCT service FROM resources")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for wanted in &named.services {
            if services.contains(wanted) {
                continue;
            }
            let known: Seen = services.iter().map(|s| (s.clone(), 1)).collect();
            let mut message = format!("no service is named `{wanted}`");
            if let Some(close) = closest(wanted, &known) {
                message.push_str(&format!("; did you mean `{close}`?"));
            }
            warnings.push(message);
        }
    }
    if named.attributes.is_empty() && named.resources.is_empty() && named.events.is_empty() {
        return Ok(warnings);
    }
    let (table, things) = match target {
        Target::Logs => ("logs", "log records"),
        _ => ("spans", "spans"),
    };
    // Own attribute keys (and, for spans, event attribute keys) of the newest rows.
    let (mut own, mut events) = (Seen::new(), Seen::new());
    let sql = if target == Target::Spans {
        crate::store::packed::spans_in_id_order("attrs, extra, id", "id >= 0", true, "?1")
    } else {
        "SELECT attrs, NULL FROM logs ORDER BY id DESC LIMIT ?1".to_string()
    };
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([SAMPLE_ROWS])?;
    while let Some(row) = rows.next()? {
        if let rusqlite::types::ValueRef::Blob(attrs) = row.get_ref(0)? {
            attribute_keys(attrs, |k| count_keys(&mut own, k));
        }
        if let rusqlite::types::ValueRef::Blob(extra) = row.get_ref(1)? {
            event_attribute_keys(extra, |k| count_keys(&mut events, k));
        }
    }
    drop(rows);
    let stored: i64 = conn
        .prepare_cached("SELECT coalesce(max(n), 0) FROM row_counts WHERE tbl = ?1")?
        .query_row([table], |r| r.get(0))?;
    let sampled = stored > SAMPLE_ROWS;
    let mut resource = Seen::new();
    let mut stmt = conn.prepare_cached("SELECT body FROM resources ORDER BY id DESC LIMIT ?")?;
    let mut rows = stmt.query([MAX_RESOURCES])?;
    while let Some(row) = rows.next()? {
        if let rusqlite::types::ValueRef::Blob(body) = row.get_ref(0)? {
            attribute_keys(body, |k| count_keys(&mut resource, k));
        }
    }
    drop(rows);

    let thing = if target == Target::Logs { "log record" } else { "span" };
    let nowhere = |what: &str| {
        if sampled {
            format!("neither the newest {SAMPLE_ROWS} {things} nor any resource has {what}")
        } else {
            format!("no {thing} or resource has {what}")
        }
    };
    let show = |field: Field| format!("`{field}`");
    for key in &named.attributes {
        if own.contains_key(key) || resource.contains_key(key) {
            continue;
        }
        let mut message = nowhere(&format!("the attribute {}", show(Field::Attribute(key.clone()))));
        if events.contains_key(key) {
            message.push_str(&format!(", but span events do: {}", show(Field::Event(key.clone()))));
        } else {
            let mut known = own.clone();
            for (k, n) in &resource {
                *known.entry(k.clone()).or_default() += n;
            }
            if let Some(close) = closest(key, &known) {
                message.push_str(&format!("; did you mean {}?", show(Field::Attribute(close.to_string()))));
            }
        }
        warnings.push(message);
    }
    for key in &named.resources {
        if resource.contains_key(key) {
            continue;
        }
        let mut message = format!("no resource has the attribute {}", show(Field::Resource(key.clone())));
        if own.contains_key(key) {
            message.push_str(&format!(", but {things} do: {}", show(Field::Attribute(key.clone()))));
        } else if let Some(close) = closest(key, &resource) {
            message.push_str(&format!("; did you mean {}?", show(Field::Resource(close.to_string()))));
        }
        warnings.push(message);
    }
    for key in &named.events {
        if events.contains_key(key) {
            continue;
        }
        let mut message = if sampled {
            format!(
                "no event of the newest {SAMPLE_ROWS} spans has the attribute {}",
                show(Field::Event(key.clone()))
            )
        } else {
            format!("no span event has the attribute {}", show(Field::Event(key.clone())))
        };
        if own.contains_key(key) || resource.contains_key(key) {
            message.push_str(&format!(", but spans do: {}", show(Field::Attribute(key.clone()))));
        } else if let Some(close) = closest(key, &events) {
            message.push_str(&format!("; did you mean {}?", show(Field::Event(close.to_string()))));
        }
        warnings.push(message);
    }
    Ok(warnings)
}

/// The known key closest to `wanted` by edit distance (ignoring case), when close enough to be a
/// typo: at most a third of its length, 1 to 3 edits. Equally close: the most used, then the first
/// in order.
fn closest<'a>(wanted: &str, known: &'a Seen) -> Option<&'a str> {
    let wanted_chars: Vec<char> = wanted.to_lowercase().chars().collect();
    if wanted_chars.len() > MAX_SUGGESTED_CHARS {
        return None;
    }
    let allowed = (wanted_chars.len() / 3).clamp(1, 3);
    let mut best: Option<(usize, u64, &str)> = None;
    for (key, &uses) in known {
        if key == wanted || key.chars().count() > MAX_SUGGESTED_CHARS {
            continue;
        }
        let key_chars: Vec<char> = key.to_lowercase().chars().collect();
        if key_chars.len().abs_diff(wanted_chars.len()) > allowed {
            continue;
        }
        let distance = edit_distance(&wanted_chars, &key_chars);
        if distance > allowed {
            continue;
        }
        let better = match best {
            None => true,
            Some((d, u, k)) => (distance, std::cmp::Reverse(uses), key.as_str()) < (d, std::cmp::Reverse(u), k),
        };
        if better {
            best = Some((distance, uses, key.as_str()));
        }
    }
    best.map(|(_, _, key)| key)
}

/// Edit distance with swaps (optimal string alignment): inserting, deleting or replacing one char,
/// or swapping two neighbours (`evn` for `env`), is one edit each.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let width = b.len() + 1;
    // Rows i-2, i-1 and i of the table, flattened.
    let mut table: Vec<usize> = Vec::with_capacity((a.len() + 1) * width);
    table.extend(0..width);
    for (i, ca) in a.iter().enumerate() {
        let row = (i + 1) * width;
        table.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let above = table[row - width + j + 1];
            let left = table[row + j];
            let diagonal = table[row - width + j];
            let mut best = (above + 1).min(left + 1).min(diagonal + usize::from(ca != cb));
            if i > 0 && j > 0 && *ca == b[j - 1] && a[i - 1] == *cb {
                best = best.min(table[row - 2 * width + j - 1] + 1);
            }
            table.push(best);
        }
    }
    table[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::filter::parse;

    fn named(text: &str, target: Target) -> Named {
        let mut out = Named::default();
        walk(&parse(text).unwrap().unwrap(), target, &mut out);
        out
    }

    #[test]
    fn the_keys_and_services_a_filter_names() {
        let n = named(
            r#"htp.method = GET and not has(resource.k8s.pod) or event.exception.type ~ x and service = chekout and service != a"#,
            Target::Spans,
        );
        assert_eq!(n.attributes, ["htp.method"]);
        assert_eq!(n.resources, ["k8s.pod"]);
        assert_eq!(n.events, ["exception.type"]);
        assert_eq!(n.services, ["chekout"]);
        let n = named("event.domain = x and attr[\"a b\"] = 1", Target::Logs);
        assert_eq!(n.attributes, ["event.domain", "a b"]);
        assert!(n.events.is_empty());
    }

    #[test]
    fn typos_are_suggested_and_strangers_are_not() {
        let known: Seen = [("http.method", 5), ("http.route", 9), ("HTTP.Method", 1), ("user.id", 2)]
            .into_iter()
            .map(|(k, n)| (k.to_string(), n))
            .collect();
        assert_eq!(closest("htp.method", &known), Some("http.method"));
        assert_eq!(closest("http.methd", &known), Some("http.method"));
        assert_eq!(closest("http.rout", &known), Some("http.route"));
        assert_eq!(closest("userid", &known), Some("user.id"));
        assert_eq!(closest("db.system", &known), None);
        assert_eq!(closest("x", &known), None);
        assert_eq!(closest("evn", &known), None, "nothing close");
        assert_eq!(edit_distance(&['e', 'v', 'n'], &['e', 'n', 'v']), 1, "a swap is one edit");
        assert_eq!(edit_distance(&['a', 'b', 'c'], &['x', 'b']), 2);
        assert_eq!(edit_distance(&[], &['a']), 1);
        assert_eq!(edit_distance(&['a'], &[]), 1);
    }
}
