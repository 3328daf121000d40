//! S3: buckets (encryption, versioning, logging, public access block,
//! policy and its status, ACL, object lock, ownership, lifecycle, tags) in
//! the scan's regions, and the account-level public access block; and
//! [`objects`], which reads log objects for `stance detect` (not a
//! collector). Never reads objects' contents while collecting, and never
//! lists buckets outside the scan's regions.

pub(crate) mod objects;

use aws_sdk_s3::operation::list_buckets::ListBucketsError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use futures::StreamExt;
use serde_json::{Value, json};
use stance_model::Asset;

use crate::toolkit::doc::{self, s};
use crate::toolkit::errors::is_not_found;
use crate::toolkit::record::{Failed, Failures, Misses};
use crate::toolkit::{Output, Target};

pub(crate) const SERVICE: &str = "s3";
const BUCKET: &str = "aws_s3_bucket";
const ACCOUNT_BLOCK: &str = "aws_s3_account_public_access_block";

pub(crate) async fn collect(target: &Target) -> Output {
    let mut out = Output::default();
    if !target.covered(ACCOUNT_BLOCK) {
        account_block(target, &mut out).await;
    }
    if !target.covered(BUCKET) {
        buckets(target, &mut out).await;
    }
    out
}

/// An S3 client for the buckets of `region`.
pub(crate) fn client(target: &Target, region: &str) -> aws_sdk_s3::Client {
    let sdk = crate::toolkit::sdk::for_region(&target.sdk, region);
    let conf = aws_sdk_s3::config::Builder::from(&sdk)
        // Emulators (and some gateways) answer on one host: address buckets by path.
        .force_path_style(target.custom_endpoint().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// A bucket as ListBuckets gave it.
type Listed = aws_sdk_s3::types::Bucket;

/// Every bucket of the account in `region`: ListBuckets filtered by
/// `BucketRegion`, sent to that region's endpoint (S3 refuses the filter
/// elsewhere) by `c`, paged only when AWS says there is more.
async fn list_buckets_in(
    target: &Target,
    c: &aws_sdk_s3::Client,
    region: &str,
) -> Result<Vec<Listed>, SdkError<ListBucketsError, HttpResponse>> {
    let mut listed = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut req = c.list_buckets().bucket_region(region);
        if let Some(t) = &token {
            req = req.continuation_token(t);
        }
        let r = target.call(req.send()).await?;
        listed.extend(r.buckets().iter().cloned());
        token = r.continuation_token().map(str::to_string);
        if token.is_none() {
            return Ok(listed);
        }
    }
}

async fn buckets(target: &Target, out: &mut Output) {
    // One listing per scanned region, all at once, each from its region's
    // endpoint: every bucket's region comes with it (no GetBucketLocation
    // per bucket), and buckets outside the scan's regions are never listed.
    let clients: Vec<(String, aws_sdk_s3::Client)> = target
        .regions
        .iter()
        .map(|region| (region.clone(), client(target, region)))
        .collect();
    let listings = futures::future::join_all(
        clients
            .iter()
            .map(|(region, c)| list_buckets_in(target, c, region)),
    )
    .await;
    let mut located = Vec::new();
    for ((region, c), listed) in clients.iter().zip(listings) {
        let listed = match listed {
            Ok(listed) => listed,
            Err(e) => {
                out.errors
                    .push(target.sdk_error(SERVICE, "ListBuckets", &e, &[BUCKET]));
                return;
            }
        };
        for b in listed {
            if let Some(name) = b.name() {
                let created = b.creation_date().cloned();
                located.push((name.to_string(), region.clone(), created, c.clone()));
            }
        }
    }

    let mut failures = Failures::default();
    let results: Vec<_> = futures::stream::iter(located)
        .map(|(name, region, created, c)| async move {
            let r = bucket(target, &c, &name, &region, created).await;
            (name, r)
        })
        .buffer_unordered(8)
        .collect()
        .await;
    for (name, (asset, failed)) in results {
        failures.add_all(&name, failed);
        out.assets.push(asset);
    }
    out.errors.extend(failures.report(target, SERVICE, "buckets"));
}

/// One body field of a bucket, or why it could not be read.
pub(crate) type Field = Result<Value, Failed>;

/// Everything a bucket's asset is made of besides its name, region and
/// creation date: each field from the S3 APIs or from another source (AWS
/// Config), whichever had it.
pub(crate) struct BucketFields {
    pub encryption: Field,
    pub versioning: Field,
    pub logging: Field,
    pub public_access_block: Field,
    pub policy: Field,
    pub acl: Field,
    pub object_lock_enabled: Field,
    pub ownership_controls: Field,
    pub lifecycle_rules_count: Field,
    pub tags: Result<Vec<(String, String)>, Failed>,
}

impl BucketFields {
    /// Every field from the S3 APIs, all calls at once.
    pub(crate) async fn fetch(target: &Target, c: &aws_sdk_s3::Client, name: &str) -> Self {
        tokio::join!(
            encryption(target, c, name),
            versioning(target, c, name),
            logging(target, c, name),
            public_access_block(target, c, name),
            policy(target, c, name),
            acl(target, c, name),
            object_lock_enabled(target, c, name),
            ownership_controls(target, c, name),
            lifecycle_rules_count(target, c, name),
            tags(target, c, name),
        )
        .into()
    }
}

/// The fields of [`BucketFields`] in its order, as a `tokio::join!` of their
/// ten fetches yields them.
type Joined = (
    Field,
    Field,
    Field,
    Field,
    Field,
    Field,
    Field,
    Field,
    Field,
    Result<Vec<(String, String)>, Failed>,
);

impl From<Joined> for BucketFields {
    fn from(
        (
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
        ): Joined,
    ) -> Self {
        BucketFields {
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
        }
    }
}

async fn bucket(
    target: &Target,
    c: &aws_sdk_s3::Client,
    name: &str,
    region: &str,
    created: Option<aws_smithy_types::DateTime>,
) -> (Asset, Vec<Failed>) {
    let fields = BucketFields::fetch(target, c, name).await;
    bucket_asset(target, name, region, doc::time(created.as_ref()), fields)
}

/// `encryption`: GetBucketEncryption.
pub(crate) async fn encryption(target: &Target, c: &aws_sdk_s3::Client, name: &str) -> Field {
    match target
        .call(c.get_bucket_encryption().bucket(name).send())
        .await
    {
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
            Ok(json!({"enabled": !rules.is_empty(), "rules": rules}))
        }
        Err(e) if is_not_found(&e, &["ServerSideEncryptionConfigurationNotFoundError"]) => {
            Ok(json!({"enabled": false, "rules": []}))
        }
        Err(e) => Err(Failed::sdk("GetBucketEncryption", &e)),
    }
}

