//! EKS: the region's clusters with their Kubernetes version, API endpoint
//! access (public, private, allowed CIDRs), envelope encryption of
//! Kubernetes resources, control-plane logging and tags (DescribeCluster).
//! Never calls a cluster's Kubernetes API.

use aws_sdk_eks::Client;
use aws_sdk_eks::types::Cluster;
use futures::StreamExt;
use serde_json::{Value, json};
use stance_model::Asset;

use crate::toolkit::doc::{self, s};
use crate::toolkit::errors::is_not_found;
use crate::toolkit::record::{Failed, Misses};
use crate::toolkit::{Output, Target};

const SERVICE: &str = "eks";
const CLUSTER: &str = "aws_eks_cluster";

/// The fields only DescribeCluster answers.
const DETAIL_FIELDS: &[&str] = &[
    "arn",
    "status",
    "version",
    "version_major",
    "version_minor",
    "platform_version",
    "role_arn",
    "created_at",
    "endpoint_public_access",
    "endpoint_private_access",
    "public_access_cidrs",
    "vpc_id",
    "subnet_ids",
    "security_group_ids",
    "cluster_security_group_id",
    "encryption_config",
    "logging",
    "enabled_log_types",
];

pub(crate) async fn collect(target: &Target) -> Output {
    let mut out = Output::default();
    if target.covered(CLUSTER) {
        return out;
    }
    let c = Client::new(&target.sdk);
    let pages = c.list_clusters().into_paginator().send();
    let names: Vec<String> = match target.items(pages, |p| p.clusters.unwrap_or_default()).await {
        Ok(n) => n,
        Err(e) => {
            out.errors
                .push(target.sdk_error(SERVICE, "ListClusters", &e, &[CLUSTER]));
            return out;
        }
    };
    let c = &c;
    let results: Vec<Option<(Asset, Vec<Failed>)>> = futures::stream::iter(names)
        .map(|name| cluster(target, c, name))
        .buffer_unordered(8)
        .collect()
        .await;
    out.add_detailed(target, SERVICE, "clusters", results.into_iter().flatten());
    out
}

/// `1.31` → (1, 31); anything else → nulls.
fn version_parts(v: Option<&str>) -> (Value, Value) {
    let parsed = v.and_then(|v| {
        let (major, minor) = v.split_once('.')?;
        Some((major.parse::<u64>().ok()?, minor.parse::<u64>().ok()?))
    });
    match parsed {
        Some((major, minor)) => (json!(major), json!(minor)),
        None => (Value::Null, Value::Null),
    }
}

/// The control-plane log types that are enabled, in AWS's spelling.
fn enabled_log_types(c: &Cluster) -> Vec<&str> {
    let mut out: Vec<&str> = c
        .logging()
        .map(|l| l.cluster_logging())
        .unwrap_or_default()
        .iter()
        .filter(|s| s.enabled() == Some(true))
        .flat_map(|s| s.types().iter().map(|t| t.as_str()))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The envelope encryption configuration: the KMS key and the resources
/// it was associated for. The SDK deprecates `resources` (EKS now encrypts
/// all Kubernetes API data by default), but it still says what the key was
/// configured for.
#[allow(deprecated)]
fn encryption_config(c: &Cluster) -> Vec<Value> {
    c.encryption_config()
        .iter()
        .map(|e| {
            json!({
                "resources": e.resources(),
                "key_arn": s(e.provider().and_then(|p| p.key_arn())),
            })
        })
        .collect()
}

/// One cluster; `None` when it was deleted since it was listed.
async fn cluster(target: &Target, c: &Client, name: String) -> Option<(Asset, Vec<Failed>)> {
    let mut m = Misses::default();
    let cluster = match target.call(c.describe_cluster().name(&name).send()).await {
        Ok(r) => r.cluster,
        Err(e) if is_not_found(&e, &["ResourceNotFoundException"]) => return None,
        Err(e) => {
            m.sdk(DETAIL_FIELDS, "DescribeCluster", &e);
            None
        }
    };
    let k = cluster.as_ref();
    let arn = k.and_then(|k| k.arn()).map_or_else(
        || {
            format!(
                "arn:{}:eks:{}:{}:cluster/{name}",
                target.partition(),
                target.region,
                target.account
            )
        },
        str::to_string,
    );
    let vpc = k.and_then(|k| k.resources_vpc_config());
    let (major, minor) = version_parts(k.and_then(|k| k.version()));
    let tags: Vec<(String, String)> = k
        .and_then(|k| k.tags())
        .map(|t| {
            let mut t: Vec<(String, String)> =
                t.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            t.sort();
            t
        })
        .unwrap_or_default();
    let body = json!({
        "name": name,
        "arn": arn,
        "status": k.and_then(|k| k.status()).map(|v| v.as_str()),
        "version": k.and_then(|k| k.version()),
        "version_major": major,
        "version_minor": minor,
        "platform_version": k.and_then(|k| k.platform_version()),
        "role_arn": k.and_then(|k| k.role_arn()),
        "created_at": doc::time(k.and_then(|k| k.created_at())),
        "endpoint_public_access": vpc.map(|v| v.endpoint_public_access()),
        "endpoint_private_access": vpc.map(|v| v.endpoint_private_access()),
        "public_access_cidrs": vpc.map(|v| v.public_access_cidrs()),
        "vpc_id": vpc.map(|v| s(v.vpc_id())),
        "subnet_ids": vpc.map(|v| v.subnet_ids()),
        "security_group_ids": vpc.map(|v| v.security_group_ids()),
        "cluster_security_group_id": vpc.map(|v| s(v.cluster_security_group_id())),
        "encryption_config": k.map(encryption_config),
        "logging": k.map(|k| k.logging().map(|l| l.cluster_logging()).unwrap_or_default().iter().map(|s| json!({
            "types": s.types().iter().map(|t| t.as_str()).collect::<Vec<_>>(),
            "enabled": s.enabled(),
        })).collect::<Vec<_>>()),
        "enabled_log_types": k.map(enabled_log_types),
    });
    let asset = target.asset(&target.region, arn, CLUSTER, name, tags, body, m.gaps);
    Some((asset, m.failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_split_into_numbers() {
        assert_eq!(version_parts(Some("1.31")), (json!(1), json!(31)));
        assert_eq!(version_parts(Some("1.9")), (json!(1), json!(9)));
        assert_eq!(version_parts(Some("latest")), (Value::Null, Value::Null));
        assert_eq!(version_parts(None), (Value::Null, Value::Null));
    }
}
