//! AWS Config as a source of assets: which types Config records here, the
//! ListDiscoveredResources / BatchGetResourceConfig paging, and when a type
//! falls back to its direct collector. Mapping items to bodies is in submodules.
//!
//! Where a configuration recorder records
//! in a region, S3 buckets, the account's S3 public access block, IAM roles
//! and IAM customer-managed policies are read from Config's configuration
//! items (ListDiscoveredResources, BatchGetResourceConfig) and mapped to the
//! very bodies the direct collectors build (`docs/aws-resources.md`). A field
//! that an item lacks is read with the direct collector's own fetcher, so the
//! schema is the same whichever source filled it.
//!
//! A type is offered as covered only when every one of its resources was
//! mapped; otherwise the direct collector collects it. Config that is off in a
//! region is not an error, and neither is Config failing for some resources:
//! the direct collectors then collect them, so nothing is missing, and the
//! failure is only logged (`tracing::warn!`). The collection errors of this
//! source are the real losses: fields of the assets it supplies that the
//! direct fetchers could not read.
//!
//! This is not a service collector of the registry: it runs before them, in
//! every region of an account (`run.rs`), and never describes Config itself
//! (the `config` service, `services/config.rs`, does). It never builds a body
//! of its own: the shapes are the direct collectors' (`services/s3.rs`,
//! `services/iam.rs`).

#[cfg(feature = "iam")]
mod iam;
#[cfg(any(feature = "s3", feature = "iam"))]
mod normalise;
#[cfg(feature = "s3")]
mod s3;
mod timestamps;

use std::collections::HashSet;

use aws_sdk_config::Client;
use aws_sdk_config::config::retry::RetryConfig;
use aws_sdk_config::types::{BaseConfigurationItem, RecordingGroup, ResourceKey, ResourceType};
use futures::StreamExt;

use crate::toolkit::next_page;
use crate::toolkit::record::Failed;
use crate::toolkit::{Output, Target};

const SERVICE: &str = "config";

/// The Config resource types Stance reads, the Stance type of each, and
/// whether it is a global (IAM) type, recorded only where the recorder
/// includes global resource types.
const TYPES: &[(&str, &str, bool)] = &[
    ("AWS::S3::Bucket", "aws_s3_bucket", false),
    (
        "AWS::S3::AccountPublicAccessBlock",
        "aws_s3_account_public_access_block",
        false,
    ),
    ("AWS::IAM::Role", "aws_iam_role", true),
    ("AWS::IAM::Policy", "aws_iam_policy", true),
];

/// BatchGetResourceConfig takes at most 100 keys.
const BATCH: usize = 100;

/// One resource type that AWS Config supplied completely in one region.
pub struct Source {
    pub stance_type: &'static str,
    /// A global (IAM) type: where it is recorded (AWS advises one region),
    /// it covers the whole account.
    pub global: bool,
    /// Its assets, and the failures of the direct fetchers that left gaps in
    /// them (collection errors, where those assets are kept).
    pub output: Output,
}

/// Read the wanted types from AWS Config in `target.region`: those it supplied
/// completely. Every other type is left to its direct collector.
pub(crate) async fn collect(target: &Target, wanted: &HashSet<&'static str>) -> Vec<Source> {
    let mut sources = Vec::new();
    let here: Vec<&(&str, &'static str, bool)> = TYPES
        .iter()
        .filter(|(_, stance, _)| wanted.contains(stance) && mapped(stance))
        .collect();
    if here.is_empty() {
        return sources;
    }
    let c = client(target);
    let Some(recorded) = recorded_types(target, &c).await else {
        return sources;
    };
    for &&(aws_type, stance_type, global) in &here {
        if !recorded.contains(aws_type) {
            continue;
        }
        let Some(items) = items(target, &c, aws_type, stance_type).await else {
            continue;
        };
        let mut mapped = map(target, stance_type, items).await;
        if !mapped.complete {
            continue;
        }
        for e in &mut mapped.output.errors {
            // Failures of the direct fetchers (S3, IAM): where their own
            // collectors, which run once per account, report them.
            e.region = "global".into();
        }
        sources.push(Source {
            stance_type,
            global,
            output: mapped.output,
        });
    }
    sources
}

/// Can this build map items of `stance_type`? (It needs the direct
/// collector's fetchers for the fields an item lacks.)
// Each arm is a cfg! of its own: with every feature on they are all `true`.
#[allow(clippy::match_like_matches_macro)]
fn mapped(stance_type: &str) -> bool {
    match stance_type {
        "aws_s3_bucket" | "aws_s3_account_public_access_block" => cfg!(feature = "s3"),
        "aws_iam_role" | "aws_iam_policy" => cfg!(feature = "iam"),
        _ => false,
    }
}

/// Config could not supply something. No collection error: what it could
/// not supply is collected by the direct collectors (or, for a global type,
/// from another region's Config), so nothing is missing.
fn fallback(target: &Target, operation: &str, kind: &str, message: &str) {
    tracing::warn!(
        account = %target.account,
        region = %target.region,
        service = SERVICE,
        operation,
        kind,
        "{message}"
    );
}

/// A Config client that reads emulators' string timestamps too (also used
/// by the `config` service, `services/config.rs`).
pub(crate) fn client(target: &Target) -> Client {
    let mut conf =
        aws_sdk_config::config::Builder::from(&target.sdk).interceptor(timestamps::TimestampFix);
    if let Some(http) = target.sdk.http_client() {
        conf = conf.http_client(timestamps::Buffered(http));
    }
    Client::from_conf(conf.build())
}

/// The Config types (of [`TYPES`]) that a recording recorder records here;
/// `None` when Config cannot be read.
async fn recorded_types(target: &Target, c: &Client) -> Option<HashSet<&'static str>> {
    let (recorders, status) = tokio::join!(
        target.call(c.describe_configuration_recorders().send()),
        target.call(c.describe_configuration_recorder_status().send()),
    );
    let unread = |f: Failed| {
        fallback(
            target,
            f.operation,
            f.kind,
            &format!(
                "{}; resources are collected from their own services' APIs instead",
                f.message
            ),
        );
    };
    let recorders = recorders
        .map_err(|e| unread(Failed::sdk("DescribeConfigurationRecorders", &e)))
        .ok()?;
    let status = status
        .map_err(|e| unread(Failed::sdk("DescribeConfigurationRecorderStatus", &e)))
        .ok()?;
    let recording: HashSet<&str> = status
        .configuration_recorders_status()
        .iter()
        .filter(|s| s.recording())
        .filter_map(|s| s.name())
        .collect();
    let mut types = HashSet::new();
    for r in recorders.configuration_recorders() {
        if !r.name().is_some_and(|n| recording.contains(n)) {
            continue;
        }
        for &(aws_type, _, global) in TYPES {
            if records(r.recording_group(), aws_type, global) {
                types.insert(aws_type);
            }
        }
    }
    Some(types)
}