/// `versioning`: GetBucketVersioning.
pub(crate) async fn versioning(target: &Target, c: &aws_sdk_s3::Client, name: &str) -> Field {
    match target
        .call(c.get_bucket_versioning().bucket(name).send())
        .await
    {
        Ok(r) => Ok(json!({
            "status": r.status().map(|s| s.as_str()),
            "mfa_delete": r.mfa_delete().map(|m| m.as_str()),
        })),
        Err(e) => Err(Failed::sdk("GetBucketVersioning", &e)),
    }
}

/// `logging`: GetBucketLogging.
pub(crate) async fn logging(target: &Target, c: &aws_sdk_s3::Client, name: &str) -> Field {
    match target.call(c.get_bucket_logging().bucket(name).send()).await {
        Ok(r) => {
            let on = r.logging_enabled();
            Ok(json!({
                "enabled": on.is_some(),
                "target_bucket": on.map(|t| t.target_bucket()),
                "target_prefix": on.map(|t| t.target_prefix()),
            }))
        }
        Err(e) => Err(Failed::sdk("GetBucketLogging", &e)),
    }
}

/// `public_access_block`: GetPublicAccessBlock (bucket).
pub(crate) async fn public_access_block(target: &Target, c: &aws_sdk_s3::Client, name: &str) -> Field {
    match target
        .call(c.get_public_access_block().bucket(name).send())
        .await
    {
        Ok(r) => Ok(r
            .public_access_block_configuration()
            .map_or(Value::Null, |c| {
                json!({
                    "block_public_acls": c.block_public_acls().unwrap_or(false),
                    "ignore_public_acls": c.ignore_public_acls().unwrap_or(false),
                    "block_public_policy": c.block_public_policy().unwrap_or(false),
                    "restrict_public_buckets": c.restrict_public_buckets().unwrap_or(false),
                })
            })),
        Err(e) if is_not_found(&e, &["NoSuchPublicAccessBlockConfiguration"]) => Ok(Value::Null),
        Err(e) => Err(Failed::sdk("GetPublicAccessBlock", &e)),
    }
}

