//! Events as the engine sees them (id, source, time and a JSON body), field
//! lookup by dotted path with fan-out over arrays, and time parsing.
//!
//! It knows nothing of rules: a lookup takes a `Field` and the source's
//! optional field mapping.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::Value;

use crate::error::RuleError;

/// One log record to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Stable identifier, reported in matches (CloudTrail's `eventID`, say).
    pub id: String,
    /// Log source the host assigned (`aws_cloudtrail`); selects rules and field mapping.
    pub source: String,
    /// RFC 3339 time of the event; correlations order and window by it.
    pub time: String,
    /// The record itself.
    pub body: Value,
}

impl Event {
    /// An event whose body is already JSON.
    pub fn new(
        id: impl Into<String>,
        source: impl Into<String>,
        time: impl Into<String>,
        body: Value,
    ) -> Event {
        Event {
            id: id.into(),
            source: source.into(),
            time: time.into(),
            body,
        }
    }

    /// An event whose body arrives as JSON text (as the WIT `event` record carries it).
    pub fn from_json(
        id: impl Into<String>,
        source: impl Into<String>,
        time: impl Into<String>,
        body: &str,
    ) -> Result<Event, serde_json::Error> {
        Ok(Event::new(id, source, time, serde_json::from_str(body)?))
    }
}

/// A field's path may have at most this many dotted segments. Events nest
/// at most 128 levels (serde_json's limit), so a longer path never matches;
/// and matching a path costs time that grows with the square of its length
/// (flat keys with dots are tried prefix by prefix).
pub const MAX_PATH_SEGMENTS: usize = 128;

/// A field name in a rule, with its default path (split on `.`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The name as the rule writes it (`userIdentity.arn`).
    pub name: String,
    /// The name split on `.`: the path read when the source maps no other.
    pub path: Vec<String>,
}

impl Field {
    /// A field named `name`, read by default at its dotted path.
    pub fn new(name: &str) -> Field {
        Field {
            name: name.to_string(),
            path: split_path(name),
        }
    }

    /// A field named in a rule: refused when its path is longer than
    /// `MAX_PATH_SEGMENTS`.
    pub fn checked(name: &str) -> Result<Field, RuleError> {
        check_path(name)?;
        Ok(Field::new(name))
    }
}

/// Refuses a field name whose path is longer than `MAX_PATH_SEGMENTS`.
pub fn check_path(name: &str) -> Result<(), RuleError> {
    if name.split('.').nth(MAX_PATH_SEGMENTS).is_some() {
        return Err(RuleError::new(format!(
            "a field path has more than {MAX_PATH_SEGMENTS} dotted segments; no event nests that deep"
        )));
    }
    Ok(())
}

/// A dotted name as path segments (`a.b` → `["a", "b"]`).
pub fn split_path(name: &str) -> Vec<String> {
    name.split('.').map(str::to_string).collect()
}

/// Sigma field name → one or more JSON paths (already split), for one log source.
pub type FieldMap = HashMap<String, Vec<Vec<String>>>;

/// Appends to `out` every value found at `path` under `v`. Arrays on the way
/// fan out (every element is searched); a key that itself contains dots
/// (`"a.b": 1`) is found too.
///
/// A path longer than `MAX_PATH_SEGMENTS` (from a field mapping, say;
/// rules are refused such paths at load) finds nothing, so the recursion,
/// one level per segment and per nested array, stays bounded.
pub fn lookup_path<'a>(v: &'a Value, path: &[String], out: &mut Vec<&'a Value>) {
    if path.len() > MAX_PATH_SEGMENTS {
        return;
    }
    let Some((head, rest)) = path.split_first() else {
        out.push(v);
        return;
    };
    match v {
        Value::Object(map) => {
            if let Some(child) = map.get(head.as_str()) {
                lookup_path(child, rest, out);
            } else if !rest.is_empty() {
                // Flat keys with dots: try the longest joined prefix that exists.
                for n in (2..=path.len()).rev() {
                    let joined = path[..n].join(".");
                    if let Some(child) = map.get(&joined) {
                        lookup_path(child, &path[n..], out);
                        return;
                    }
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                lookup_path(item, path, out);
            }
        }
        _ => {}
    }
}

/// Resolves a rule field against an event body through the source's mapping.
pub fn lookup<'a>(
    body: &'a Value,
    field: &Field,
    map: Option<&FieldMap>,
    out: &mut Vec<&'a Value>,
) {
    if let Some(paths) = map.and_then(|m| m.get(&field.name)) {
        for p in paths {
            lookup_path(body, p, out);
        }
    } else {
        lookup_path(body, &field.path, out);
    }
}

/// The text a scalar (or an object, as compact JSON) is matched as; `None` for null.
pub fn text_of(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        Value::Null => None,
        Value::Object(_) | Value::Array(_) => Some(Cow::Owned(v.to_string())),
    }
}

/// Calls `f` on every non-array value: an array's elements stand for the field.
pub fn for_each_item<'a>(v: &'a Value, f: &mut dyn FnMut(&'a Value) -> bool) -> bool {
    match v {
        Value::Array(items) => items.iter().any(|i| for_each_item(i, f)),
        other => f(other),
    }
}

/// Every scalar leaf of the event (for keyword search).
pub fn any_leaf(v: &Value, f: &mut dyn FnMut(&Value) -> bool) -> bool {
    match v {
        Value::Object(m) => m.values().any(|c| any_leaf(c, f)),
        Value::Array(a) => a.iter().any(|c| any_leaf(c, f)),
        other => f(other),
    }
}

/// A value as a number: JSON numbers, and strings that parse as numbers.
pub fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
}

/// Milliseconds since the epoch of an RFC 3339 time (or `YYYY-MM-DD HH:MM:SS[.f]`, read as UTC).
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    None
}

/// RFC 3339 (UTC, milliseconds) text of epoch milliseconds.
pub fn format_time(ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        None => ms.to_string(),
    }
}