/// Does a recording group record `aws_type`? Global (IAM) types only where
/// the group includes global resource types or lists them by name; when in
/// doubt, no (the direct collector then reads the type).
fn records(group: Option<&RecordingGroup>, aws_type: &str, global: bool) -> bool {
    let Some(g) = group else {
        // No group: Config's default, every supported regional type.
        return !global;
    };
    let listed = g.resource_types().iter().any(|t| t.as_str() == aws_type);
    let strategy = g
        .recording_strategy()
        .and_then(|s| s.use_only())
        .map(|u| u.as_str().to_string());
    match strategy.as_deref() {
        Some("INCLUSION_BY_RESOURCE_TYPES") => listed,
        Some("EXCLUSION_BY_RESOURCE_TYPES") => {
            let excluded = g
                .exclusion_by_resource_types()
                .is_some_and(|x| x.resource_types().iter().any(|t| t.as_str() == aws_type));
            !excluded && (!global || g.include_global_resource_types())
        }
        _ if g.all_supported() => !global || g.include_global_resource_types(),
        _ => listed,
    }
}

/// Every current configuration item of `aws_type` here; `None` when they
/// could not all be read (logged; the type falls back to its direct collector).
async fn items(
    target: &Target,
    c: &Client,
    aws_type: &str,
    stance_type: &str,
) -> Option<Vec<BaseConfigurationItem>> {
    let instead = format!("{stance_type} is collected from its own service's API instead");
    let keys = discovered(target, c, aws_type, &instead).await?;
    let items = fetch(target, c, aws_type, &keys, &instead).await?;
    current(target, items, aws_type, &instead)
}

/// The ids of every resource of `aws_type` Config discovered here
/// (ListDiscoveredResources), sorted; `None` (logged) when they could not be listed.
async fn discovered(
    target: &Target,
    c: &Client,
    aws_type: &str,
    instead: &str,
) -> Option<Vec<String>> {
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let req = c
            .list_discovered_resources()
            .resource_type(ResourceType::from(aws_type))
            .set_next_token(token.clone());
        match target.call(req.send()).await {
            Ok(r) => {
                keys.extend(
                    r.resource_identifiers()
                        .iter()
                        .filter_map(|i| i.resource_id())
                        .map(str::to_string),
                );
                if !next_page(&mut token, r.next_token()) {
                    break;
                }
            }
            Err(e) => {
                let f = Failed::sdk("ListDiscoveredResources", &e);
                let message = format!("{aws_type}: {}; {instead}", f.message);
                fallback(target, f.operation, f.kind, &message);
                return None;
            }
        }
    }
    keys.sort();
    keys.dedup();
    Some(keys)
}

