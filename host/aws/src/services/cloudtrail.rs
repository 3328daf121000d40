//! CloudTrail: the trails whose home region is this region, each reported
//! once (no shadow copies), with logging status, basic and advanced event
//! selectors, encryption, validation, CloudWatch Logs delivery and tags.
//! Never reads the log files the trails deliver.

use std::collections::HashSet;

use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::types::{AdvancedEventSelector, EventSelector, Trail};
use aws_smithy_runtime_api::client::result::SdkError;
use futures::StreamExt;
use serde_json::{Value, json};
use stance_model::Asset;

use crate::toolkit::doc::{self, s};
use crate::toolkit::record::{Failed, Failures, Misses};
use crate::toolkit::{Output, Target};

const SERVICE: &str = "cloudtrail";
const TRAIL: &str = "aws_cloudtrail_trail";

pub(crate) async fn collect(target: &Target) -> Output {
    let mut out = Output::default();
    if target.covered(TRAIL) {
        return out;
    }
    let c = Client::new(&target.sdk);
    // DescribeTrails answers every trail of the region at once (it has no
    // pages). Without shadow trails, a multi-region trail comes back only
    // from its home region; organization trails only in the management account.
    let listed = match target
        .call(c.describe_trails().include_shadow_trails(false).send())
        .await
    {
        Ok(r) => r.trail_list().to_vec(),
        Err(e) => {
            out.errors
                .push(target.sdk_error(SERVICE, "DescribeTrails", &e, &[TRAIL]));
            return out;
        }
    };
    let mut seen = HashSet::new();
    let trails: Vec<Trail> = listed
        .into_iter()
        .filter(|t| t.home_region().is_none_or(|r| r == target.region))
        .filter(|t| seen.insert(t.trail_arn().or(t.name()).map(str::to_string)))
        .collect();

    let c = &c;
    let results: Vec<(String, Asset, Vec<Failed>)> = futures::stream::iter(trails)
        .map(|t| async move {
            let (asset, failed) = trail(target, c, &t).await;
            (asset.name.clone(), asset, failed)
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut failures = Failures::default();
    for (name, asset, failed) in results {
        failures.add_all(&name, failed);
        out.assets.push(asset);
    }
    out.errors.extend(failures.report(target, SERVICE, "trails"));
    out
}

async fn trail(target: &Target, c: &Client, t: &Trail) -> (Asset, Vec<Failed>) {
    let name = t.name().unwrap_or_default().to_string();
    let home = t.home_region().unwrap_or(&target.region).to_string();
    let arn = t.trail_arn().map_or_else(
        || {
            format!(
                "arn:{}:cloudtrail:{home}:{}:trail/{name}",
                target.partition(),
                target.account
            )
        },
        str::to_string,
    );
    let mut m = Misses::default();
    let (status, selectors, tags) = tokio::join!(
        target.call(c.get_trail_status().name(&arn).send()),
        target.call(c.get_event_selectors().trail_name(&arn).send()),
        tags(target, c, &arn),
    );
    let (is_logging, latest_delivery_time) = match status {
        Ok(r) => (json!(r.is_logging()), doc::time(r.latest_delivery_time())),
        Err(e) => (
            m.sdk(
                &["is_logging", "latest_delivery_time"],
                "GetTrailStatus",
                &e,
            ),
            Value::Null,
        ),
    };
    let (event_selectors, advanced_event_selectors) = match selectors {
        Ok(r) => (
            Value::Array(r.event_selectors().iter().map(basic).collect()),
            Value::Array(r.advanced_event_selectors().iter().map(advanced).collect()),
        ),
        Err(e) => (
            m.sdk(
                &["event_selectors", "advanced_event_selectors"],
                "GetEventSelectors",
                &e,
            ),
            Value::Null,
        ),
    };
    let tags = match tags {
        Ok(tags) => tags,
        Err(e) => {
            m.fail(Failed::sdk("ListTags", &e));
            Vec::new()
        }
    };
    let body = json!({
        "name": name,
        "home_region": home,
        "s3_bucket_name": s(t.s3_bucket_name()),
        "is_multi_region_trail": t.is_multi_region_trail(),
        "include_global_service_events": t.include_global_service_events(),
        "is_organization_trail": t.is_organization_trail(),
        "log_file_validation_enabled": t.log_file_validation_enabled(),
        "kms_key_id": s(t.kms_key_id()),
        "cloud_watch_logs_log_group_arn": s(t.cloud_watch_logs_log_group_arn()),
        "is_logging": is_logging,
        "latest_delivery_time": latest_delivery_time,
        "event_selectors": event_selectors,
        "advanced_event_selectors": advanced_event_selectors,
    });
    let asset = target.asset(&home, arn, TRAIL, name, tags, body, m.gaps);
    (asset, m.failed)
}

fn basic(e: &EventSelector) -> Value {
    json!({
        "read_write_type": e.read_write_type().map(|r| r.as_str()),
        "include_management_events": e.include_management_events(),
        "data_resources": e
            .data_resources()
            .iter()
            .map(|d| json!({"type": d.r#type(), "values": d.values()}))
            .collect::<Vec<_>>(),
    })
}

fn advanced(e: &AdvancedEventSelector) -> Value {
    json!({
        "name": e.name(),
        "field_selectors": e
            .field_selectors()
            .iter()
            .map(|f| json!({
                "field": f.field(),
                "equals": f.equals(),
                "starts_with": f.starts_with(),
                "ends_with": f.ends_with(),
                "not_equals": f.not_equals(),
                "not_starts_with": f.not_starts_with(),
                "not_ends_with": f.not_ends_with(),
            }))
            .collect::<Vec<_>>(),
    })
}

type TagsError = SdkError<
    aws_sdk_cloudtrail::operation::list_tags::ListTagsError,
    aws_smithy_runtime_api::client::orchestrator::HttpResponse,
>;

/// The trail's tags, every page.
async fn tags(target: &Target, c: &Client, arn: &str) -> Result<Vec<(String, String)>, TagsError> {
    let pages = c.list_tags().resource_id_list(arn).into_paginator().send();
    let resources = target
        .items(pages, |p| p.resource_tag_list.unwrap_or_default())
        .await?;
    Ok(resources
        .iter()
        .filter(|r| r.resource_id().is_none_or(|id| id == arn))
        .flat_map(|r| doc::tags(r.tags_list(), |t| (t.key(), t.value())))
        .collect())
}
