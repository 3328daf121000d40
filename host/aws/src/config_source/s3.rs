//! Maps `AWS::S3::Bucket` and `AWS::S3::AccountPublicAccessBlock` items to the
//! S3 collector's asset bodies, filling fields Config lacks from the S3 APIs.
//! Never builds a body of its own: the shapes are `services/s3.rs`'s.
//!
//! S3 items: `configuration` holds the name and creation date, and
//! `supplementaryConfiguration` the bucket's settings, each as JSON text.
//! Config records no ownership controls, and emulators leave out more
//! (moto: encryption, versioning, object lock): those come from S3.

use std::collections::HashMap;

use futures::StreamExt;
use serde_json::{Value, json};

use aws_sdk_config::types::BaseConfigurationItem;
use stance_model::Asset;

use super::normalise::{config_time, configuration, decoded};
use super::{Mapped, unmapped};
use crate::services::s3::{self, BucketFields, Field};
use crate::toolkit::record::{Failed, Failures};
use crate::toolkit::{Target, doc};

pub(super) async fn buckets(target: &Target, items: Vec<BaseConfigurationItem>) -> Mapped {
    let mut mapped = Mapped {
        complete: true,
        ..Mapped::default()
    };
    let results: Vec<_> = futures::stream::iter(items)
        .map(|item| async move {
            let r = bucket(target, &item).await;
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
                unmapped(target, &item, why);
                mapped.complete = false;
            }
        }
    }
    mapped
        .output
        .errors
        .extend(failures.report(target, s3::SERVICE, "buckets"));
    mapped
}

/// One bucket's asset; `None` for a bucket outside the scan's regions.
async fn bucket(
    target: &Target,
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
    if !target.regions.contains(&region) {
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
    let c = s3::client(target, &region);
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
    let fields = BucketFields::from(tokio::join!(
        either(encryption, s3::encryption(target, c, n)),
        either(versioning, s3::versioning(target, c, n)),
        either(logging, s3::logging(target, c, n)),
        either(pab, s3::public_access_block(target, c, n)),
        either(policy, s3::policy(target, c, n)),
        either(acl, s3::acl(target, c, n)),
        either(lock, s3::object_lock_enabled(target, c, n)),
        s3::ownership_controls(target, c, n),
        either(lifecycle, s3::lifecycle_rules_count(target, c, n)),
        async {
            match tags {
                Some(t) => Ok(t),
                None => s3::tags(target, c, n).await,
            }
        },
    ));
    let (asset, errors) = s3::bucket_asset(target, &name, &region, creation_date, fields);
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
pub(super) fn account_block(target: &Target, items: Vec<BaseConfigurationItem>) -> Mapped {
    let mut mapped = Mapped::default();
    let Some(item) = items
        .iter()
        .find(|i| i.account_id().is_none_or(|a| a == target.account))
    else {
        return mapped;
    };
    match configuration(item) {
        Ok(conf) if conf.is_object() => {
            let flag = |k: &str| conf[k].as_bool().unwrap_or(false);
            mapped.output.assets.push(s3::account_block_asset(
                target,
                Some([
                    flag("blockPublicAcls"),
                    flag("ignorePublicAcls"),
                    flag("blockPublicPolicy"),
                    flag("restrictPublicBuckets"),
                ]),
            ));
            mapped.complete = true;
        }
        Ok(_) => unmapped(target, item, "its configuration is not an object".into()),
        Err(why) => unmapped(target, item, why),
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
            "../../../../tests/aws/config-items/AWS_S3_Bucket.json"
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
            acl(&json!({"grantList": [{"grantee": "Somebody", "permission": "Read"}]})).is_none()
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