/// The configuration items of `keys`, by batches; `None` (logged) when some
/// resource's item could not be read.
async fn fetch(
    target: &Target,
    c: &Client,
    aws_type: &str,
    keys: &[String],
    instead: &str,
) -> Option<Vec<BaseConfigurationItem>> {
    let mut items = Vec::new();
    let mut complete = true;
    for chunk in keys.chunks(BATCH) {
        match batch_get(target, c, aws_type, chunk).await {
            Ok(got) => items.extend(got),
            Err(_) => {
                // One resource can break a whole batch (moto answers 500 for
                // a bucket with a public ACL grant): ask for each one alone,
                // so the error names the resources that fail.
                let alone: Vec<_> = futures::stream::iter(chunk)
                    .map(|key| async move {
                        let r = batch_get(target, c, aws_type, std::slice::from_ref(key)).await;
                        (key, r)
                    })
                    .buffer_unordered(8)
                    .collect()
                    .await;
                for (key, r) in alone {
                    match r {
                        Ok(got) => items.extend(got),
                        Err((kind, message)) => {
                            complete = false;
                            fallback(
                                target,
                                "BatchGetResourceConfig",
                                kind,
                                &format!("{aws_type} {key}: {message}; {instead}"),
                            );
                        }
                    }
                }
            }
        }
    }
    complete.then_some(items)
}

/// The items of resources that exist and are recorded; `None` (logged) when
/// some resource is not recorded.
fn current(
    target: &Target,
    items: Vec<BaseConfigurationItem>,
    aws_type: &str,
    instead: &str,
) -> Option<Vec<BaseConfigurationItem>> {
    let mut complete = true;
    let mut current = Vec::new();
    for item in items {
        match item.configuration_item_status().map(|s| s.as_str()) {
            Some("ResourceDeleted" | "ResourceDeletedNotRecorded") => {}
            Some("ResourceNotRecorded") => {
                complete = false;
                fallback(
                    target,
                    "BatchGetResourceConfig",
                    "other",
                    &format!(
                        "{aws_type} {} is not recorded; {instead}",
                        item.resource_id().unwrap_or("?")
                    ),
                );
            }
            _ => current.push(item),
        }
    }
    complete.then_some(current)
}

/// One BatchGetResourceConfig call for `keys`, retrying unprocessed keys.
/// Every key must come back with an item.
async fn batch_get(
    target: &Target,
    c: &Client,
    aws_type: &str,
    keys: &[String],
) -> Result<Vec<BaseConfigurationItem>, (&'static str, String)> {
    let mut pending: Vec<ResourceKey> = Vec::new();
    for k in keys {
        let key = ResourceKey::builder()
            .resource_type(ResourceType::from(aws_type))
            .resource_id(k)
            .build()
            .map_err(|e| ("other", format!("cannot build the request: {e}")))?;
        pending.push(key);
    }
    let wanted = pending.len();
    let mut items = Vec::new();
    for attempt in 0..4 {
        if pending.is_empty() {
            break;
        }
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(500 << attempt)).await;
        }
        // Two attempts, not the client's six: a failing batch is retried key
        // by key anyway, and a resource that breaks every batch it is in
        // (moto's 500) should not cost a minute of back-off.
        let r = target
            .call(
                c.batch_get_resource_config()
                    .set_resource_keys(Some(pending.clone()))
                    .customize()
                    .config_override(
                        aws_sdk_config::config::Builder::default()
                            .retry_config(RetryConfig::adaptive().with_max_attempts(2)),
                    )
                    .send(),
            )
            .await
            .map_err(|e| crate::toolkit::errors::classify(&e))?;
        items.extend(r.base_configuration_items().iter().cloned());
        pending = r.unprocessed_resource_keys().to_vec();
    }
    if !pending.is_empty() {
        return Err((
            "throttled",
            format!(
                "{} resources stayed unprocessed after retries",
                pending.len()
            ),
        ));
    }
    if items.len() < wanted {
        return Err((
            "other",
            format!(
                "{} of {wanted} resources came back without a configuration item",
                wanted - items.len()
            ),
        ));
    }
    Ok(items)
}

/// The assets of one type's items with the errors behind their gaps, and
/// whether every item was mapped.
#[derive(Default)]
struct Mapped {
    output: Output,
    complete: bool,
}

async fn map(target: &Target, stance_type: &str, items: Vec<BaseConfigurationItem>) -> Mapped {
    match stance_type {
        #[cfg(feature = "s3")]
        "aws_s3_bucket" => s3::buckets(target, items).await,
        #[cfg(feature = "s3")]
        "aws_s3_account_public_access_block" => s3::account_block(target, items),
        #[cfg(feature = "iam")]
        "aws_iam_role" => iam::roles(target, items).await,
        #[cfg(feature = "iam")]
        "aws_iam_policy" => iam::policies(target, items).await,
        _ => {
            let _ = (target, items);
            Mapped::default()
        }
    }
}

/// Log the item that could not be mapped (its type falls back to its direct
/// collector).
#[cfg(any(feature = "s3", feature = "iam"))]
fn unmapped(target: &Target, item: &BaseConfigurationItem, why: String) {
    fallback(
        target,
        "BatchGetResourceConfig",
        "other",
        &format!(
            "{} {}: {why}; {} is collected from its own service's API instead",
            item.resource_type().map_or("?", |t| t.as_str()),
            item.resource_id().unwrap_or("?"),
            item.resource_type()
                .and_then(|t| TYPES.iter().find(|x| x.0 == t.as_str()))
                .map_or("the type", |x| x.1),
        ),
    )
}
