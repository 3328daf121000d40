//! AWS Config's own state in a region: the configuration recorders (what
//! they record, whether they are recording, their last status) and the
//! delivery channels with their last deliveries. One `aws_config_recorder`
//! asset per account and region, also where no recorder exists
//! (`recorders: []`), so a rule can say that Config is off there.
//! It only describes Config itself: reading Config as a source of other
//! services' assets is `config_source/`'s, and this module never reads a
//! configuration item.

use aws_sdk_config::types::{
    ConfigExportDeliveryInfo, ConfigStreamDeliveryInfo, ConfigurationRecorder,
    ConfigurationRecorderStatus, DeliveryChannel, DeliveryChannelStatus,
};
use serde_json::{Value, json};

use crate::config_source::client;
use crate::toolkit::doc::{self, s};
use crate::toolkit::record::{Failed, Misses};
use crate::toolkit::{Output, Target};

const SERVICE: &str = "config";
const RECORDER: &str = "aws_config_recorder";

/// The fields of a recorder that DescribeConfigurationRecorderStatus gives.
const STATUS_FIELDS: &[&str] = &[
    "recorders[].recording",
    "recorders[].last_status",
    "recorders[].last_error_code",
    "recorders[].last_start_time",
    "recorders[].last_status_change_time",
];

pub(crate) async fn collect(target: &Target) -> Output {
    let mut out = Output::default();
    let c = client(target);
    let (recorders, status, channels, delivery) = tokio::join!(
        target.call(c.describe_configuration_recorders().send()),
        target.call(c.describe_configuration_recorder_status().send()),
        target.call(c.describe_delivery_channels().send()),
        target.call(c.describe_delivery_channel_status().send()),
    );
    // Without the recorders there is nothing to describe: the type is not collected here.
    let recorders = match recorders {
        Ok(r) => r.configuration_recorders.unwrap_or_default(),
        Err(e) => {
            out.errors.push(target.sdk_error(
                SERVICE,
                "DescribeConfigurationRecorders",
                &e,
                &[RECORDER],
            ));
            return out;
        }
    };
    let mut m = Misses::default();
    let status = match status {
        Ok(r) => Some(r.configuration_recorders_status.unwrap_or_default()),
        Err(e) => {
            let failed = Failed::sdk("DescribeConfigurationRecorderStatus", &e);
            if recorders.is_empty() {
                // Nothing is unknown: there is no recorder to have a status.
                m.fail(failed);
            } else {
                m.gap(STATUS_FIELDS, failed);
            }
            None
        }
    };
    let delivery_channels = match channels {
        Ok(r) => Value::Array(r.delivery_channels().iter().map(delivery_channel).collect()),
        Err(e) => m.sdk(&["delivery_channels"], "DescribeDeliveryChannels", &e),
    };
    let delivery_status = match delivery {
        Ok(r) => Value::Array(
            r.delivery_channels_status()
                .iter()
                .map(delivery_status)
                .collect(),
        ),
        Err(e) => m.sdk(&["delivery_status"], "DescribeDeliveryChannelStatus", &e),
    };
    let body = json!({
        "recorders": recorders
            .iter()
            .map(|r| recorder(r, status.as_deref()))
            .collect::<Vec<_>>(),
        "delivery_channels": delivery_channels,
        "delivery_status": delivery_status,
    });
    m.regional_setting(
        target,
        &mut out,
        SERVICE,
        "config",
        "recorder-status",
        RECORDER,
        Vec::new(),
        body,
    );
    out
}

/// One recorder and its status (`None` when the status could not be read:
/// its fields are null, with gaps).
fn recorder(r: &ConfigurationRecorder, status: Option<&[ConfigurationRecorderStatus]>) -> Value {
    let g = r.recording_group();
    let st = status.and_then(|all| all.iter().find(|st| st.name() == r.name()));
    let recording = match (status, st) {
        (Some(_), Some(st)) => Value::Bool(st.recording()),
        // Listed without a status: not recording.
        (Some(_), None) => Value::Bool(false),
        (None, _) => Value::Null,
    };
    json!({
        "name": s(r.name()),
        "role_arn": s(r.role_arn()),
        "service_principal": s(r.service_principal()),
        "recording": recording,
        "last_status": st.and_then(|st| st.last_status()).map(|v| v.as_str()),
        "last_error_code": s(st.and_then(|st| st.last_error_code())),
        "last_start_time": doc::time(st.and_then(|st| st.last_start_time())),
        "last_status_change_time": doc::time(st.and_then(|st| st.last_status_change_time())),
        // No recording group: Config's default, every supported regional type.
        "all_supported": g.is_none_or(|g| g.all_supported()),
        "include_global_resource_types": g.is_some_and(|g| g.include_global_resource_types()),
        "recording_strategy": g
            .and_then(|g| g.recording_strategy())
            .and_then(|s| s.use_only())
            .map(|u| u.as_str()),
        "resource_types": g
            .map(|g| g.resource_types().iter().map(|t| t.as_str()).collect::<Vec<_>>())
            .unwrap_or_default(),
        "excluded_resource_types": g
            .and_then(|g| g.exclusion_by_resource_types())
            .map(|x| x.resource_types().iter().map(|t| t.as_str()).collect::<Vec<_>>())
            .unwrap_or_default(),
        "recording_frequency": r
            .recording_mode()
            .map(|m| m.recording_frequency().as_str()),
    })
}

fn delivery_channel(c: &DeliveryChannel) -> Value {
    json!({
        "name": s(c.name()),
        "s3_bucket_name": s(c.s3_bucket_name()),
        "s3_key_prefix": s(c.s3_key_prefix()),
        "s3_kms_key_arn": s(c.s3_kms_key_arn()),
        "sns_topic_arn": s(c.sns_topic_arn()),
        "snapshot_delivery_frequency": c
            .config_snapshot_delivery_properties()
            .and_then(|p| p.delivery_frequency())
            .map(|f| f.as_str()),
    })
}

fn delivery_status(d: &DeliveryChannelStatus) -> Value {
    let export = |i: Option<&ConfigExportDeliveryInfo>| match i {
        Some(i) => json!({
            "last_status": i.last_status().map(|v| v.as_str()),
            "last_error_code": s(i.last_error_code()),
            "last_attempt_time": doc::time(i.last_attempt_time()),
            "last_successful_time": doc::time(i.last_successful_time()),
        }),
        None => Value::Null,
    };
    let stream = |i: Option<&ConfigStreamDeliveryInfo>| match i {
        Some(i) => json!({
            "last_status": i.last_status().map(|v| v.as_str()),
            "last_error_code": s(i.last_error_code()),
            "last_status_change_time": doc::time(i.last_status_change_time()),
        }),
        None => Value::Null,
    };
    json!({
        "name": s(d.name()),
        "config_history": export(d.config_history_delivery_info()),
        "config_snapshot": export(d.config_snapshot_delivery_info()),
        "config_stream": stream(d.config_stream_delivery_info()),
    })
}
