//! EC2 in one region: instances, security groups (rules flattened per
//! source), network ACLs, EBS volumes, the account's snapshots and who may
//! restore them, VPCs with their flow logs, and the regional EBS settings.
//! Never reads instances' user data or console output.

use std::collections::HashMap;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    CreateVolumePermission, Filter, IpPermission, NetworkAclEntry, PermissionGroup, Snapshot,
    SnapshotAttributeName, Tag,
};
use futures::StreamExt;
use serde_json::{Value, json};
use stance_model::Asset;

use crate::toolkit::doc::{self, s};
use crate::toolkit::errors::is_not_found;
use crate::toolkit::record::{Failed, Failures, Misses};
use crate::toolkit::{Output, Target};

const SERVICE: &str = "ec2";
const INSTANCE: &str = "aws_ec2_instance";
const SECURITY_GROUP: &str = "aws_ec2_security_group";
const NETWORK_ACL: &str = "aws_ec2_network_acl";
const VOLUME: &str = "aws_ec2_volume";
const SNAPSHOT: &str = "aws_ec2_snapshot";
const VPC: &str = "aws_ec2_vpc";
const REGIONAL: &str = "aws_ec2_regional_settings";

/// VPC ids per DescribeFlowLogs `resource-id` filter.
const FLOW_LOG_BATCH: usize = 100;

pub(crate) async fn collect(target: &Target) -> Output {
    let c = Client::new(&target.sdk);
    let (instances, groups, acls, volumes, snapshots, vpcs, settings) = tokio::join!(
        unless_covered(target, INSTANCE, instances(target, &c)),
        unless_covered(target, SECURITY_GROUP, security_groups(target, &c)),
        unless_covered(target, NETWORK_ACL, network_acls(target, &c)),
        unless_covered(target, VOLUME, volumes(target, &c)),
        unless_covered(target, SNAPSHOT, snapshots(target, &c)),
        unless_covered(target, VPC, vpcs(target, &c)),
        unless_covered(target, REGIONAL, regional_settings(target, &c)),
    );
    let mut out = Output::default();
    for o in [instances, groups, acls, volumes, snapshots, vpcs, settings] {
        out.extend(o);
    }
    out
}

async fn unless_covered(
    target: &Target,
    resource_type: &str,
    collect: impl Future<Output = Output>,
) -> Output {
    if target.covered(resource_type) {
        Output::default()
    } else {
        collect.await
    }
}

fn arn(target: &Target, resource: &str) -> String {
    format!(
        "arn:{}:ec2:{}:{}:{resource}",
        target.partition(),
        target.region,
        target.account
    )
}

fn tags(list: &[Tag]) -> Vec<(String, String)> {
    doc::tags(list, |t| (t.key(), t.value()))
}

/// The `Name` tag, else the resource id.
fn name_of(tags: &[(String, String)], id: &str) -> String {
    tags.iter()
        .find(|(k, v)| k == "Name" && !v.is_empty())
        .map_or_else(|| id.to_string(), |(_, v)| v.clone())
}

async fn instances(target: &Target, c: &Client) -> Output {
    let mut out = Output::default();
    let pages = c.describe_instances().max_results(1000).into_paginator();
    let reservations = match target
        .items(pages.send(), |p| p.reservations.unwrap_or_default())
        .await
    {
        Ok(r) => r,
        Err(e) => {
            out.errors
                .push(target.sdk_error(SERVICE, "DescribeInstances", &e, &[INSTANCE]));
            return out;
        }
    };
    for i in reservations
        .into_iter()
        .flat_map(|r| r.instances.unwrap_or_default())
    {
        let Some(id) = i.instance_id() else {
            continue;
        };
        let state = i.state().and_then(|s| s.name()).map(|n| n.as_str());
        // Terminated instances stay listed for about an hour; they are gone.
        if state == Some("terminated") {
            continue;
        }
        let metadata_options = i.metadata_options().map_or(Value::Null, |m| {
            json!({
                "http_tokens": m.http_tokens().map(|t| t.as_str()),
                "http_endpoint": m.http_endpoint().map(|e| e.as_str()),
                "http_put_response_hop_limit": m.http_put_response_hop_limit(),
            })
        });
        let security_group_ids: Vec<&str> = i
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id())
            .collect();
        let block_devices: Vec<Value> = i
            .block_device_mappings()
            .iter()
            .map(|b| {
                json!({
                    "device_name": b.device_name(),
                    "volume_id": b.ebs().and_then(|e| e.volume_id()),
                })
            })
            .collect();
        let body = json!({
            "instance_id": id,
            "instance_type": i.instance_type().map(|t| t.as_str()),
            "image_id": i.image_id(),
            "state": state,
            "vpc_id": i.vpc_id(),
            "subnet_id": i.subnet_id(),
            "public_ip_address": i.public_ip_address(),
            "private_ip_address": i.private_ip_address(),
            "iam_instance_profile_arn": i.iam_instance_profile().and_then(|p| p.arn()),
            "metadata_options": metadata_options,
            "security_group_ids": security_group_ids,
            "monitoring": i.monitoring().and_then(|m| m.state()).map(|s| s.as_str()),
            "launch_time": doc::time(i.launch_time()),
            "block_devices": block_devices,
        });
        let tags = tags(i.tags());
        out.assets.push(target.asset(
            &target.region,
            arn(target, &format!("instance/{id}")),
            INSTANCE,
            name_of(&tags, id),
            tags,
            body,
            Vec::new(),
        ));
    }
    out
}

