//! GuardDuty: one `aws_guardduty_detector` asset per account and region, its
//! detector's status, finding publishing frequency and protection plans
//! (features), or `detector_id: null` where the region has no detector
//! (GuardDuty allows one detector per account and region).

use std::collections::BTreeMap;

use aws_sdk_guardduty::Client;
use aws_sdk_guardduty::operation::get_detector::GetDetectorOutput;
use serde_json::{Map, Value, json};

use super::doc::s;
use super::record::Misses;
use super::{Ctx, Output};

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

pub async fn collect(ctx: &Ctx) -> Output {
    let mut out = Output::default();
    let c = Client::new(&ctx.sdk);
    let pages = c.list_detectors().into_paginator().send();
    let ids = match ctx
        .items(pages, |p| p.detector_ids.unwrap_or_default())
        .await
    {
        Ok(ids) => ids,
        Err(e) => {
            out.errors
                .push(ctx.sdk_error(SERVICE, "ListDetectors", &e, &[DETECTOR]));
            return out;
        }
    };
    let mut m = Misses::default();
    // GuardDuty allows one detector per account and region.
    let chosen: Option<(String, Option<GetDetectorOutput>)> = match ids.into_iter().next() {
        None => None,
        Some(id) => match ctx.call(c.get_detector().detector_id(&id).send()).await {
            Ok(d) => Some((id, Some(d))),
            Err(e) => {
                m.sdk(DETECTOR_FIELDS, "GetDetector", &e);
                Some((id, None))
            }
        },
    };
    let body = match &chosen {
        None => json!({
            "detector_id": null,
            "arn": null,
            "status": null,
            "finding_publishing_frequency": null,
            "created_at": null,
            "features": null,
            "additional_configuration": null,
        }),
        Some((id, d)) => {
            let d = d.as_ref();
            let (features, additional) = match d {
                Some(d) => features(d),
                None => (Value::Null, Value::Null),
            };
            json!({
                "detector_id": id,
                "arn": format!(
                    "arn:{}:guardduty:{}:{}:detector/{id}",
                    ctx.partition(),
                    ctx.region,
                    ctx.account
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
    };
    let tags = chosen
        .as_ref()
        .and_then(|(_, d)| d.as_ref())
        .and_then(|d| d.tags())
        .map(|t| {
            let mut t: Vec<(String, String)> =
                t.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            t.sort();
            t
        })
        .unwrap_or_default();
    m.regional_setting(
        ctx,
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
