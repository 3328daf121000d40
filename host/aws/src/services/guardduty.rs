//! GuardDuty: one `aws_guardduty_detector` asset per account and region, its
//! detector's status, finding publishing frequency and protection plans
//! (features), or `detector_id: null` where the region has no detector
//! (GuardDuty allows one detector per account and region).
//! Never reads GuardDuty's findings (`stance detect` reads exported ones).

use std::collections::BTreeMap;

use aws_sdk_guardduty::Client;
use aws_sdk_guardduty::operation::get_detector::GetDetectorOutput;
use serde_json::{Map, Value, json};

use crate::toolkit::doc::s;
use crate::toolkit::record::Misses;
use crate::toolkit::{Output, Target};

const SERVICE: &str = "guardduty";
const DETECTOR: &str = "aws_guardduty_detector";

/// The protection plans every body names (null when GuardDuty does not
/// report them in the region); any other feature GuardDuty reports is added
/// under its own name, lower-cased.
const FEATURES: &[&str] = &[
    "s3_data_events",
    "eks_audit_logs",
    "ebs_malware_protection",
    "rds_login_events",
    "lambda_network_logs",
    "eks_runtime_monitoring",
    "runtime_monitoring",
];

const DETECTOR_FIELDS: &[&str] = &[
    "status",
    "finding_publishing_frequency",
    "created_at",
    "features",
    "additional_configuration",
];

pub(crate) async fn collect(target: &Target) -> Output {
    let mut out = Output::default();
    let c = Client::new(&target.sdk);
    let pages = c.list_detectors().into_paginator().send();
    let ids = match target
        .items(pages, |p| p.detector_ids.unwrap_or_default())
        .await
    {
        Ok(ids) => ids,
        Err(e) => {
            out.errors
                .push(target.sdk_error(SERVICE, "ListDetectors", &e, &[DETECTOR]));
            return out;
        }
    };
    let mut m = Misses::default();
    // GuardDuty allows one detector per account and region.
    let chosen: Option<(String, Option<GetDetectorOutput>)> = match ids.into_iter().next() {
        None => None,
        Some(id) => match target.call(c.get_detector().detector_id(&id).send()).await {
            Ok(d) => Some((id, Some(d))),
            Err(e) => {
                m.sdk(DETECTOR_FIELDS, "GetDetector", &e);
                Some((id, None))
            }
        },
    };
    let body = detector_body(target, &chosen);
    let tags = chosen
        .as_ref()
        .and_then(|(_, d)| d.as_ref())
        .map(detector_tags)
        .unwrap_or_default();
    m.regional_setting(
        target,
        &mut out,
        SERVICE,
        "guardduty",
        "detector-status",
        DETECTOR,
        tags,
        body,
    );
    out
}

/// The body: the detector chosen (its id, and GetDetector's answer unless
/// that failed), or nulls where the region has no detector.
fn detector_body(target: &Target, chosen: &Option<(String, Option<GetDetectorOutput>)>) -> Value {
    let Some((id, d)) = chosen else {
        return json!({
            "detector_id": null,
            "arn": null,
            "status": null,
            "finding_publishing_frequency": null,
            "created_at": null,
            "features": null,
            "additional_configuration": null,
        });
    };
    let d = d.as_ref();
    let (features, additional) = match d {
        Some(d) => features(d),
        None => (Value::Null, Value::Null),
    };
    json!({
        "detector_id": id,
        "arn": format!(
            "arn:{}:guardduty:{}:{}:detector/{id}",
            target.partition(),
            target.region,
            target.account
        ),
        "status": d.and_then(|d| d.status()).map(|v| v.as_str()),
        "finding_publishing_frequency": d
            .and_then(|d| d.finding_publishing_frequency())
            .map(|v| v.as_str()),
        "created_at": s(d.and_then(|d| d.created_at())),
        "features": features,
        "additional_configuration": additional,
    })
}

/// The detector's tags, sorted.
fn detector_tags(d: &GetDetectorOutput) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = d
        .tags()
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    tags.sort();
    tags
}

/// The status of every protection plan, by lower-cased feature name, and
/// the additional configuration of each (`{runtime_monitoring:
/// {eks_addon_management: "ENABLED", …}}`), from `features` (the deprecated
/// `dataSources` is not read: GuardDuty reports every plan as a feature).
fn features(d: &GetDetectorOutput) -> (Value, Value) {
    let mut status: BTreeMap<String, Value> = FEATURES
        .iter()
        .map(|f| (f.to_string(), Value::Null))
        .collect();
    let mut additional = Map::new();
    for f in d.features() {
        let Some(name) = f.name() else { continue };
        let name = name.as_str().to_ascii_lowercase();
        status.insert(name.clone(), json!(f.status().map(|v| v.as_str())));
        if !f.additional_configuration().is_empty() {
            let extra: Map<String, Value> = f
                .additional_configuration()
                .iter()
                .filter_map(|a| {
                    Some((
                        a.name()?.as_str().to_ascii_lowercase(),
                        json!(a.status().map(|v| v.as_str())),
                    ))
                })
                .collect();
            additional.insert(name, Value::Object(extra));
        }
    }
    (
        Value::Object(status.into_iter().collect()),
        Value::Object(additional),
    )
}