/// Protocol names as security groups show them (`6` → `tcp`, …); other
/// protocol numbers and `-1` unchanged.
fn protocol_name(p: &str) -> &str {
    match p {
        "6" => "tcp",
        "17" => "udp",
        "1" => "icmp",
        "58" => "icmpv6",
        other => other,
    }
}

/// One entry per (permission, source); see `docs/aws-resources.md`.
fn flatten(permissions: &[IpPermission]) -> Vec<Value> {
    let mut out = Vec::new();
    for p in permissions {
        let protocol = protocol_name(p.ip_protocol().unwrap_or("-1"));
        let (from, to) = match protocol {
            // ICMP: type and code, as AWS gives them.
            "icmp" | "icmpv6" => (p.from_port(), p.to_port()),
            "tcp" | "udp" => (
                Some(p.from_port().unwrap_or(0)),
                Some(p.to_port().unwrap_or(65535)),
            ),
            // Every port: all protocols (-1), or a protocol without ports.
            _ => (Some(0), Some(65535)),
        };
        let rule = |cidr4: Option<&str>,
                    cidr6: Option<&str>,
                    group: Option<&str>,
                    prefix_list: Option<&str>,
                    description: Option<&str>| {
            json!({
                "protocol": protocol,
                "from_port": from,
                "to_port": to,
                "cidr_ipv4": cidr4,
                "cidr_ipv6": cidr6,
                "source_group_id": group,
                "prefix_list_id": prefix_list,
                "description": description,
            })
        };
        for r in p.ip_ranges() {
            if let Some(cidr) = r.cidr_ip() {
                out.push(rule(Some(cidr), None, None, None, r.description()));
            }
        }
        for r in p.ipv6_ranges() {
            if let Some(cidr) = r.cidr_ipv6() {
                out.push(rule(None, Some(cidr), None, None, r.description()));
            }
        }
        for g in p.user_id_group_pairs() {
            if let Some(group) = g.group_id().or(g.group_name()) {
                out.push(rule(None, None, Some(group), None, g.description()));
            }
        }
        for l in p.prefix_list_ids() {
            if let Some(id) = l.prefix_list_id() {
                out.push(rule(None, None, None, Some(id), l.description()));
            }
        }
    }
    out
}

async fn security_groups(target: &Target, c: &Client) -> Output {
    let mut out = Output::default();
    let pages = c
        .describe_security_groups()
        .max_results(1000)
        .into_paginator();
    let groups = match target
        .items(pages.send(), |p| p.security_groups.unwrap_or_default())
        .await
    {
        Ok(g) => g,
        Err(e) => {
            out.errors.push(target.sdk_error(
                SERVICE,
                "DescribeSecurityGroups",
                &e,
                &[SECURITY_GROUP],
            ));
            return out;
        }
    };
    for g in groups {
        let Some(id) = g.group_id() else {
            continue;
        };
        let group_name = g.group_name().unwrap_or_default();
        let body = json!({
            "group_id": id,
            "group_name": group_name,
            "description": g.description(),
            "vpc_id": g.vpc_id(),
            // Every VPC has exactly one group named `default`, and no other group may take the name.
            "is_default": group_name == "default",
            "ingress": flatten(g.ip_permissions()),
            "egress": flatten(g.ip_permissions_egress()),
        });
        let name = if group_name.is_empty() {
            id
        } else {
            group_name
        };
        out.assets.push(target.asset(
            &target.region,
            arn(target, &format!("security-group/{id}")),
            SECURITY_GROUP,
            name.to_string(),
            tags(g.tags()),
            body,
            Vec::new(),
        ));
    }
    out
}

