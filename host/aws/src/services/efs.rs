//! EFS: the region's file systems with their encryption (and whether the
//! key is AWS managed, from KMS), performance and throughput modes,
//! automatic backups, file system policy, lifecycle policies and mount
//! targets (with whether their subnets assign public IPv4 addresses, from
//! EC2); and the access points with their root directory and POSIX user.
//! Never mounts a file system or reads its data.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_efs::Client;
use aws_sdk_efs::types::{AccessPointDescription, FileSystemDescription, MountTargetDescription};
use futures::StreamExt;
use serde_json::{Value, json};
use stance_model::Asset;

use crate::toolkit::doc::{self, s};
use crate::toolkit::errors::is_not_found;
use crate::toolkit::record::{Failed, Misses};
use crate::toolkit::{Output, Target};

const SERVICE: &str = "efs";
const FILE_SYSTEM: &str = "aws_efs_file_system";
const ACCESS_POINT: &str = "aws_efs_access_point";

pub(crate) async fn collect(target: &Target) -> Output {
    let mut out = Output::default();
    let c = Client::new(&target.sdk);
    let (file_systems, access_points) = tokio::join!(
        async {
            if target.covered(FILE_SYSTEM) {
                return None;
            }
            Some(file_systems(target, &c).await)
        },
        async {
            if target.covered(ACCESS_POINT) {
                return None;
            }
            let pages = c.describe_access_points().into_paginator().send();
            Some(
                target.items(pages, |p| p.access_points.unwrap_or_default())
                    .await,
            )
        },
    );
    if let Some(result) = file_systems {
        out.extend(result);
    }
    match access_points {
        None => {}
        Some(Ok(points)) => out
            .assets
            .extend(points.iter().filter_map(|p| access_point(target, p))),
        Some(Err(e)) => {
            out.errors
                .push(target.sdk_error(SERVICE, "DescribeAccessPoints", &e, &[ACCESS_POINT]))
        }
    }
    out
}

/// What each file system needs besides its description.
struct Details {
    backup: Value,
    policy: Value,
    lifecycle: Value,
    mount_targets: Option<Vec<MountTargetDescription>>,
    misses: Misses,
}

async fn file_systems(target: &Target, c: &Client) -> Output {
    let mut out = Output::default();
    let pages = c.describe_file_systems().into_paginator().send();
    let file_systems = match target
        .items(pages, |p| p.file_systems.unwrap_or_default())
        .await
    {
        Ok(f) => f,
        Err(e) => {
            out.errors
                .push(target.sdk_error(SERVICE, "DescribeFileSystems", &e, &[FILE_SYSTEM]));
            return out;
        }
    };
    let ids: Vec<String> = file_systems
        .iter()
        .map(|fs| fs.file_system_id().to_string())
        .collect();
    let details: Vec<Details> = futures::stream::iter(ids)
        .map(|id| async move { details(target, c, &id).await })
        .buffered(8)
        .collect()
        .await;

    // The mount targets' subnets and the file systems' keys, each asked once.
    let subnet_ids: BTreeSet<String> = details
        .iter()
        .flat_map(|d| d.mount_targets.iter().flatten())
        .map(|m| m.subnet_id().to_string())
        .collect();
    let key_ids: BTreeSet<String> = file_systems
        .iter()
        .filter(|fs| fs.encrypted() == Some(true))
        .filter_map(|fs| fs.kms_key_id().map(str::to_string))
        .collect();
    let (subnets, keys) = tokio::join!(subnets(target, subnet_ids), key_managers(target, key_ids));

    out.add_detailed(
        target,
        SERVICE,
        "file systems",
        file_systems
            .iter()
            .zip(details)
            .map(|(fs, d)| file_system(target, fs, d, &subnets, &keys)),
    );
    out
}

