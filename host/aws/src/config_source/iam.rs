//! Maps `AWS::IAM::Role` and `AWS::IAM::Policy` items to the IAM collector's
//! asset bodies, filling fields Config lacks from the IAM APIs.
//! Never builds a body of its own: the shapes are `services/iam.rs`'s.
//!
//! IAM items: `configuration` holds the role (trust policy, inline and
//! attached policies, URL-encoded documents) or the policy with every
//! version's document. Last use, tags and the session duration of roles
//! come from GetRole, as in the direct collector.

use futures::StreamExt;
use serde_json::{Value, json};

use super::normalise::{config_time, configuration};
use super::{Mapped, unmapped};
use crate::services::iam::{self, PolicyParts, RoleParts};
use crate::toolkit::{Output, Target, doc};
use aws_sdk_config::types::BaseConfigurationItem;

const SOURCE: &str = "BatchGetResourceConfig";

pub(super) async fn roles(target: &Target, items: Vec<BaseConfigurationItem>) -> Mapped {
    let c = aws_sdk_iam::Client::new(&target.sdk);
    let c = &c;
    each(target, items, |item| async move {
        let conf = configuration(&item)?;
        let parts = role(&item, &conf)?;
        Ok(iam::role_asset(target, c, parts).await)
    })
    .await
}

pub(super) async fn policies(target: &Target, items: Vec<BaseConfigurationItem>) -> Mapped {
    let c = aws_sdk_iam::Client::new(&target.sdk);
    let c = &c;
    each(target, items, |item| async move {
        let conf = configuration(&item)?;
        let parts = policy(&item, &conf)?;
        Ok(iam::policy_asset(target, c, parts).await)
    })
    .await
}

/// Map every item, eight at a time.
async fn each<F, Fut>(target: &Target, items: Vec<BaseConfigurationItem>, f: F) -> Mapped
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
                unmapped(target, &item, why);
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
            "../../../../tests/aws/config-items/AWS_IAM_Role.json"
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
            "../../../../tests/aws/config-items/AWS_IAM_Policy.json"
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