/// `policy`: GetBucketPolicy, normalized.
pub(crate) async fn policy(target: &Target, c: &aws_sdk_s3::Client, name: &str) -> Field {
    match target.call(c.get_bucket_policy().bucket(name).send()).await {
        Ok(r) => match r.policy().map(doc::policy) {
            Some(Ok(p)) => Ok(p),
            Some(Err(message)) => Err(Failed::other("GetBucketPolicy", message)),
            None => Ok(Value::Null),
        },
        Err(e) if is_not_found(&e, &["NoSuchBucketPolicy"]) => Ok(Value::Null),
        Err(e) => Err(Failed::sdk("GetBucketPolicy", &e)),
    }
}

/// `acl`: GetBucketAcl.
pub(crate) async fn acl(target: &Target, c: &aws_sdk_s3::Client, name: &str) -> Field {
    match target.call(c.get_bucket_acl().bucket(name).send()).await {
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
            Ok(json!({"owner_id": r.owner().and_then(|o| o.id()), "grants": grants}))
        }
        Err(e) => Err(Failed::sdk("GetBucketAcl", &e)),
    }
}

/// `object_lock_enabled`: GetObjectLockConfiguration.
pub(crate) async fn object_lock_enabled(target: &Target, c: &aws_sdk_s3::Client, name: &str) -> Field {
    match target
        .call(c.get_object_lock_configuration().bucket(name).send())
        .await
    {
        Ok(r) => Ok(Value::Bool(
            r.object_lock_configuration()
                .and_then(|c| c.object_lock_enabled())
                .is_some_and(|e| e.as_str() == "Enabled"),
        )),
        Err(e) if is_not_found(&e, &["ObjectLockConfigurationNotFoundError"]) => {
            Ok(Value::Bool(false))
        }
        Err(e) => Err(Failed::sdk("GetObjectLockConfiguration", &e)),
    }
}

/// `ownership_controls`: GetBucketOwnershipControls.
pub(crate) async fn ownership_controls(target: &Target, c: &aws_sdk_s3::Client, name: &str) -> Field {
    match target
        .call(c.get_bucket_ownership_controls().bucket(name).send())
        .await
    {
        Ok(r) => Ok(s(r
            .ownership_controls()
            .and_then(|c| c.rules().first())
            .map(|rule| rule.object_ownership().as_str()))),
        Err(e) if is_not_found(&e, &["OwnershipControlsNotFoundError"]) => Ok(Value::Null),
        Err(e) => Err(Failed::sdk("GetBucketOwnershipControls", &e)),
    }
}

/// `lifecycle_rules_count`: GetBucketLifecycleConfiguration.
pub(crate) async fn lifecycle_rules_count(target: &Target, c: &aws_sdk_s3::Client, name: &str) -> Field {
    match target
        .call(c.get_bucket_lifecycle_configuration().bucket(name).send())
        .await
    {
        Ok(r) => Ok(json!(r.rules().len())),
        Err(e) if is_not_found(&e, &["NoSuchLifecycleConfiguration"]) => Ok(json!(0)),
        Err(e) => Err(Failed::sdk("GetBucketLifecycleConfiguration", &e)),
    }
}

