//! The Config client's transport fixes: string timestamps in Config's answers
//! rewritten as epoch seconds, and answers buffered so that can happen.
//!
//! Config's answers carry timestamps as epoch numbers. Emulators (moto
//! writes `"2026-11-27 04:32:30.076240"`) and some proxies send ISO
//! strings instead, which the SDK's deserializer rejects, failing the
//! whole call. [`TimestampFix`], installed on the Config client only,
//! rewrites such strings into epoch seconds in the known timestamp fields
//! of Config's answers, and touches nothing else.
//!
//! Interceptors are synchronous and run before the body is read, so
//! [`Buffered`] reads Config's (small, JSON) answers into memory first.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextMut;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::Value;

/// The timestamp members of the Config answers Stance reads
/// (BatchGetResourceConfig, ListDiscoveredResources,
/// DescribeConfigurationRecorderStatus).
const FIELDS: &[&str] = &[
    "configurationItemCaptureTime",
    "resourceCreationTime",
    "configurationItemDeliveryTime",
    "resourceDeletionTime",
    "lastStartTime",
    "lastStopTime",
    "lastStatusChangeTime",
    // DescribeDeliveryChannelStatus (services/config.rs)
    "lastAttemptTime",
    "lastSuccessfulTime",
    "nextDeliveryTime",
];

#[derive(Debug)]
pub(super) struct TimestampFix;

impl Intercept for TimestampFix {
    fn name(&self) -> &'static str {
        "StanceConfigTimestamps"
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response_mut();
        let fixed = response.body().bytes().and_then(fix);
        if let Some(fixed) = fixed {
            let len = fixed.len();
            *response.body_mut() = SdkBody::from(fixed);
            if response.headers().contains_key("content-length") {
                response
                    .headers_mut()
                    .insert("content-length", len.to_string());
            }
        }
        Ok(())
    }
}

/// The body with its string timestamps rewritten, or `None` when it needs
/// no change (always, from AWS itself).
pub(super) fn fix(body: &[u8]) -> Option<Vec<u8>> {
    if !FIELDS
        .iter()
        .any(|f| body.windows(f.len()).any(|w| w == f.as_bytes()))
    {
        return None;
    }
    let mut doc: Value = serde_json::from_slice(body).ok()?;
    if rewrite(&mut doc) {
        serde_json::to_vec(&doc).ok()
    } else {
        None
    }
}

fn rewrite(v: &mut Value) -> bool {
    let mut changed = false;
    match v {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if FIELDS.contains(&k.as_str()) {
                    if let Value::String(s) = v
                        && let Some(n) = parse(s).and_then(serde_json::Number::from_f64)
                    {
                        *v = Value::Number(n);
                        changed = true;
                    }
                } else {
                    changed |= rewrite(v);
                }
            }
        }
        Value::Array(list) => {
            for v in list {
                changed |= rewrite(v);
            }
        }
        _ => {}
    }
    changed
}

/// Epoch seconds of a timestamp string: RFC 3339, or ISO 8601 with a
/// space instead of `T` and without an offset (UTC), or an epoch number
/// written as a string.
pub(super) fn parse(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<f64>() {
        return n.is_finite().then_some(n);
    }
    let t = s.replacen(' ', "T", 1);
    let utc = if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&t) {
        t.with_timezone(&chrono::Utc)
    } else {
        chrono::NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M:%S%.f")
            .ok()?
            .and_utc()
    };
    Some(utc.timestamp() as f64 + f64::from(utc.timestamp_subsec_micros()) / 1e6)
}

/// The SDK's HTTP client, with every answer read into memory before the
/// interceptors see it.
#[derive(Debug)]
pub(super) struct Buffered(pub SharedHttpClient);

impl HttpClient for Buffered {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(BufferedConnector(
            self.0.http_connector(settings, components),
        ))
    }

    fn validate_base_client_config(
        &self,
        components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.validate_base_client_config(components, cfg)
    }

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

#[derive(Debug)]
struct BufferedConnector(SharedHttpConnector);

impl HttpConnector for BufferedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.0.clone();
        HttpConnectorFuture::new(async move {
            let mut response = inner.call(request).await?;
            let body = std::mem::replace(response.body_mut(), SdkBody::taken());
            let bytes = ByteStream::new(body)
                .collect()
                .await
                .map_err(|e| ConnectorError::io(e.into()))?
                .into_bytes();
            *response.body_mut() = SdkBody::from(bytes);
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_timestamps_become_epoch_seconds() {
        let body = br#"{"baseConfigurationItems":[{"configurationItemCaptureTime":"2026-11-27 04:32:30.076240","resourceCreationTime":"2026-11-27 04:37:28.620863+00:00","configuration":"{\"createDate\": \"2026-11-27 04:37:28\"}","resourceName":"2026-11-27 04:32:30"}]}"#;
        let fixed: Value = serde_json::from_slice(&fix(body).unwrap()).unwrap();
        let item = &fixed["baseConfigurationItems"][0];
        let capture = item["configurationItemCaptureTime"].as_f64().unwrap();
        assert!((capture - 1_795_753_950.076_24).abs() < 1e-3, "{capture}");
        let created = item["resourceCreationTime"].as_f64().unwrap();
        assert!((created - 1_795_754_248.620_863).abs() < 1e-3, "{created}");
        // other fields, embedded configuration included, are left alone
        assert_eq!(item["resourceName"], "2026-11-27 04:32:30");
        assert_eq!(
            item["configuration"],
            "{\"createDate\": \"2026-11-27 04:37:28\"}"
        );
        // epoch numbers (AWS itself) need no change
        assert!(fix(br#"{"lastStartTime":1795753950.07}"#).is_none());
        assert!(fix(br#"{"other":"x"}"#).is_none());
    }
}
