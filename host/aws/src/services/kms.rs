//! KMS: every key of the region, customer and AWS managed, with its state,
//! spec, automatic rotation (where it applies), normalized key policy and
//! tags; a key is named by its first alias.
//! Never uses a key (no encryption or decryption) and never reads its grants.

use std::collections::HashMap;

use aws_sdk_kms::Client;
use aws_sdk_kms::types::{KeyListEntry, KeyManagerType, KeyMetadata, KeySpec, OriginType};
use aws_smithy_runtime_api::client::result::SdkError;
use futures::StreamExt;
use serde_json::{Value, json};
use stance_model::Asset;

use crate::toolkit::doc::{self, s};
use crate::toolkit::errors::is_not_found;
use crate::toolkit::record::{Failed, Failures, Misses};
use crate::toolkit::{Output, Target};

const SERVICE: &str = "kms";
const KEY: &str = "aws_kms_key";

pub(crate) async fn collect(target: &Target) -> Output {
    let mut out = Output::default();
    if target.covered(KEY) {
        return out;
    }
    let c = Client::new(&target.sdk);
    let (keys, aliases) = tokio::join!(list_keys(target, &c), aliases(target, &c));
    let keys = match keys {
        Ok(k) => k,
        Err(e) => {
            out.errors
                .push(target.sdk_error(SERVICE, "ListKeys", &e, &[KEY]));
            return out;
        }
    };
    let aliases = match aliases {
        Ok(a) => a,
        Err(e) => {
            // The keys are still collected, named by their ids.
            let mut err = target.sdk_error(SERVICE, "ListAliases", &e, &[]);
            err.message = format!("keys are named by their ids: {}", err.message);
            out.errors.push(err);
            HashMap::new()
        }
    };
    let (c, aliases) = (&c, &aliases);
    let keys = keys
        .into_iter()
        .filter_map(|k| Some((k.key_id()?.to_string(), k)));
    let results: Vec<(String, Asset, Vec<Failed>)> = futures::stream::iter(keys)
        .map(|(id, k)| async move {
            let name = aliases.get(&id).cloned().unwrap_or_else(|| id.clone());
            let (asset, failed) = key(target, c, &id, &k, name).await;
            (id, asset, failed)
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut failures = Failures::default();
    for (id, asset, failed) in results {
        failures.add_all(&id, failed);
        out.assets.push(asset);
    }
    out.errors.extend(failures.report(target, SERVICE, "keys"));
    out
}

type HttpResponse = aws_smithy_runtime_api::client::orchestrator::HttpResponse;
type ListKeysError = SdkError<aws_sdk_kms::operation::list_keys::ListKeysError, HttpResponse>;
type ListAliasesError =
    SdkError<aws_sdk_kms::operation::list_aliases::ListAliasesError, HttpResponse>;
type TagsError =
    SdkError<aws_sdk_kms::operation::list_resource_tags::ListResourceTagsError, HttpResponse>;

async fn list_keys(target: &Target, c: &Client) -> Result<Vec<KeyListEntry>, ListKeysError> {
    let pages = c.list_keys().into_paginator().send();
    target.items(pages, |p| p.keys.unwrap_or_default()).await
}

/// The first alias (in name order) of every key that has one.
async fn aliases(target: &Target, c: &Client) -> Result<HashMap<String, String>, ListAliasesError> {
    let mut out: HashMap<String, String> = HashMap::new();
    let pages = c.list_aliases().into_paginator().send();
    for a in target.items(pages, |p| p.aliases.unwrap_or_default()).await? {
        let (Some(key), Some(alias)) = (a.target_key_id(), a.alias_name()) else {
            continue;
        };
        out.entry(key.to_string())
            .and_modify(|first| {
                if alias < first.as_str() {
                    *first = alias.to_string();
                }
            })
            .or_insert_with(|| alias.to_string());
    }
    Ok(out)
}

/// Does automatic rotation apply: symmetric encryption keys whose material
/// KMS generated (not imported, not in a custom key store). AWS managed keys
/// qualify too (AWS rotates them every year and says so).
fn rotation_applies(m: &KeyMetadata) -> bool {
    let symmetric = m.key_spec() == Some(&KeySpec::SymmetricDefault);
    // An answer without an origin is taken as KMS-generated material: ask.
    let kms_material = m.origin().is_none_or(|o| *o == OriginType::AwsKms);
    symmetric && kms_material
}

async fn key(
    target: &Target,
    c: &Client,
    id: &str,
    entry: &KeyListEntry,
    name: String,
) -> (Asset, Vec<Failed>) {
    let mut m = Misses::default();
    let (described, policy) = tokio::join!(
        target.call(c.describe_key().key_id(id).send()),
        target.call(c.get_key_policy().key_id(id).policy_name("default").send()),
    );
    let meta = match described {
        Ok(r) => r.key_metadata().cloned(),
        Err(e) => {
            m.sdk(DESCRIBE_KEY_FIELDS, "DescribeKey", &e);
            None
        }
    };
    let (rotation_enabled, tags) = rotation_and_tags(target, c, id, meta.as_ref(), &mut m).await;
    let policy = match policy {
        Ok(r) => match r.policy().map(doc::policy) {
            Some(Ok(p)) => p,
            Some(Err(message)) => m.gap(&["policy"], Failed::other("GetKeyPolicy", message)),
            None => Value::Null,
        },
        Err(e) => m.sdk(&["policy"], "GetKeyPolicy", &e),
    };
    let k = meta.as_ref();
    let arn = k.and_then(|k| k.arn()).or(entry.key_arn()).map_or_else(
        || {
            format!(
                "arn:{}:kms:{}:{}:key/{id}",
                target.partition(),
                target.region,
                target.account
            )
        },
        str::to_string,
    );
    let body = json!({
        "key_id": id,
        "description": s(k.and_then(|k| k.description())),
        "key_state": k.and_then(|k| k.key_state()).map(|v| v.as_str()),
        "key_manager": k.and_then(|k| k.key_manager()).map(|v| v.as_str()),
        "key_spec": k.and_then(|k| k.key_spec()).map(|v| v.as_str()),
        "key_usage": k.and_then(|k| k.key_usage()).map(|v| v.as_str()),
        "rotation_enabled": rotation_enabled,
        "policy": policy,
        "deletion_date": doc::time(k.and_then(|k| k.deletion_date())),
    });
    let asset = target.asset(&target.region, arn, KEY, name, tags, body, m.gaps);
    (asset, m.failed)
}

/// The body fields DescribeKey gives.
const DESCRIBE_KEY_FIELDS: &[&str] = &[
    "description",
    "key_state",
    "key_manager",
    "key_spec",
    "key_usage",
    "rotation_enabled",
    "deletion_date",
];

/// Whether automatic rotation is on (null where it does not apply) and the
/// key's tags (customer keys only: AWS managed keys cannot carry tags).
async fn rotation_and_tags(
    target: &Target,
    c: &Client,
    id: &str,
    meta: Option<&KeyMetadata>,
    m: &mut Misses,
) -> (Value, Vec<(String, String)>) {
    let customer = meta.is_none_or(|k| k.key_manager() != Some(&KeyManagerType::Aws));
    let (rotation, tags) = tokio::join!(
        async {
            match meta {
                Some(k) if rotation_applies(k) => Some(
                    target
                        .call(c.get_key_rotation_status().key_id(id).send())
                        .await,
                ),
                _ => None,
            }
        },
        async {
            if customer {
                Some(tags(target, c, id).await)
            } else {
                None
            }
        },
    );
    let rotation_enabled = match rotation {
        Some(Ok(r)) => Value::Bool(r.key_rotation_enabled()),
        // Rotation is not available for this key or in its current state.
        Some(Err(e))
            if is_not_found(
                &e,
                &["UnsupportedOperationException", "KMSInvalidStateException"],
            ) =>
        {
            Value::Null
        }
        Some(Err(e)) => m.sdk(&["rotation_enabled"], "GetKeyRotationStatus", &e),
        None => Value::Null,
    };
    let tags = match tags {
        Some(Ok(t)) => t,
        Some(Err(e)) => {
            m.fail(Failed::sdk("ListResourceTags", &e));
            Vec::new()
        }
        None => Vec::new(),
    };
    (rotation_enabled, tags)
}

/// The key's tags, every page.
async fn tags(target: &Target, c: &Client, id: &str) -> Result<Vec<(String, String)>, TagsError> {
    let pages = c.list_resource_tags().key_id(id).into_paginator().send();
    let tags = target.items(pages, |p| p.tags.unwrap_or_default()).await?;
    Ok(doc::tags(&tags, |t| (t.tag_key(), t.tag_value())))
}
