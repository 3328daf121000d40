//! CloudTrail: the trails whose home region is this region, each reported
//! once (no shadow copies), with logging status, basic and advanced event
//! selectors, encryption, validation, CloudWatch Logs delivery and tags.

use std::collections::{BTreeMap, HashSet};
use std::convert::Infallible;

use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::types::{AdvancedEventSelector, EventSelector, Trail};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use futures::StreamExt;
use serde_json::{Value, json};

use super::doc::{self, s};
use super::errors::classify;
use super::{Ctx, Output};
use crate::model::{Asset, Gap};

const SERVICE: &str = "cloudtrail";
const TRAIL: &str = "aws_cloudtrail_trail";

pub async fn collect(ctx: &Ctx) -> Output {
    let mut out = Output::default();
    if ctx.covered(TRAIL) {
        return out;
    }
    let c = Client::new(&ctx.sdk);
    // DescribeTrails answers every trail of the region at once (it has no
    // pages). Without shadow trails, a multi-region trail comes back only
    // from its home region; organization trails only in the management account.
    let listed = match ctx
        .call(c.describe_trails().include_shadow_trails(false).send())
        .await
    {
        Ok(r) => r.trail_list().to_vec(),
        Err(e) => {
            out.errors
                .push(ctx.sdk_error(SERVICE, "DescribeTrails", &e, &[TRAIL]));
            return out;
        }
    };
    let mut seen = HashSet::new();
    let trails: Vec<Trail> = listed
        .into_iter()
        .filter(|t| t.home_region().is_none_or(|r| r == ctx.region))
        .filter(|t| seen.insert(t.trail_arn().or(t.name()).map(str::to_string)))
        .collect();

    let c = &c;
    let results: Vec<(String, Asset, Vec<Failed>)> = futures::stream::iter(trails)
        .map(|t| async move {
            let (asset, failed) = trail(ctx, c, &t).await;
            (asset.name.clone(), asset, failed)
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut failures = Failures::default();
    for (name, asset, failed) in results {
        for (op, kind, message) in failed {
            failures.add(op, kind, &name, message);
        }
        out.assets.push(asset);
    }
    failures.report(ctx, "trails", &mut out);
    out
}

/// One page of a paginated call, under the concurrency limit like any other call.
async fn next_page<T>(ctx: &Ctx, page: impl Future<Output = Option<T>>) -> Option<T> {
    let Ok(page) = ctx.call(async { Ok::<_, Infallible>(page.await) }).await;
    page
}

async fn trail(ctx: &Ctx, c: &Client, t: &Trail) -> (Asset, Vec<Failed>) {
    let name = t.name().unwrap_or_default().to_string();
    let home = t.home_region().unwrap_or(&ctx.region).to_string();
    let arn = t.trail_arn().map_or_else(
        || format!("arn:aws:cloudtrail:{home}:{}:trail/{name}", ctx.account),
        str::to_string,
    );
    let mut m = Misses::default();
    let (status, selectors, tags) = tokio::join!(
        ctx.call(c.get_trail_status().name(&arn).send()),
        ctx.call(c.get_event_selectors().trail_name(&arn).send()),
        tags(ctx, c, &arn),
    );
    let (is_logging, latest_delivery_time) = match status {
        Ok(r) => (json!(r.is_logging()), doc::time(r.latest_delivery_time())),
        Err(e) => (
            m.gap(
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
            m.gap(
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
            let (kind, message) = classify(&e);
            m.failed.push(("ListTags", kind, message));
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
    let asset = ctx.asset(&home, arn, TRAIL, name, tags, body, m.gaps);
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
async fn tags(ctx: &Ctx, c: &Client, arn: &str) -> Result<Vec<(String, String)>, TagsError> {
    let mut out = Vec::new();
    let mut pages = c.list_tags().resource_id_list(arn).into_paginator().send();
    while let Some(page) = next_page(ctx, pages.next()).await {
        for r in page?.resource_tag_list() {
            if r.resource_id().is_some_and(|id| id != arn) {
                continue;
            }
            out.extend(r.tags_list().iter().map(|t| {
                (
                    t.key().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            }));
        }
    }
    Ok(out)
}

/// A failed call: operation, kind, message.
type Failed = (&'static str, &'static str, String);

/// What one resource could not get: gaps in its asset, failures for the collection.
#[derive(Default)]
struct Misses {
    gaps: Vec<Gap>,
    failed: Vec<Failed>,
}

impl Misses {
    /// Record that `op` failed, leaving `fields` unknown; the value of those fields (null).
    fn gap<E, R>(&mut self, fields: &[&str], op: &'static str, err: &SdkError<E, R>) -> Value
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let (kind, message) = classify(err);
        for field in fields {
            self.gaps.push(Gap {
                field: field.to_string(),
                operation: op.into(),
                error: message.clone(),
            });
        }
        self.failed.push((op, kind, message));
        Value::Null
    }
}

/// Per-operation failures across resources, reported once each.
#[derive(Default)]
struct Failures(BTreeMap<(&'static str, &'static str), (Vec<String>, String)>);

impl Failures {
    fn add(&mut self, op: &'static str, kind: &'static str, resource: &str, message: String) {
        self.0
            .entry((op, kind))
            .or_insert_with(|| (Vec::new(), message))
            .0
            .push(resource.to_string());
    }

    fn report(self, ctx: &Ctx, what: &str, out: &mut Output) {
        for ((op, kind), (mut names, message)) in self.0 {
            names.sort();
            let shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
            let more = if names.len() > 5 {
                format!(" and {} more", names.len() - 5)
            } else {
                String::new()
            };
            out.errors.push(ctx.error(
                SERVICE,
                op,
                kind,
                format!("{message} ({what} {}{more})", shown.join(", ")),
                &[],
            ));
        }
    }
}