async fn details(target: &Target, c: &Client, id: &str) -> Details {
    let mut m = Misses::default();
    let (backup, policy, lifecycle, mount_targets) = tokio::join!(
        target.call(c.describe_backup_policy().file_system_id(id).send()),
        target.call(c.describe_file_system_policy().file_system_id(id).send()),
        target.call(
            c.describe_lifecycle_configuration()
                .file_system_id(id)
                .send()
        ),
        async {
            let pages = c
                .describe_mount_targets()
                .file_system_id(id)
                .into_paginator()
                .send();
            target.items(pages, |p| p.mount_targets.unwrap_or_default())
                .await
        },
    );
    let backup = match backup {
        Ok(r) => s(r.backup_policy().map(|b| b.status().as_str())),
        // No backup policy: automatic backups are off.
        Err(e) if is_not_found(&e, &["PolicyNotFound"]) => Value::Null,
        Err(e) => m.sdk(&["backup_policy_status"], "DescribeBackupPolicy", &e),
    };
    let policy = match policy {
        Ok(r) => match r.policy().map(doc::policy) {
            Some(Ok(p)) => p,
            Some(Err(message)) => m.gap(
                &["policy"],
                Failed::other("DescribeFileSystemPolicy", message),
            ),
            None => Value::Null,
        },
        // The default policy is in effect: every client with network access may mount.
        Err(e) if is_not_found(&e, &["PolicyNotFound"]) => Value::Null,
        Err(e) => m.sdk(&["policy"], "DescribeFileSystemPolicy", &e),
    };
    let lifecycle = match lifecycle {
        Ok(r) => Value::Array(
            r.lifecycle_policies()
                .iter()
                .map(|p| {
                    json!({
                        "transition_to_ia": p.transition_to_ia().map(|v| v.as_str()),
                        "transition_to_archive": p.transition_to_archive().map(|v| v.as_str()),
                        "transition_to_primary_storage_class":
                            p.transition_to_primary_storage_class().map(|v| v.as_str()),
                    })
                })
                .collect(),
        ),
        Err(e) => m.sdk(
            &["lifecycle_policies"],
            "DescribeLifecycleConfiguration",
            &e,
        ),
    };
    let mount_targets = match mount_targets {
        Ok(t) => Some(t),
        Err(e) => {
            m.sdk(&["mount_targets"], "DescribeMountTargets", &e);
            None
        }
    };
    Details {
        backup,
        policy,
        lifecycle,
        mount_targets,
        misses: m,
    }
}

/// Whether each subnet assigns public IPv4 addresses at launch, or the failure.
async fn subnets(target: &Target, ids: BTreeSet<String>) -> Result<HashMap<String, bool>, Failed> {
    let mut out = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let ec2 = aws_sdk_ec2::Client::new(&target.sdk);
    let ids: Vec<String> = ids.into_iter().collect();
    // A filter (not SubnetIds) so that a subnet deleted meanwhile is no error.
    for chunk in ids.chunks(100) {
        let filter = aws_sdk_ec2::types::Filter::builder()
            .name("subnet-id")
            .set_values(Some(chunk.to_vec()))
            .build();
        let pages = ec2
            .describe_subnets()
            .filters(filter)
            .into_paginator()
            .send();
        let subnets = target
            .items(pages, |p| p.subnets.unwrap_or_default())
            .await
            .map_err(|e| Failed::sdk("ec2:DescribeSubnets", &e))?;
        for subnet in subnets {
            if let (Some(id), Some(public)) = (subnet.subnet_id(), subnet.map_public_ip_on_launch())
            {
                out.insert(id.to_string(), public);
            }
        }
    }
    Ok(out)
}

/// The manager (`AWS` or `CUSTOMER`) of each key, or why it is unknown.
async fn key_managers(
    target: &Target,
    ids: BTreeSet<String>,
) -> HashMap<String, Result<Option<String>, Failed>> {
    if ids.is_empty() {
        return HashMap::new();
    }
    let kms = aws_sdk_kms::Client::new(&target.sdk);
    let kms = &kms;
    futures::stream::iter(ids)
        .map(|id| async move {
            let manager = match target.call(kms.describe_key().key_id(&id).send()).await {
                Ok(r) => Ok(r
                    .key_metadata()
                    .and_then(|k| k.key_manager())
                    .map(|k| k.as_str().to_string())),
                Err(e) => Err(Failed::sdk("kms:DescribeKey", &e)),
            };
            (id, manager)
        })
        .buffer_unordered(8)
        .collect()
        .await
}