/// The bucket's tags: GetBucketTagging.
pub(crate) async fn tags(
    target: &Target,
    c: &aws_sdk_s3::Client,
    name: &str,
) -> Result<Vec<(String, String)>, Failed> {
    match target.call(c.get_bucket_tagging().bucket(name).send()).await {
        Ok(r) => Ok(doc::tags(r.tag_set(), |t| (t.key(), t.value()))),
        Err(e) if is_not_found(&e, &["NoSuchTagSet"]) => Ok(Vec::new()),
        Err(e) => Err(Failed::sdk("GetBucketTagging", &e)),
    }
}

/// A bucket's asset from its fields: a field that could not be read is null
/// with a gap, and its failure is returned for the collection's errors (a
/// failure to read the tags is an error but no gap).
pub(crate) fn bucket_asset(
    target: &Target,
    name: &str,
    region: &str,
    creation_date: Value,
    f: BucketFields,
) -> (Asset, Vec<Failed>) {
    let mut m = Misses::default();
    let encryption = m.field("encryption", f.encryption);
    let versioning = m.field("versioning", f.versioning);
    let logging = m.field("logging", f.logging);
    let public_access_block = m.field("public_access_block", f.public_access_block);
    let policy = m.field("policy", f.policy);
    let acl = m.field("acl", f.acl);
    let object_lock_enabled = m.field("object_lock_enabled", f.object_lock_enabled);
    let ownership_controls = m.field("ownership_controls", f.ownership_controls);
    let lifecycle_rules_count = m.field("lifecycle_rules_count", f.lifecycle_rules_count);
    let tags = match f.tags {
        Ok(t) => t,
        Err(e) => {
            m.fail(e);
            Vec::new()
        }
    };
    let body = json!({
        "name": name,
        "creation_date": creation_date,
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
    let asset = target.asset(
        region,
        format!("arn:{}:s3:::{name}", target.partition()),
        BUCKET,
        name.to_string(),
        tags,
        body,
        m.gaps,
    );
    (asset, m.failed)
}

/// The account-level block's settings, in the order `block_public_acls`,
/// `ignore_public_acls`, `block_public_policy`, `restrict_public_buckets`.
pub(crate) type AccountBlock = [bool; 4];

/// The account-level block's asset; `None` when the account has none.
pub(crate) fn account_block_asset(target: &Target, block: Option<AccountBlock>) -> Asset {
    let [acls, ignore, policy, restrict] = block.unwrap_or_default();
    let body = json!({
        "configured": block.is_some(),
        "block_public_acls": acls,
        "ignore_public_acls": ignore,
        "block_public_policy": policy,
        "restrict_public_buckets": restrict,
    });
    target.asset(
        "global",
        format!(
            "arn:{}:s3::{}:account-public-access-block",
            target.partition(),
            target.account
        ),
        ACCOUNT_BLOCK,
        "account-public-access-block".into(),
        Vec::new(),
        body,
        Vec::new(),
    )
}

async fn account_block(target: &Target, out: &mut Output) {
    let mut conf = aws_sdk_s3control::config::Builder::from(&target.sdk);
    if let Some(url) = target.custom_endpoint() {
        // S3 Control puts the account id in the host name; a custom endpoint
        // (an emulator, a proxy) must be addressed as given.
        conf = conf.endpoint_resolver(FixedEndpoint(url.to_string()));
    }
    let c = aws_sdk_s3control::Client::from_conf(conf.build());
    let block = match target
        .call(c.get_public_access_block().account_id(&target.account).send())
        .await
    {
        Ok(r) => r.public_access_block_configuration().map(|c| {
            [
                c.block_public_acls().unwrap_or(false),
                c.ignore_public_acls().unwrap_or(false),
                c.block_public_policy().unwrap_or(false),
                c.restrict_public_buckets().unwrap_or(false),
            ]
        }),
        Err(e) if is_not_found(&e, &["NoSuchPublicAccessBlockConfiguration"]) => None,
        Err(e) => {
            out.errors.push(target.sdk_error(
                SERVICE,
                "GetPublicAccessBlock (account)",
                &e,
                &[ACCOUNT_BLOCK],
            ));
            return;
        }
    };
    out.assets.push(account_block_asset(target, block));
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
