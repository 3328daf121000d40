//! Reading typed fields out of an asset or event body.
//!
//! Paths are dotted (`versioning.status`), with `[n]` for list elements
//! (`rules[0].sse_algorithm`). A missing step yields `None`, never a panic.

use serde_json::Value;

use crate::{Asset, Event, PluginError};

/// The value at `path` inside `value`, or `None` when any step is missing.
pub fn field<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = value;
    for segment in split_path(path) {
        current = match segment {
            Segment::Key(key) => current.as_object()?.get(key)?,
            Segment::Index(index) => current.as_array()?.get(index)?,
        };
    }
    Some(current)
}

/// The string at `path`, or `None` when it is missing or not a string.
pub fn field_str<'a>(value: &'a Value, path: &str) -> Option<&'a str> {
    field(value, path).and_then(Value::as_str)
}

/// The boolean at `path`, or `None` when it is missing or not a boolean.
pub fn field_bool(value: &Value, path: &str) -> Option<bool> {
    field(value, path).and_then(Value::as_bool)
}

/// The integer at `path`, or `None` when it is missing or not an integer.
pub fn field_i64(value: &Value, path: &str) -> Option<i64> {
    field(value, path).and_then(Value::as_i64)
}

/// The list at `path`, or `None` when it is missing or not a list.
pub fn field_array<'a>(value: &'a Value, path: &str) -> Option<&'a Vec<Value>> {
    field(value, path).and_then(Value::as_array)
}

enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

fn split_path(path: &str) -> impl Iterator<Item = Segment<'_>> {
    path.split('.').filter(|s| !s.is_empty()).flat_map(|part| {
        let (key, rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        let key = (!key.is_empty()).then_some(Segment::Key(key));
        let indexes = rest
            .split('[')
            .filter_map(|s| s.strip_suffix(']'))
            .map(|s| s.parse::<usize>().map_or(Segment::Key(s), Segment::Index));
        key.into_iter().chain(indexes)
    })
}

impl Asset {
    /// The asset body parsed as JSON. A body that is not JSON is a plugin error
    /// (the host only sends JSON objects, so this signals a broken host).
    pub fn body_json(&self) -> Result<Value, PluginError> {
        serde_json::from_str(&self.body)
            .map_err(|e| PluginError::new(format!("asset {}: body is not JSON: {e}", self.id)))
    }

    /// The value of tag `key`, if the asset carries it.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key == key)
            .map(|t| t.value.as_str())
    }
}

impl Event {
    /// The raw event record parsed as JSON.
    pub fn body_json(&self) -> Result<Value, PluginError> {
        serde_json::from_str(&self.body)
            .map_err(|e| PluginError::new(format!("event {}: body is not JSON: {e}", self.id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn walks_keys_and_indexes() {
        let v = json!({"a": {"b": [{"c": 1}, {"c": 2}]}, "x": {"y.z": 3}});
        assert_eq!(field(&v, "a.b[1].c"), Some(&json!(2)));
        assert_eq!(field(&v, "a.b[2].c"), None);
        assert_eq!(field(&v, "a.missing"), None);
        assert_eq!(field(&v, "a.b.c"), None);
        assert_eq!(field_str(&json!({"s": "t"}), "s"), Some("t"));
    }
}
