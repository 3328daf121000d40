//! Normalisation of configuration-item values: the JSON of an item's
//! `configuration`, doubly-encoded supplementary JSON text, and Config's
//! timestamps (strings or epoch milliseconds) as the RFC 3339 Stance writes.
//! Never calls AWS.

use aws_sdk_config::types::BaseConfigurationItem;
use serde_json::Value;

use super::timestamps;

/// An item's `configuration` as JSON.
pub(super) fn configuration(item: &BaseConfigurationItem) -> Result<Value, String> {
    let text = item
        .configuration()
        .ok_or_else(|| "the item has no configuration".to_string())?;
    serde_json::from_str(text).map_err(|e| format!("its configuration is not JSON: {e}"))
}

/// A JSON value that may be JSON text (Config encodes supplementary
/// configuration as strings, some of them twice).
#[cfg(feature = "s3")]
pub(super) fn decoded(v: Value) -> Value {
    let mut v = v;
    for _ in 0..2 {
        match v {
            Value::String(s) => match serde_json::from_str(&s) {
                Ok(inner) => v = inner,
                Err(_) => return Value::String(s),
            },
            other => return other,
        }
    }
    v
}

/// A time as Config writes it in a configuration (`2019-03-29T19:06:19.000Z`;
/// emulators drop the offset or write a space) as RFC 3339 in UTC, seconds.
pub(super) fn config_time(v: &Value) -> Option<Value> {
    let secs = match v {
        Value::String(s) => timestamps::parse(s)?,
        // Epoch milliseconds, as some configurations write dates.
        Value::Number(n) => n.as_f64()? / 1000.0,
        _ => return None,
    };
    let t = aws_smithy_types::DateTime::from_secs(secs.floor() as i64);
    Some(crate::toolkit::doc::time(Some(&t)))
}