fn acl_entry(e: &NetworkAclEntry) -> Value {
    let protocol = protocol_name(e.protocol().unwrap_or("-1"));
    let (from, to) = match (protocol, e.port_range(), e.icmp_type_code()) {
        ("tcp" | "udp", Some(r), _) => (r.from(), r.to()),
        ("icmp" | "icmpv6", _, Some(t)) => (t.r#type(), t.code()),
        // All protocols, or no port range given: every port.
        _ => (Some(0), Some(65535)),
    };
    json!({
        "rule_number": e.rule_number(),
        "egress": e.egress().unwrap_or(false),
        "rule_action": e.rule_action().map(|a| a.as_str()),
        "protocol": protocol,
        "from_port": from,
        "to_port": to,
        "cidr_ipv4": e.cidr_block(),
        "cidr_ipv6": e.ipv6_cidr_block(),
    })
}

async fn network_acls(target: &Target, c: &Client) -> Output {
    let mut out = Output::default();
    let pages = c.describe_network_acls().max_results(100).into_paginator();
    let acls = match target
        .items(pages.send(), |p| p.network_acls.unwrap_or_default())
        .await
    {
        Ok(a) => a,
        Err(e) => {
            out.errors
                .push(target.sdk_error(SERVICE, "DescribeNetworkAcls", &e, &[NETWORK_ACL]));
            return out;
        }
    };
    for a in acls {
        let Some(id) = a.network_acl_id() else {
            continue;
        };
        let mut entries: Vec<&NetworkAclEntry> = a.entries().iter().collect();
        entries.sort_by_key(|e| (e.egress(), e.rule_number()));
        let body = json!({
            "network_acl_id": id,
            "vpc_id": a.vpc_id(),
            "is_default": a.is_default().unwrap_or(false),
            "entries": entries.into_iter().map(acl_entry).collect::<Vec<_>>(),
        });
        let tags = tags(a.tags());
        out.assets.push(target.asset(
            &target.region,
            arn(target, &format!("network-acl/{id}")),
            NETWORK_ACL,
            name_of(&tags, id),
            tags,
            body,
            Vec::new(),
        ));
    }
    out
}

async fn volumes(target: &Target, c: &Client) -> Output {
    let mut out = Output::default();
    let pages = c.describe_volumes().max_results(500).into_paginator();
    let volumes = match target
        .items(pages.send(), |p| p.volumes.unwrap_or_default())
        .await
    {
        Ok(v) => v,
        Err(e) => {
            out.errors
                .push(target.sdk_error(SERVICE, "DescribeVolumes", &e, &[VOLUME]));
            return out;
        }
    };
    for v in volumes {
        let Some(id) = v.volume_id() else {
            continue;
        };
        let attachments: Vec<Value> = v
            .attachments()
            .iter()
            .map(|a| json!({"instance_id": a.instance_id(), "device": a.device()}))
            .collect();
        let body = json!({
            "volume_id": id,
            "volume_type": v.volume_type().map(|t| t.as_str()),
            "state": v.state().map(|s| s.as_str()),
            "size_gib": v.size(),
            "encrypted": v.encrypted().unwrap_or(false),
            "kms_key_id": v.kms_key_id(),
            "attachments": attachments,
        });
        let tags = tags(v.tags());
        out.assets.push(target.asset(
            &target.region,
            arn(target, &format!("volume/{id}")),
            VOLUME,
            name_of(&tags, id),
            tags,
            body,
            Vec::new(),
        ));
    }
    out
}

async fn snapshots(target: &Target, c: &Client) -> Output {
    let mut out = Output::default();
    // The owner-id filter, not OwnerIds=self: emulators ignore the latter.
    let owner = Filter::builder()
        .name("owner-id")
        .set_values(Some(vec![target.account.clone()]))
        .build();
    let pages = c
        .describe_snapshots()
        .filters(owner)
        .max_results(1000)
        .into_paginator();
    let snapshots = match target
        .items(pages.send(), |p| p.snapshots.unwrap_or_default())
        .await
    {
        Ok(s) => s,
        Err(e) => {
            out.errors
                .push(target.sdk_error(SERVICE, "DescribeSnapshots", &e, &[SNAPSHOT]));
            return out;
        }
    };
    // Keep only what the account owns, whatever the endpoint did with the filter.
    let snapshots: Vec<_> = snapshots
        .into_iter()
        .filter(|s| s.owner_id().is_none_or(|o| o == target.account))
        .filter(|s| s.snapshot_id().is_some())
        .collect();
    let results: Vec<_> = futures::stream::iter(snapshots)
        .map(|snap| async move {
            let id = snap.snapshot_id().unwrap_or_default().to_string();
            let perms = target
                .call(
                    c.describe_snapshot_attribute()
                        .snapshot_id(&id)
                        .attribute(SnapshotAttributeName::CreateVolumePermission)
                        .send(),
                )
                .await;
            (snap, perms)
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut failures = Failures::default();
    for (snap, perms) in results {
        let id = snap.snapshot_id().unwrap_or_default().to_string();
        let mut m = Misses::default();
        let (public, shared) = match perms {
            Ok(r) => sharing(r.create_volume_permissions.unwrap_or_default()),
            // Deleted since it was listed.
            Err(e) if is_not_found(&e, &["InvalidSnapshot.NotFound"]) => continue,
            Err(e) => (
                m.sdk(
                    &["public", "shared_with_accounts"],
                    "DescribeSnapshotAttribute",
                    &e,
                ),
                Value::Null,
            ),
        };
        failures.add_all(&id, std::mem::take(&mut m.failed));
        out.assets
            .push(snapshot_asset(target, &snap, public, shared, m));
    }
    out.errors
        .extend(failures.report(target, SERVICE, "snapshots"));
    out
}

/// Who may restore a snapshot: `(public, shared_with_accounts)`.
fn sharing(perms: Vec<CreateVolumePermission>) -> (Value, Value) {
    let public = perms
        .iter()
        .any(|p| p.group() == Some(&PermissionGroup::All));
    let mut accounts: Vec<String> = perms
        .iter()
        .filter_map(|p| p.user_id().map(str::to_string))
        .collect();
    accounts.sort();
    accounts.dedup();
    (json!(public), json!(accounts))
}

/// One snapshot's asset, with the gaps its attribute call left.
fn snapshot_asset(
    target: &Target,
    snap: &Snapshot,
    public: Value,
    shared: Value,
    m: Misses,
) -> Asset {
    let id = snap.snapshot_id().unwrap_or_default();
    let body = json!({
        "snapshot_id": id,
        "volume_id": snap.volume_id(),
        "encrypted": snap.encrypted().unwrap_or(false),
        "start_time": doc::time(snap.start_time()),
        "public": public,
        "shared_with_accounts": shared,
    });
    let tags = tags(snap.tags());
    target.asset(
        &target.region,
        arn(target, &format!("snapshot/{id}")),
        SNAPSHOT,
        name_of(&tags, id),
        tags,
        body,
        m.gaps,
    )
}

async fn vpcs(target: &Target, c: &Client) -> Output {
    let mut out = Output::default();
    let pages = c.describe_vpcs().max_results(1000).into_paginator();
    let vpcs = match target
        .items(pages.send(), |p| p.vpcs.unwrap_or_default())
        .await
    {
        Ok(v) => v,
        Err(e) => {
            out.errors
                .push(target.sdk_error(SERVICE, "DescribeVpcs", &e, &[VPC]));
            return out;
        }
    };
    let ids: Vec<String> = vpcs
        .iter()
        .filter_map(|v| v.vpc_id().map(str::to_string))
        .collect();
    let (mut flow_logs, mut failed) = flow_logs(target, c, &ids).await;
    let mut failures = Failures::default();
    for v in &vpcs {
        let Some(id) = v.vpc_id() else {
            continue;
        };
        let mut m = Misses::default();
        let logs = match failed.remove(id) {
            Some(f) => m.gap(&["flow_logs"], f),
            None => json!(flow_logs.remove(id).unwrap_or_default()),
        };
        failures.add_all(id, m.failed);
        let body = json!({
            "vpc_id": id,
            "cidr_block": v.cidr_block(),
            "is_default": v.is_default().unwrap_or(false),
            "flow_logs": logs,
        });
        let tags = tags(v.tags());
        out.assets.push(target.asset(
            &target.region,
            arn(target, &format!("vpc/{id}")),
            VPC,
            name_of(&tags, id),
            tags,
            body,
            m.gaps,
        ));
    }
    out.errors.extend(failures.report(target, SERVICE, "VPCs"));
    out
}

/// The flow logs of the listed VPCs by VPC id (DescribeFlowLogs by batches
/// of VPC ids), and the failure of the batch of each VPC whose flow logs are
/// unknown.
async fn flow_logs(
    target: &Target,
    c: &Client,
    ids: &[String],
) -> (HashMap<String, Vec<Value>>, HashMap<String, Failed>) {
    let batches: Vec<(Vec<String>, _)> =
        futures::stream::iter(ids.chunks(FLOW_LOG_BATCH).map(<[String]>::to_vec))
            .map(|batch| async move {
                let filter = Filter::builder()
                    .name("resource-id")
                    .set_values(Some(batch.clone()))
                    .build();
                let pages = c
                    .describe_flow_logs()
                    .filter(filter)
                    .max_results(1000)
                    .into_paginator();
                let logs = target
                    .items(pages.send(), |p| p.flow_logs.unwrap_or_default())
                    .await;
                (batch, logs)
            })
            .buffer_unordered(4)
            .collect()
            .await;
    let mut flow_logs: HashMap<String, Vec<Value>> = HashMap::new();
    let mut failed: HashMap<String, Failed> = HashMap::new();
    for (batch, logs) in batches {
        match logs {
            Ok(logs) => {
                for l in logs {
                    let Some(vpc) = l.resource_id().filter(|r| batch.iter().any(|id| id == r))
                    else {
                        continue;
                    };
                    flow_logs.entry(vpc.to_string()).or_default().push(json!({
                        "flow_log_id": l.flow_log_id(),
                        "status": l.flow_log_status(),
                        "traffic_type": l.traffic_type().map(|t| t.as_str()),
                        "destination_type": l.log_destination_type().map(|d| d.as_str()),
                    }));
                }
            }
            Err(e) => {
                let f = Failed::sdk("DescribeFlowLogs", &e);
                for id in batch {
                    failed.insert(id, f.clone());
                }
            }
        }
    }
    (flow_logs, failed)
}

/// The region's EBS defaults and snapshot block public access. A failed call
/// leaves a gap in its field; the asset is missing only when every call failed.
async fn regional_settings(target: &Target, c: &Client) -> Output {
    let mut out = Output::default();
    let (by_default, kms_key, block) = tokio::join!(
        target.call(c.get_ebs_encryption_by_default().send()),
        target.call(c.get_ebs_default_kms_key_id().send()),
        target.call(c.get_snapshot_block_public_access_state().send()),
    );
    let mut m = Misses::default();
    let ebs_encryption_by_default = match by_default {
        Ok(r) => json!(r.ebs_encryption_by_default),
        Err(e) => m.sdk(
            &["ebs_encryption_by_default"],
            "GetEbsEncryptionByDefault",
            &e,
        ),
    };
    let ebs_default_kms_key_id = match kms_key {
        Ok(r) => s(r.kms_key_id.as_deref()),
        Err(e) => m.sdk(&["ebs_default_kms_key_id"], "GetEbsDefaultKmsKeyId", &e),
    };
    let snapshot_block_public_access_state = match block {
        Ok(r) => s(r.state.as_ref().map(|s| s.as_str())),
        Err(e) => m.sdk(
            &["snapshot_block_public_access_state"],
            "GetSnapshotBlockPublicAccessState",
            &e,
        ),
    };
    // Each failure is an error of its own: one call per region, nothing to aggregate.
    let mut errors: Vec<_> = m
        .failed
        .into_iter()
        .map(|f| f.into_error(target, SERVICE, None))
        .collect();
    if m.gaps.len() == 3 {
        // Nothing of the asset is known: the type is not collected here.
        if let Some(first) = errors.first_mut() {
            first.resource_types = vec![REGIONAL.to_string()];
        }
        out.errors.extend(errors);
        return out;
    }
    out.errors.extend(errors);
    let body = json!({
        "ebs_encryption_by_default": ebs_encryption_by_default,
        "ebs_default_kms_key_id": ebs_default_kms_key_id,
        "snapshot_block_public_access_state": snapshot_block_public_access_state,
    });
    out.assets.push(target.asset(
        &target.region,
        arn(target, "regional-settings"),
        REGIONAL,
        target.region.clone(),
        Vec::new(),
        body,
        m.gaps,
    ));
    out
}