fn file_system(
    target: &Target,
    fs: &FileSystemDescription,
    d: Details,
    subnets: &Result<HashMap<String, bool>, Failed>,
    keys: &HashMap<String, Result<Option<String>, Failed>>,
) -> (Asset, Vec<Failed>) {
    let mut m = d.misses;
    let id = fs.file_system_id().to_string();
    let arn = fs.file_system_arn().map_or_else(
        || {
            format!(
                "arn:{}:elasticfilesystem:{}:{}:file-system/{id}",
                target.partition(),
                target.region,
                target.account
            )
        },
        str::to_string,
    );
    let encrypted = fs.encrypted().unwrap_or(false);
    let kms_key_manager = match fs.kms_key_id().filter(|_| encrypted) {
        None => Value::Null,
        Some(key) => match keys.get(key) {
            Some(Ok(manager)) => s(manager.as_deref()),
            Some(Err(failed)) => m.gap(&["kms_key_manager"], failed.clone()),
            None => Value::Null,
        },
    };
    let mount_targets = mount_targets(d.mount_targets.as_deref(), subnets, &mut m);
    let name = fs
        .name()
        .filter(|n| !n.is_empty())
        .unwrap_or(&id)
        .to_string();
    let tags = doc::tags(fs.tags(), |t| (t.key(), t.value()));
    let body = json!({
        "file_system_id": id,
        "arn": arn,
        "creation_time": doc::time(Some(fs.creation_time())),
        "life_cycle_state": fs.life_cycle_state().as_str(),
        "encrypted": encrypted,
        "kms_key_id": s(fs.kms_key_id().filter(|_| encrypted)),
        "kms_key_manager": kms_key_manager,
        "performance_mode": fs.performance_mode().as_str(),
        "throughput_mode": fs.throughput_mode().map(|t| t.as_str()),
        "provisioned_throughput_in_mibps": fs.provisioned_throughput_in_mibps(),
        "availability_zone_name": s(fs.availability_zone_name()),
        "backup_policy_status": d.backup,
        "policy": d.policy,
        "lifecycle_policies": d.lifecycle,
        "number_of_mount_targets": fs.number_of_mount_targets(),
        "mount_targets": mount_targets,
    });
    let asset = target.asset(&target.region, arn, FILE_SYSTEM, name, tags, body, m.gaps);
    (asset, m.failed)
}

/// The file system's mount targets, each with whether its subnet assigns
/// public IPs (`None`: DescribeMountTargets failed, already a gap; a gap
/// when the subnets could not be read).
fn mount_targets(
    targets: Option<&[MountTargetDescription]>,
    subnets: &Result<HashMap<String, bool>, Failed>,
    m: &mut Misses,
) -> Value {
    let Some(targets) = targets else {
        return Value::Null;
    };
    let public = |subnet: &str| match subnets {
        Ok(map) => map.get(subnet).copied(),
        Err(_) => None,
    };
    if let (Err(failed), false) = (subnets, targets.is_empty()) {
        m.gap(&["mount_targets"], failed.clone());
    }
    Value::Array(
        targets
            .iter()
            .map(|t| {
                json!({
                    "mount_target_id": t.mount_target_id(),
                    "subnet_id": t.subnet_id(),
                    "vpc_id": t.vpc_id(),
                    "availability_zone": t.availability_zone_name(),
                    "ip_address": t.ip_address(),
                    "life_cycle_state": t.life_cycle_state().as_str(),
                    "subnet_map_public_ip_on_launch": public(t.subnet_id()),
                })
            })
            .collect(),
    )
}

fn access_point(target: &Target, p: &AccessPointDescription) -> Option<Asset> {
    let id = p.access_point_id()?.to_string();
    let arn = p.access_point_arn().map_or_else(
        || {
            format!(
                "arn:{}:elasticfilesystem:{}:{}:access-point/{id}",
                target.partition(),
                target.region,
                target.account
            )
        },
        str::to_string,
    );
    let name = p
        .name()
        .filter(|n| !n.is_empty())
        .unwrap_or(&id)
        .to_string();
    let body = json!({
        "access_point_id": id,
        "arn": arn,
        "file_system_id": p.file_system_id(),
        "life_cycle_state": p.life_cycle_state().map(|s| s.as_str()),
        "root_directory": p.root_directory().map(|r| json!({
            "path": r.path(),
            "creation_info": r.creation_info().map(|c| json!({
                "owner_uid": c.owner_uid(),
                "owner_gid": c.owner_gid(),
                "permissions": c.permissions(),
            })),
        })),
        "posix_user": p.posix_user().map(|u| json!({
            "uid": u.uid(),
            "gid": u.gid(),
            "secondary_gids": u.secondary_gids(),
        })),
    });
    let tags = doc::tags(p.tags(), |t| (t.key(), t.value()));
    Some(target.asset(&target.region, arn, ACCESS_POINT, name, tags, body, Vec::new()))
}
