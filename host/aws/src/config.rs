//! AWS Config as a source of assets. Where a configuration recorder records
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

use std::collections::HashSet;

use aws_sdk_config::Client;
use aws_sdk_config::config::retry::RetryConfig;
use aws_sdk_config::types::{BaseConfigurationItem, RecordingGroup, ResourceKey, ResourceType};
use futures::StreamExt;
#[cfg(any(feature = "s3", feature = "iam"))]
use serde_json::Value;

use super::record::Failed;
use super::{Ctx, Output};

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

/// Read the wanted types from AWS Config in `ctx.region`: those it supplied
/// completely. Every other type is left to its direct collector.
pub async fn collect(ctx: &Ctx, wanted: &HashSet<&'static str>) -> Vec<Source> {
    let mut sources = Vec::new();
    let here: Vec<&(&str, &'static str, bool)> = TYPES
        .iter()
        .filter(|(_, stance, _)| wanted.contains(stance) && mapped(stance))
        .collect();
    if here.is_empty() {
        return sources;
    }
    let c = client(ctx);
    let Some(recorded) = recorded_types(ctx, &c).await else {
        return sources;
    };
    for &&(aws_type, stance_type, global) in &here {
        if !recorded.contains(aws_type) {
            continue;
        }
        let Some(items) = items(ctx, &c, aws_type, stance_type).await else {
            continue;
        };
        let mut mapped = map(ctx, stance_type, items).await;
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
fn fallback(ctx: &Ctx, operation: &str, kind: &str, message: &str) {
    tracing::warn!(
        account = %ctx.account,
        region = %ctx.region,
        service = SERVICE,
        operation,
        kind,
        "{message}"
    );
}

/// A Config client that reads emulators' string timestamps too (also used
/// by `config_status`).
pub(super) fn client(ctx: &Ctx) -> Client {
    let mut conf =
        aws_sdk_config::config::Builder::from(&ctx.sdk).interceptor(timestamps::TimestampFix);
    if let Some(http) = ctx.sdk.http_client() {
        conf = conf.http_client(timestamps::Buffered(http));
    }
    Client::from_conf(conf.build())
}

/// The Config types (of [`TYPES`]) that a recording recorder records here;
/// `None` when Config cannot be read.
async fn recorded_types(ctx: &Ctx, c: &Client) -> Option<HashSet<&'static str>> {
    let (recorders, status) = tokio::join!(
        ctx.call(c.describe_configuration_recorders().send()),
        ctx.call(c.describe_configuration_recorder_status().send()),
    );
    let unread = |f: Failed| {
        fallback(
            ctx,
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
    ctx: &Ctx,
    c: &Client,
    aws_type: &str,
    stance_type: &str,
) -> Option<Vec<BaseConfigurationItem>> {
    let instead = format!("{stance_type} is collected from its own service's API instead");
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let req = c
            .list_discovered_resources()
            .resource_type(ResourceType::from(aws_type))
            .set_next_token(token.clone());
        match ctx.call(req.send()).await {
            Ok(r) => {
                keys.extend(
                    r.resource_identifiers()
                        .iter()
                        .filter_map(|i| i.resource_id())
                        .map(str::to_string),
                );
                match r.next_token() {
                    Some(t) if !t.is_empty() && token.as_deref() != Some(t) => {
                        token = Some(t.to_string());
                    }
                    _ => break,
                }
            }
            Err(e) => {
                let f = Failed::sdk("ListDiscoveredResources", &e);
                let message = format!("{aws_type}: {}; {instead}", f.message);
                fallback(ctx, f.operation, f.kind, &message);
                return None;
            }
        }
    }
    keys.sort();
    keys.dedup();

    let mut items = Vec::new();
    let mut complete = true;
    for chunk in keys.chunks(BATCH) {
        match batch_get(ctx, c, aws_type, chunk).await {
            Ok(got) => items.extend(got),
            Err(_) => {
                // One resource can break a whole batch (moto answers 500 for
                // a bucket with a public ACL grant): ask for each one alone,
                // so the error names the resources that fail.
                let alone: Vec<_> = futures::stream::iter(chunk)
                    .map(|key| async move {
                        let r = batch_get(ctx, c, aws_type, std::slice::from_ref(key)).await;
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
                                ctx,
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
    if !complete {
        return None;
    }
    let mut current = Vec::new();
    for item in items {
        match item.configuration_item_status().map(|s| s.as_str()) {
            Some("ResourceDeleted" | "ResourceDeletedNotRecorded") => {}
            Some("ResourceNotRecorded") => {
                complete = false;
                fallback(
                    ctx,
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
    ctx: &Ctx,
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
        let r = ctx
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
            .map_err(|e| super::errors::classify(&e))?;
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

async fn map(ctx: &Ctx, stance_type: &str, items: Vec<BaseConfigurationItem>) -> Mapped {
    match stance_type {
        #[cfg(feature = "s3")]
        "aws_s3_bucket" => s3_items::buckets(ctx, items).await,
        #[cfg(feature = "s3")]
        "aws_s3_account_public_access_block" => s3_items::account_block(ctx, items),
        #[cfg(feature = "iam")]
        "aws_iam_role" => iam_items::roles(ctx, items).await,
        #[cfg(feature = "iam")]
        "aws_iam_policy" => iam_items::policies(ctx, items).await,
        _ => {
            let _ = (ctx, items);
            Mapped::default()
        }
    }
}

/// An item's `configuration` as JSON.
#[cfg(any(feature = "s3", feature = "iam"))]
fn configuration(item: &BaseConfigurationItem) -> Result<Value, String> {
    let text = item
        .configuration()
        .ok_or_else(|| "the item has no configuration".to_string())?;
    serde_json::from_str(text).map_err(|e| format!("its configuration is not JSON: {e}"))
}

/// A JSON value that may be JSON text (Config encodes supplementary
/// configuration as strings, some of them twice).
#[cfg(feature = "s3")]
fn decoded(v: Value) -> Value {
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
#[cfg(any(feature = "s3", feature = "iam"))]
fn config_time(v: &Value) -> Option<Value> {
    let secs = match v {
        Value::String(s) => timestamps::parse(s)?,
        // Epoch milliseconds, as some configurations write dates.
        Value::Number(n) => n.as_f64()? / 1000.0,
        _ => return None,
    };
    let t = aws_smithy_types::DateTime::from_secs(secs.floor() as i64);
    Some(super::doc::time(Some(&t)))
}

/// Log the item that could not be mapped (its type falls back to its direct
/// collector).
#[cfg(any(feature = "s3", feature = "iam"))]
fn unmapped(ctx: &Ctx, item: &BaseConfigurationItem, why: String) {
    fallback(
        ctx,
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

#[cfg(feature = "s3")]
mod s3_items {
    //! S3 items: `configuration` holds the name and creation date, and
    //! `supplementaryConfiguration` the bucket's settings, each as JSON text.
    //! Config records no ownership controls, and emulators leave out more
    //! (moto: encryption, versioning, object lock): those come from S3.

    use std::collections::HashMap;

    use futures::StreamExt;
    use serde_json::{Value, json};

    use aws_sdk_config::types::BaseConfigurationItem;
    use stance_model::Asset;

    use super::super::record::{Failed, Failures};
    use super::super::s3::{self, BucketFields, Field};
    use super::super::{Ctx, doc};
    use super::{Mapped, config_time, configuration, decoded, unmapped};

    pub(super) async fn buckets(ctx: &Ctx, items: Vec<BaseConfigurationItem>) -> Mapped {
        let mut mapped = Mapped {
            complete: true,
            ..Mapped::default()
        };
        let results: Vec<_> = futures::stream::iter(items)
            .map(|item| async move {
                let r = bucket(ctx, &item).await;
                (item, r)
            })
            .buffer_unordered(8)
            .collect()
            .await;
        let mut failures = Failures::default();
        for (item, r) in results {
            match r {
                Ok(None) => {}
                Ok(Some((name, asset, failed))) => {
                    failures.add_all(&name, failed);
                    mapped.output.assets.push(asset);
                }
                Err(why) => {
                    unmapped(ctx, &item, why);
                    mapped.complete = false;
                }
            }
        }
        mapped
            .output
            .errors
            .extend(failures.report(ctx, s3::SERVICE, "buckets"));
        mapped
    }

    /// One bucket's asset; `None` for a bucket outside the scan's regions.
    async fn bucket(
        ctx: &Ctx,
        item: &BaseConfigurationItem,
    ) -> Result<Option<(String, Asset, Vec<Failed>)>, String> {
        let conf = configuration(item)?;
        let name = conf["name"]
            .as_str()
            .or(item.resource_name())
            .or(item.resource_id())
            .ok_or("the item names no bucket")?
            .to_string();
        let region = item
            .aws_region()
            .ok_or("the item has no region")?
            .to_string();
        if !ctx.regions.contains(&region) {
            return Ok(None);
        }
        let sup: HashMap<&str, Value> = item
            .supplementary_configuration()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.as_str(), decoded(Value::String(v.clone()))))
                    .collect()
            })
            .unwrap_or_default();
        let creation_date = config_time(&conf["creationDate"])
            .or_else(|| item.resource_creation_time().map(|t| doc::time(Some(t))))
            .unwrap_or(Value::Null);
        let c = s3::client(ctx, &region);
        let c = &c;
        let n = name.as_str();
        let from = |key: &str, f: fn(&Value) -> Option<Value>| sup.get(key).and_then(f);
        let encryption = from("ServerSideEncryptionConfiguration", encryption);
        let versioning = from("BucketVersioningConfiguration", versioning);
        let logging = from("BucketLoggingConfiguration", logging);
        let pab = from("PublicAccessBlockConfiguration", public_access_block);
        let policy = from("BucketPolicy", policy);
        let acl = from("AccessControlList", acl);
        let lock = from("ObjectLockConfiguration", object_lock);
        let lifecycle = from("BucketLifecycleConfiguration", lifecycle);
        let tags = sup.get("BucketTaggingConfiguration").and_then(tagging);
        let (
            encryption,
            versioning,
            logging,
            public_access_block,
            policy,
            acl,
            object_lock_enabled,
            ownership_controls,
            lifecycle_rules_count,
            tags,
        ) = tokio::join!(
            either(encryption, s3::encryption(ctx, c, n)),
            either(versioning, s3::versioning(ctx, c, n)),
            either(logging, s3::logging(ctx, c, n)),
            either(pab, s3::public_access_block(ctx, c, n)),
            either(policy, s3::policy(ctx, c, n)),
            either(acl, s3::acl(ctx, c, n)),
            either(lock, s3::object_lock_enabled(ctx, c, n)),
            s3::ownership_controls(ctx, c, n),
            either(lifecycle, s3::lifecycle_rules_count(ctx, c, n)),
            async {
                match tags {
                    Some(t) => Ok(t),
                    None => s3::tags(ctx, c, n).await,
                }
            },
        );
        let fields = BucketFields {
            encryption,
            versioning,
            logging,
            public_access_block,
            policy,
            acl,
            object_lock_enabled,
            ownership_controls,
            lifecycle_rules_count,
            tags,
        };
        let (asset, errors) = s3::bucket_asset(ctx, &name, &region, creation_date, fields);
        Ok(Some((name, asset, errors)))
    }

    /// The value Config had, else the direct fetch (only then sent).
    async fn either(known: Option<Value>, fetch: impl Future<Output = Field>) -> Field {
        match known {
            Some(v) => Ok(v),
            None => fetch.await,
        }
    }

    fn encryption(v: &Value) -> Option<Value> {
        let rules: Vec<Value> = v["rules"]
            .as_array()?
            .iter()
            .map(|r| {
                let d = &r["applyServerSideEncryptionByDefault"];
                json!({
                    "sse_algorithm": d["sseAlgorithm"],
                    "kms_master_key_id": d["kmsMasterKeyID"],
                    "bucket_key_enabled": r["bucketKeyEnabled"].as_bool().unwrap_or(false),
                })
            })
            .collect();
        Some(json!({"enabled": !rules.is_empty(), "rules": rules}))
    }

    fn versioning(v: &Value) -> Option<Value> {
        // Config says "Off" for a bucket whose versioning was never enabled.
        let status = match v["status"].as_str() {
            Some("Off") | None => Value::Null,
            Some(s) => json!(s),
        };
        let mfa_delete = match v["isMfaDeleteEnabled"].as_bool() {
            Some(true) => json!("Enabled"),
            Some(false) => json!("Disabled"),
            None => Value::Null,
        };
        Some(json!({"status": status, "mfa_delete": mfa_delete}))
    }

    fn logging(v: &Value) -> Option<Value> {
        let target = v["destinationBucketName"].as_str();
        Some(json!({
            "enabled": target.is_some(),
            "target_bucket": target,
            "target_prefix": target.map(|_| v["logFilePrefix"].as_str().unwrap_or("")),
        }))
    }

    fn public_access_block(v: &Value) -> Option<Value> {
        let flag = |k: &str| v[k].as_bool().unwrap_or(false);
        v.is_object().then(|| {
            json!({
                "block_public_acls": flag("blockPublicAcls"),
                "ignore_public_acls": flag("ignorePublicAcls"),
                "block_public_policy": flag("blockPublicPolicy"),
                "restrict_public_buckets": flag("restrictPublicBuckets"),
            })
        })
    }

    /// The bucket policy; an unreadable one is read from S3 instead.
    fn policy(v: &Value) -> Option<Value> {
        match &v["policyText"] {
            Value::Null if v.is_object() => Some(Value::Null),
            Value::String(text) => doc::policy(text).ok(),
            _ => None,
        }
    }

    /// The ACL: grantees are `{id, displayName}` for a canonical user, a
    /// group name such as `"AllUsers"`, or `{emailAddress}`.
    fn acl(v: &Value) -> Option<Value> {
        let mut grants = Vec::new();
        let list = v["grantList"]
            .as_array()
            .into_iter()
            .chain(v["grantSet"].as_array())
            .flatten();
        for g in list {
            let permission = match g["permission"].as_str()? {
                "FullControl" => "FULL_CONTROL",
                "Read" => "READ",
                "Write" => "WRITE",
                "ReadAcp" => "READ_ACP",
                "WriteAcp" => "WRITE_ACP",
                _ => return None,
            };
            let grantee = &g["grantee"];
            let (kind, uri, id) = match grantee {
                Value::String(group) => {
                    let uri = match group.as_str() {
                        "AllUsers" => "http://acs.amazonaws.com/groups/global/AllUsers",
                        "AuthenticatedUsers" => {
                            "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
                        }
                        "LogDelivery" => "http://acs.amazonaws.com/groups/s3/LogDelivery",
                        _ => return None,
                    };
                    ("Group", json!(uri), Value::Null)
                }
                Value::Object(o) if o.get("id").is_some_and(Value::is_string) => {
                    ("CanonicalUser", Value::Null, o["id"].clone())
                }
                Value::Object(o) if o.contains_key("emailAddress") => {
                    ("AmazonCustomerByEmail", Value::Null, Value::Null)
                }
                _ => return None,
            };
            grants.push(json!({
                "grantee_type": kind,
                "grantee_uri": uri,
                "grantee_id": id,
                "permission": permission,
            }));
        }
        Some(json!({"owner_id": v["owner"]["id"], "grants": grants}))
    }

    fn object_lock(v: &Value) -> Option<Value> {
        Some(Value::Bool(
            v["objectLockEnabled"].as_str() == Some("Enabled"),
        ))
    }

    fn lifecycle(v: &Value) -> Option<Value> {
        v["rules"].as_array().map(|r| json!(r.len()))
    }

    fn tagging(v: &Value) -> Option<Vec<(String, String)>> {
        let mut tags: Vec<(String, String)> = v["tagSets"]
            .as_array()?
            .iter()
            .filter_map(|s| s["tags"].as_object())
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect();
        tags.sort();
        Some(tags)
    }

    /// The account's public access block: one item per region, the same
    /// settings. No item (moto lists one only once it is configured) leaves
    /// the type to S3 Control, which tells "not configured" for sure.
    pub(super) fn account_block(ctx: &Ctx, items: Vec<BaseConfigurationItem>) -> Mapped {
        let mut mapped = Mapped::default();
        let Some(item) = items
            .iter()
            .find(|i| i.account_id().is_none_or(|a| a == ctx.account))
        else {
            return mapped;
        };
        match configuration(item) {
            Ok(conf) if conf.is_object() => {
                let flag = |k: &str| conf[k].as_bool().unwrap_or(false);
                mapped.output.assets.push(s3::account_block_asset(
                    ctx,
                    Some([
                        flag("blockPublicAcls"),
                        flag("ignorePublicAcls"),
                        flag("blockPublicPolicy"),
                        flag("restrictPublicBuckets"),
                    ]),
                ));
                mapped.complete = true;
            }
            Ok(_) => unmapped(ctx, item, "its configuration is not an object".into()),
            Err(why) => unmapped(ctx, item, why),
        }
        mapped
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// The supplementary configuration of a real (moto) item, decoded.
        fn supplementary(fixture: &str) -> HashMap<String, Value> {
            let item: Value = serde_json::from_str(fixture).unwrap();
            item["wire_item"]["supplementaryConfiguration"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), decoded(v.clone())))
                .collect()
        }

        #[test]
        fn bucket_item_maps_to_the_schema() {
            let sup = supplementary(include_str!(
                "../../../tests/aws/config-items/AWS_S3_Bucket.json"
            ));
            let owner = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a";
            assert_eq!(
                acl(&sup["AccessControlList"]).unwrap(),
                json!({"owner_id": owner, "grants": [{"grantee_type": "CanonicalUser", "grantee_uri": null, "grantee_id": owner, "permission": "FULL_CONTROL"}]})
            );
            assert_eq!(
                logging(&sup["BucketLoggingConfiguration"]).unwrap(),
                json!({"enabled": true, "target_bucket": "stance-access-logs", "target_prefix": "stance-data-prod/"})
            );
            assert_eq!(
                lifecycle(&sup["BucketLifecycleConfiguration"]).unwrap(),
                json!(2)
            );
            assert_eq!(
                public_access_block(&sup["PublicAccessBlockConfiguration"]).unwrap(),
                json!({"block_public_acls": true, "ignore_public_acls": true, "block_public_policy": true, "restrict_public_buckets": true})
            );
            let p = policy(&sup["BucketPolicy"]).unwrap();
            assert_eq!(p["Statement"][1]["Action"], json!(["s3:GetObject"]));
            assert_eq!(
                p["Statement"][1]["Principal"],
                json!({"AWS": ["arn:aws:iam::123456789012:role/stance-app"]})
            );
            // moto leaves these out: they are read from S3
            assert!(!sup.contains_key("ServerSideEncryptionConfiguration"));
            assert!(!sup.contains_key("BucketVersioningConfiguration"));
            assert_eq!(
                config_time(&json!("2026-11-27T04:37:28.620863+00:00")),
                Some(json!("2026-11-27T04:37:28Z"))
            );
        }

        #[test]
        fn aws_shapes_map_too() {
            let a = json!({"grantList": [{"grantee": "AllUsers", "permission": "Read"}, {"grantee": {"id": "abc", "displayName": null}, "permission": "FullControl"}], "owner": {"id": "abc"}});
            assert_eq!(
                acl(&a).unwrap()["grants"][0],
                json!({"grantee_type": "Group", "grantee_uri": "http://acs.amazonaws.com/groups/global/AllUsers", "grantee_id": null, "permission": "READ"})
            );
            assert!(
                acl(&json!({"grantList": [{"grantee": "Somebody", "permission": "Read"}]}))
                    .is_none()
            );
            assert_eq!(
                versioning(&json!({"status": "Off", "isMfaDeleteEnabled": null})).unwrap(),
                json!({"status": null, "mfa_delete": null})
            );
            assert_eq!(
                encryption(&json!({"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyID": "k"}, "bucketKeyEnabled": true}]})).unwrap(),
                json!({"enabled": true, "rules": [{"sse_algorithm": "aws:kms", "kms_master_key_id": "k", "bucket_key_enabled": true}]})
            );
            assert_eq!(
                logging(&json!({"destinationBucketName": null, "logFilePrefix": null})).unwrap(),
                json!({"enabled": false, "target_bucket": null, "target_prefix": null})
            );
            assert_eq!(policy(&json!({"policyText": null})), Some(Value::Null));
            assert_eq!(
                tagging(&json!({"tagSets": [{"tags": {"b": "2", "a": "1"}}]})).unwrap(),
                vec![
                    ("a".to_string(), "1".to_string()),
                    ("b".to_string(), "2".to_string())
                ]
            );
        }
    }
}

#[cfg(feature = "iam")]
mod iam_items {
    //! IAM items: `configuration` holds the role (trust policy, inline and
    //! attached policies, URL-encoded documents) or the policy with every
    //! version's document. Last use, tags and the session duration of roles
    //! come from GetRole, as in the direct collector.

    use futures::StreamExt;
    use serde_json::{Value, json};

    use super::super::iam::{self, PolicyParts, RoleParts};
    use super::super::{Ctx, Output, doc};
    use super::{Mapped, config_time, configuration, unmapped};
    use aws_sdk_config::types::BaseConfigurationItem;

    const SOURCE: &str = "BatchGetResourceConfig";

    pub(super) async fn roles(ctx: &Ctx, items: Vec<BaseConfigurationItem>) -> Mapped {
        let c = aws_sdk_iam::Client::new(&ctx.sdk);
        let c = &c;
        each(ctx, items, |item| async move {
            let conf = configuration(&item)?;
            let parts = role(&item, &conf)?;
            Ok(iam::role_asset(ctx, c, parts).await)
        })
        .await
    }

    pub(super) async fn policies(ctx: &Ctx, items: Vec<BaseConfigurationItem>) -> Mapped {
        let c = aws_sdk_iam::Client::new(&ctx.sdk);
        let c = &c;
        each(ctx, items, |item| async move {
            let conf = configuration(&item)?;
            let parts = policy(&item, &conf)?;
            Ok(iam::policy_asset(ctx, c, parts).await)
        })
        .await
    }

    /// Map every item, eight at a time.
    async fn each<F, Fut>(ctx: &Ctx, items: Vec<BaseConfigurationItem>, f: F) -> Mapped
    where
        F: Fn(BaseConfigurationItem) -> Fut,
        Fut: Future<Output = Result<Output, String>>,
    {
        let mut mapped = Mapped {
            complete: true,
            ..Mapped::default()
        };
        let results: Vec<_> = futures::stream::iter(items)
            .map(|item| {
                let fut = f(item.clone());
                async move { (item, fut.await) }
            })
            .buffer_unordered(8)
            .collect()
            .await;
        for (item, r) in results {
            match r {
                Ok(out) => mapped.output.extend(out),
                Err(why) => {
                    unmapped(ctx, &item, why);
                    mapped.complete = false;
                }
            }
        }
        mapped
    }

    fn text(conf: &Value, key: &str) -> Result<String, String> {
        conf[key]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("its configuration has no {key}"))
    }

    /// The ARN of a role or policy: `arn:PARTITION:iam::ACCOUNT:KIND` + path +
    /// name. The item's ARN, unless it leaves the path out (moto's items do,
    /// for service-linked roles), when it is rebuilt from its parts.
    fn iam_arn(
        conf: &Value,
        item: &BaseConfigurationItem,
        kind: &str,
        path: &str,
        name: &str,
    ) -> Result<String, String> {
        let given = conf["arn"]
            .as_str()
            .or(item.arn())
            .ok_or("the item has no ARN")?;
        let tail = format!(":{kind}{path}{name}");
        if given.ends_with(&tail) {
            return Ok(given.to_string());
        }
        let mut parts = given.splitn(6, ':');
        match (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) {
            (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account))
                if !account.is_empty() =>
            {
                Ok(format!("arn:{partition}:iam::{account}{tail}"))
            }
            _ => Err(format!("its ARN {given} is not an IAM {kind} ARN")),
        }
    }

    fn role(item: &BaseConfigurationItem, conf: &Value) -> Result<RoleParts, String> {
        let name = text(conf, "roleName")?;
        let path = conf["path"].as_str().unwrap_or("/").to_string();
        let arn = iam_arn(conf, item, "role", &path, &name)?;
        let inline_policies = match conf["rolePolicyList"].as_array() {
            Some(list) => {
                let mut out = Vec::new();
                for p in list {
                    let policy_name = p["policyName"]
                        .as_str()
                        .ok_or("an inline policy has no name")?;
                    let document = p["policyDocument"]
                        .as_str()
                        .ok_or_else(|| format!("inline policy {policy_name} has no document"))
                        .and_then(|d| {
                            doc::policy(d).map_err(|m| format!("inline policy {policy_name}: {m}"))
                        })?;
                    out.push(json!({"policy_name": policy_name, "document": document}));
                }
                Some(Value::Array(out))
            }
            None => None,
        };
        let attached_policies = conf["attachedManagedPolicies"].as_array().map(|list| {
            Value::Array(
                list.iter()
                    .map(|p| json!({"policy_name": p["policyName"], "policy_arn": p["policyArn"]}))
                    .collect(),
            )
        });
        Ok(RoleParts {
            name,
            arn,
            path,
            create_date: config_time(&conf["createDate"]).unwrap_or(Value::Null),
            trust: conf["assumeRolePolicyDocument"]
                .as_str()
                .map(|d| (d.to_string(), SOURCE)),
            attached_policies,
            inline_policies,
            max_session_duration: conf["maxSessionDuration"]
                .as_i64()
                .and_then(|d| i32::try_from(d).ok()),
        })
    }

    fn policy(item: &BaseConfigurationItem, conf: &Value) -> Result<PolicyParts, String> {
        let default_version_id = text(conf, "defaultVersionId")?;
        let document = conf["policyVersionList"].as_array().and_then(|versions| {
            versions
                .iter()
                .find(|v| {
                    v["isDefaultVersion"].as_bool() == Some(true)
                        || v["versionId"].as_str() == Some(default_version_id.as_str())
                })
                .and_then(|v| v["document"].as_str())
                .map(|d| (d.to_string(), SOURCE))
        });
        let tags = conf["tags"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|t| {
                        Some((
                            t["key"].as_str()?.to_string(),
                            t["value"].as_str().unwrap_or_default().to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let name = text(conf, "policyName")?;
        let path = conf["path"].as_str().unwrap_or("/");
        Ok(PolicyParts {
            arn: iam_arn(conf, item, "policy", path, &name)?,
            name,
            attachment_count: conf["attachmentCount"]
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .ok_or("its configuration has no attachmentCount")?,
            default_version_id,
            tags,
            document,
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn item(fixture: &str) -> (BaseConfigurationItem, Value) {
            let f: Value = serde_json::from_str(fixture).unwrap();
            let wire = &f["wire_item"];
            let item = BaseConfigurationItem::builder()
                .arn(wire["arn"].as_str().unwrap())
                .configuration(wire["configuration"].as_str().unwrap())
                .build();
            let conf = configuration(&item).unwrap();
            (item, conf)
        }

        #[test]
        fn role_item_maps_to_the_schema() {
            let (item, conf) = item(include_str!(
                "../../../tests/aws/config-items/AWS_IAM_Role.json"
            ));
            let r = role(&item, &conf).unwrap();
            assert_eq!(r.name, "stance-app");
            assert_eq!(r.arn, "arn:aws:iam::123456789012:role/stance-app");
            assert_eq!(r.create_date, json!("2026-11-27T04:37:28Z"));
            let (trust, _) = r.trust.unwrap();
            assert_eq!(
                doc::policy(&trust).unwrap()["Statement"][0]["Principal"],
                json!({"Service": ["ec2.amazonaws.com"]})
            );
            assert_eq!(
                r.inline_policies.unwrap()[0]["document"]["Statement"][0]["Action"],
                json!(["logs:CreateLogStream", "logs:PutLogEvents"])
            );
            assert_eq!(
                r.attached_policies.unwrap()[1],
                json!({"policy_name": "stance-s3-read", "policy_arn": "arn:aws:iam::123456789012:policy/stance-s3-read"})
            );
            // not in the item: read with GetRole
            assert_eq!(r.max_session_duration, None);
        }

        #[test]
        fn policy_item_takes_the_default_version() {
            let (item, conf) = item(include_str!(
                "../../../tests/aws/config-items/AWS_IAM_Policy.json"
            ));
            let p = policy(&item, &conf).unwrap();
            assert_eq!(p.arn, "arn:aws:iam::123456789012:policy/stance-narrowed");
            assert_eq!(p.default_version_id, "v2");
            assert_eq!(p.attachment_count, 0);
            let (text, _) = p.document.unwrap();
            assert_eq!(
                doc::policy(&text).unwrap()["Statement"][0]["Action"],
                json!(["ec2:Describe*"])
            );
        }

        #[test]
        fn arns_keep_the_path() {
            let conf = json!({"arn": "arn:aws:iam::123456789012:role/AWSServiceRoleForX"});
            let item = BaseConfigurationItem::builder().build();
            assert_eq!(
                iam_arn(
                    &conf,
                    &item,
                    "role",
                    "/aws-service-role/x.amazonaws.com/",
                    "AWSServiceRoleForX"
                )
                .unwrap(),
                "arn:aws:iam::123456789012:role/aws-service-role/x.amazonaws.com/AWSServiceRoleForX"
            );
        }
    }
}

mod timestamps {
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
        // DescribeDeliveryChannelStatus (config_status)
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
}
