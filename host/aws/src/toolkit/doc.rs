//! Normalizing what AWS returns into the asset schema: policy documents
//! (URL-decoded, `Statement`/`Action`/`Resource` always lists), times as
//! RFC 3339, tags as pairs. Never calls AWS.

use serde_json::{Map, Value};

/// Parse a policy document as AWS returns it (sometimes URL-encoded) and
/// normalize it: `Statement`, `Action`, `NotAction`, `Resource`,
/// `NotResource` become lists, `Principal` is `"*"` or an object of lists.
pub fn policy(text: &str) -> Result<Value, String> {
    let decoded = if text.trim_start().starts_with('%') {
        percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .map_err(|e| format!("the policy is not valid URL-encoded UTF-8: {e}"))?
            .into_owned()
    } else {
        text.to_string()
    };
    let mut doc: Value =
        serde_json::from_str(&decoded).map_err(|e| format!("the policy is not JSON: {e}"))?;
    if let Some(obj) = doc.as_object_mut()
        && let Some(st) = obj.remove("Statement")
    {
        let list: Vec<Value> = as_list(st).into_iter().map(statement).collect();
        obj.insert("Statement".into(), Value::Array(list));
    }
    Ok(doc)
}

fn as_list(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

fn statement(mut s: Value) -> Value {
    if let Some(obj) = s.as_object_mut() {
        for key in ["Action", "NotAction", "Resource", "NotResource"] {
            if let Some(v) = obj.remove(key) {
                obj.insert(key.into(), Value::Array(as_list(v)));
            }
        }
        for key in ["Principal", "NotPrincipal"] {
            if let Some(p) = obj.remove(key) {
                obj.insert(key.into(), principal(p));
            }
        }
    }
    s
}

fn principal(p: Value) -> Value {
    match p {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k, Value::Array(as_list(v))))
                .collect::<Map<String, Value>>(),
        ),
        other => other,
    }
}

/// An SDK time as RFC 3339 (UTC, seconds).
pub fn time(t: Option<&aws_smithy_types::DateTime>) -> Value {
    match t.and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()) {
        Some(s) => Value::String(normalize_rfc3339(&s)),
        None => Value::Null,
    }
}

/// `2026-01-02T03:04:05.123Z` → `2026-01-02T03:04:05Z` (what policies compare).
fn normalize_rfc3339(s: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(s) {
        Ok(t) => t
            .with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        Err(_) => s.to_string(),
    }
}

/// Tags as (key, value) pairs, from any SDK's tag type: `kv` gives an
/// entry's key and value (each `&str` or `Option<&str>`). An entry without a
/// key is skipped; a missing value is empty.
pub fn tags<'a, T, K, V>(list: &'a [T], kv: impl Fn(&'a T) -> (K, V)) -> Vec<(String, String)>
where
    K: Into<Option<&'a str>>,
    V: Into<Option<&'a str>>,
{
    list.iter()
        .filter_map(|t| {
            let (k, v) = kv(t);
            Some((
                k.into()?.to_string(),
                v.into().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

/// A string field or null.
pub fn s(v: Option<&str>) -> Value {
    v.map_or(Value::Null, |x| Value::String(x.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn policies_are_normalized() {
        let raw = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"s3:GetObject","Resource":"*"}}"#;
        let encoded: String =
            percent_encoding::utf8_percent_encode(raw, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        for text in [raw.to_string(), encoded] {
            let doc = policy(&text).unwrap();
            assert_eq!(
                doc["Statement"],
                json!([{"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::1:root"]}, "Action": ["s3:GetObject"], "Resource": ["*"]}])
            );
        }
        let star =
            policy(r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:*"]}]}"#)
                .unwrap();
        assert_eq!(star["Statement"][0]["Principal"], "*");
        assert!(policy("{not json").is_err());
    }
}
