//! S3: buckets (encryption, versioning, logging, public access block,
//! policy and its status, ACL, object lock, ownership, lifecycle, tags) in
//! the scan's regions, and the account-level public access block.

use std::collections::{BTreeMap, HashMap};

use futures::StreamExt;
use serde_json::{Value, json};

use super::doc::{self, s};
use super::errors::is_not_found;
use super::{Ctx, Output};
use crate::model::Gap;

const SERVICE: &str = "s3";
const BUCKET: &str = "aws_s3_bucket";
const ACCOUNT_BLOCK: &str = "aws_s3_account_public_access_block";

pub async fn collect(ctx: &Ctx) -> Output {
    let mut out = Output::default();
    if !ctx.covered(ACCOUNT_BLOCK) {
        account_block(ctx, &mut out).await;
    }
    if !ctx.covered(BUCKET) {
        buckets(ctx, &mut out).await;
    }
    out
}

fn client(ctx: &Ctx, region: &str) -> aws_sdk_s3::Client {
    let sdk = super::client::for_region(&ctx.sdk, region);
    let conf = aws_sdk_s3::config::Builder::from(&sdk)
        // Emulators (and some gateways) answer on one host: address buckets by path.
        .force_path_style(ctx.custom_endpoint().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// Region of a bucket from GetBucketLocation's answer.
fn location_region(constraint: Option<&str>) -> String {
    match constraint {
        None | Some("") => "us-east-1".into(),
        Some("EU") => "eu-west-1".into(),
        Some(r) => r.into(),
    }
}

async fn buckets(ctx: &Ctx, out: &mut Output) {
    let global = client(ctx, ctx.regions.first().map_or("us-east-1", String::as_str));
    // ListBuckets returns every bucket of the account in one answer unless
    // asked to page; page only when AWS says there is more.
    let mut listed = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut req = global.list_buckets();
        if let Some(t) = &token {
            req = req.continuation_token(t);
        }
        match ctx.call(req.send()).await {
            Ok(r) => {
                listed.extend(r.buckets().iter().cloned());
                token = r.continuation_token().map(str::to_string);
                if token.is_none() {
                    break;
                }
            }
            Err(e) => {
                out.errors
                    .push(ctx.sdk_error(SERVICE, "ListBuckets", &e, &[BUCKET]));
                return;
            }
        }
    }

    let mut clients: HashMap<String, aws_sdk_s3::Client> = HashMap::new();
    let mut located = Vec::new();
    for b in listed {
        let Some(name) = b.name().map(str::to_string) else {
            continue;
        };
        let region = match b.bucket_region() {
            Some(r) => r.to_string(),
            None => match ctx
                .call(global.get_bucket_location().bucket(&name).send())
                .await
            {
                Ok(l) => location_region(l.location_constraint().map(|c| c.as_str())),
                Err(e) => {
                    let mut err = ctx.sdk_error(SERVICE, "GetBucketLocation", &e, &[]);
                    err.message = format!("bucket {name}: {}", err.message);
                    out.errors.push(err);
                    continue;
                }
            },
        };
        if !ctx.regions.contains(&region) {
            continue;
        }
        let c = clients
            .entry(region.clone())
            .or_insert_with(|| client(ctx, &region))
            .clone();
        located.push((name, region, b.creation_date().cloned(), c));
    }

    let mut failures = Failures::default();
    let results: Vec<_> = futures::stream::iter(located)
        .map(|(name, region, created, c)| async move {
            let r = bucket(ctx, &c, &name, &region, created).await;
            (name, r)
        })
        .buffer_unordered(8)
        .collect()
        .await;
    for (name, (asset, errors)) in results {
        for (op, kind, message) in errors {
            failures.add(op, kind, &name, message);
        }
        out.assets.push(asset);
    }
    failures.report(ctx, out);
}

/// Per-operation failures across buckets, reported once each.
#[derive(Default)]
struct Failures(BTreeMap<(&'static str, &'static str), (Vec<String>, String)>);

impl Failures {
    fn add(&mut self, op: &'static str, kind: &'static str, bucket: &str, message: String) {
        let entry = self
            .0
            .entry((op, kind))
            .or_insert_with(|| (Vec::new(), message));
        entry.0.push(bucket.to_string());
    }

    fn report(self, ctx: &Ctx, out: &mut Output) {
        for ((op, kind), (buckets, message)) in self.0 {
            let shown: Vec<&str> = buckets.iter().take(5).map(String::as_str).collect();
            let more = if buckets.len() > 5 {
                format!(" and {} more", buckets.len() - 5)
            } else {
                String::new()
            };
            out.errors.push(ctx.error(
                SERVICE,
                op,
                kind,
                format!("{message} (buckets {}{more})", shown.join(", ")),
                &[],
            ));
        }
    }
}

type BucketErrors = Vec<(&'static str, &'static str, String)>;

async fn bucket(
    ctx: &Ctx,
    c: &aws_sdk_s3::Client,
    name: &str,
    region: &str,
    created: Option<aws_smithy_types::DateTime>,
) -> (crate::model::Asset, BucketErrors) {
    let (enc, ver, log, pab, pol, acl, lock, own, life, tags) = tokio::join!(
        ctx.call(c.get_bucket_encryption().bucket(name).send()),
        ctx.call(c.get_bucket_versioning().bucket(name).send()),
        ctx.call(c.get_bucket_logging().bucket(name).send()),
        ctx.call(c.get_public_access_block().bucket(name).send()),
        ctx.call(c.get_bucket_policy().bucket(name).send()),
        ctx.call(c.get_bucket_acl().bucket(name).send()),
        ctx.call(c.get_object_lock_configuration().bucket(name).send()),
        ctx.call(c.get_bucket_ownership_controls().bucket(name).send()),
        ctx.call(c.get_bucket_lifecycle_configuration().bucket(name).send()),
        ctx.call(c.get_bucket_tagging().bucket(name).send()),
    );
    let mut gaps = Vec::new();
    let mut errors: BucketErrors = Vec::new();
    let mut gap = |field: &str, op: &'static str, kind: &'static str, message: String| {
        gaps.push(Gap {
            field: field.into(),
            operation: op.into(),
            error: message.clone(),
        });
        errors.push((op, kind, message));
    };
    macro_rules! failed {
        ($field:expr, $op:expr, $err:expr) => {{
            let (kind, message) = super::errors::classify(&$err);
            gap($field, $op, kind, message);
            Value::Null
        }};
    }

    let encryption = match enc {
        Ok(r) => {
            let rules: Vec<Value> = r
                .server_side_encryption_configuration()
                .map(|c| c.rules())
                .unwrap_or_default()
                .iter()
                .map(|rule| {
                    let d = rule.apply_server_side_encryption_by_default();
                    json!({
                        "sse_algorithm": d.map(|d| d.sse_algorithm().as_str()),
                        "kms_master_key_id": d.and_then(|d| d.kms_master_key_id()),
                        "bucket_key_enabled": rule.bucket_key_enabled().unwrap_or(false),
                    })
                })
                .collect();
            json!({"enabled": !rules.is_empty(), "rules": rules})
        }
        Err(e) if is_not_found(&e, &["ServerSideEncryptionConfigurationNotFoundError"]) => {
            json!({"enabled": false, "rules": []})
        }
        Err(e) => failed!("encryption", "GetBucketEncryption", e),
    };
    let versioning = match ver {
        Ok(r) => json!({
            "status": r.status().map(|s| s.as_str()),
            "mfa_delete": r.mfa_delete().map(|m| m.as_str()),
        }),
        Err(e) => failed!("versioning", "GetBucketVersioning", e),
    };
    let logging = match log {
        Ok(r) => {
            let target = r.logging_enabled();
            json!({
                "enabled": target.is_some(),
                "target_bucket": target.map(|t| t.target_bucket()),
                "target_prefix": target.map(|t| t.target_prefix()),
            })
        }
        Err(e) => failed!("logging", "GetBucketLogging", e),
    };
    let public_access_block = match pab {
        Ok(r) => r
            .public_access_block_configuration()
            .map_or(Value::Null, |c| {
                json!({
                    "block_public_acls": c.block_public_acls().unwrap_or(false),
                    "ignore_public_acls": c.ignore_public_acls().unwrap_or(false),
                    "block_public_policy": c.block_public_policy().unwrap_or(false),
                    "restrict_public_buckets": c.restrict_public_buckets().unwrap_or(false),
                })
            }),
        Err(e) if is_not_found(&e, &["NoSuchPublicAccessBlockConfiguration"]) => Value::Null,
        Err(e) => failed!("public_access_block", "GetPublicAccessBlock", e),
    };
    let policy = match pol {
        Ok(r) => match r.policy().map(doc::policy) {
            Some(Ok(p)) => p,
            Some(Err(message)) => {
                gap("policy", "GetBucketPolicy", "other", message);
                Value::Null
            }
            None => Value::Null,
        },
        Err(e) if is_not_found(&e, &["NoSuchBucketPolicy"]) => Value::Null,
        Err(e) => failed!("policy", "GetBucketPolicy", e),
    };
    let acl = match acl {
        Ok(r) => {
            let grants: Vec<Value> = r
                .grants()
                .iter()
                .map(|g| {
                    let grantee = g.grantee();
                    json!({
                        "grantee_type": grantee.map(|x| x.r#type().as_str()),
                        "grantee_uri": grantee.and_then(|x| x.uri()),
                        "grantee_id": grantee.and_then(|x| x.id()),
                        "permission": g.permission().map(|p| p.as_str()),
                    })
                })
                .collect();
            json!({"owner_id": r.owner().and_then(|o| o.id()), "grants": grants})
        }
        Err(e) => failed!("acl", "GetBucketAcl", e),
    };
    let object_lock_enabled = match lock {
        Ok(r) => Value::Bool(
            r.object_lock_configuration()
                .and_then(|c| c.object_lock_enabled())
                .is_some_and(|e| e.as_str() == "Enabled"),
        ),
        Err(e) if is_not_found(&e, &["ObjectLockConfigurationNotFoundError"]) => Value::Bool(false),
        Err(e) => failed!("object_lock_enabled", "GetObjectLockConfiguration", e),
    };
    let ownership_controls = match own {
        Ok(r) => s(r
            .ownership_controls()
            .and_then(|c| c.rules().first())
            .map(|rule| rule.object_ownership().as_str())),
        Err(e) if is_not_found(&e, &["OwnershipControlsNotFoundError"]) => Value::Null,
        Err(e) => failed!("ownership_controls", "GetBucketOwnershipControls", e),
    };
    let lifecycle_rules_count = match life {
        Ok(r) => json!(r.rules().len()),
        Err(e) if is_not_found(&e, &["NoSuchLifecycleConfiguration"]) => json!(0),
        Err(e) => failed!(
            "lifecycle_rules_count",
            "GetBucketLifecycleConfiguration",
            e
        ),
    };
    drop(gap);
    let tags: Vec<(String, String)> = match tags {
        Ok(r) => r
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect(),
        Err(e) if is_not_found(&e, &["NoSuchTagSet"]) => Vec::new(),
        Err(e) => {
            let (kind, message) = super::errors::classify(&e);
            errors.push(("GetBucketTagging", kind, message));
            Vec::new()
        }
    };
    let body = json!({
        "name": name,
        "creation_date": doc::time(created.as_ref()),
        "encryption": encryption,
        "versioning": versioning,
        "logging": logging,
        "public_access_block": public_access_block,
        "policy": policy,
        "acl": acl,
        "object_lock_enabled": object_lock_enabled,
        "ownership_controls": ownership_controls,
        "lifecycle_rules_count": lifecycle_rules_count,
    });
    let asset = ctx.asset(
        region,
        format!("arn:aws:s3:::{name}"),
        BUCKET,
        name.to_string(),
        tags,
        body,
        gaps,
    );
    (asset, errors)
}

async fn account_block(ctx: &Ctx, out: &mut Output) {
    let mut conf = aws_sdk_s3control::config::Builder::from(&ctx.sdk);
    if let Some(url) = ctx.custom_endpoint() {
        // S3 Control puts the account id in the host name; a custom endpoint
        // (an emulator, a proxy) must be addressed as given.
        conf = conf.endpoint_resolver(FixedEndpoint(url.to_string()));
    }
    let c = aws_sdk_s3control::Client::from_conf(conf.build());
    let body = match ctx
        .call(c.get_public_access_block().account_id(&ctx.account).send())
        .await
    {
        Ok(r) => {
            let cfg = r.public_access_block_configuration();
            json!({
                "configured": cfg.is_some(),
                "block_public_acls": cfg.and_then(|c| c.block_public_acls()).unwrap_or(false),
                "ignore_public_acls": cfg.and_then(|c| c.ignore_public_acls()).unwrap_or(false),
                "block_public_policy": cfg.and_then(|c| c.block_public_policy()).unwrap_or(false),
                "restrict_public_buckets": cfg.and_then(|c| c.restrict_public_buckets()).unwrap_or(false),
            })
        }
        Err(e) if is_not_found(&e, &["NoSuchPublicAccessBlockConfiguration"]) => json!({
            "configured": false,
            "block_public_acls": false,
            "ignore_public_acls": false,
            "block_public_policy": false,
            "restrict_public_buckets": false,
        }),
        Err(e) => {
            out.errors.push(ctx.sdk_error(
                SERVICE,
                "GetPublicAccessBlock (account)",
                &e,
                &[ACCOUNT_BLOCK],
            ));
            return;
        }
    };
    out.assets.push(ctx.asset(
        "global",
        format!("arn:aws:s3::{}:account-public-access-block", ctx.account),
        ACCOUNT_BLOCK,
        "account-public-access-block".into(),
        Vec::new(),
        body,
        Vec::new(),
    ));
}

#[derive(Debug)]
struct FixedEndpoint(String);

impl aws_sdk_s3control::config::endpoint::ResolveEndpoint for FixedEndpoint {
    fn resolve_endpoint<'a>(
        &'a self,
        _: &'a aws_sdk_s3control::config::endpoint::Params,
    ) -> aws_sdk_s3control::config::endpoint::EndpointFuture<'a> {
        aws_sdk_s3control::config::endpoint::EndpointFuture::ready(Ok(
            aws_smithy_types::endpoint::Endpoint::builder()
                .url(self.0.clone())
                .build(),
        ))
    }
}
