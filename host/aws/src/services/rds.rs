//! RDS: DB instances (encryption, exposure, backups, resilience settings)
//! and the account's own DB snapshots, manual and automated, with who may
//! restore them (the snapshot's `restore` attribute).
//! Never connects to a database.

use aws_sdk_rds::Client;
use aws_sdk_rds::types::{DbInstance, DbSnapshot, Tag};
use futures::StreamExt;
use serde_json::{Value, json};
use stance_model::Asset;

use crate::toolkit::doc::{self, s};
use crate::toolkit::record::{Failed, Failures, Misses};
use crate::toolkit::{Output, Target};

const SERVICE: &str = "rds";
const INSTANCE: &str = "aws_rds_db_instance";
const SNAPSHOT: &str = "aws_rds_db_snapshot";

pub(crate) async fn collect(target: &Target) -> Output {
    let c = Client::new(&target.sdk);
    let (mut out, snapshots) = tokio::join!(
        async {
            if target.covered(INSTANCE) {
                Output::default()
            } else {
                instances(target, &c).await
            }
        },
        async {
            if target.covered(SNAPSHOT) {
                Output::default()
            } else {
                snapshots(target, &c).await
            }
        },
    );
    out.extend(snapshots);
    out
}

fn tags(list: &[Tag]) -> Vec<(String, String)> {
    doc::tags(list, |t| (t.key(), t.value()))
}

async fn instances(target: &Target, c: &Client) -> Output {
    let mut out = Output::default();
    let pages = c.describe_db_instances().into_paginator().send();
    match target
        .items(pages, |p| p.db_instances.unwrap_or_default())
        .await
    {
        Ok(list) => out.assets.extend(list.iter().map(|i| instance(target, i))),
        // Part of the list is not the list: report none of them.
        Err(e) => out
            .errors
            .push(target.sdk_error(SERVICE, "DescribeDBInstances", &e, &[INSTANCE])),
    }
    out
}

fn instance(target: &Target, i: &DbInstance) -> Asset {
    let name = i.db_instance_identifier().unwrap_or_default().to_string();
    let id = i.db_instance_arn().map_or_else(
        || {
            format!(
                "arn:{}:rds:{}:{}:db:{name}",
                target.partition(),
                target.region,
                target.account
            )
        },
        str::to_string,
    );
    let body = json!({
        "db_instance_identifier": name,
        "engine": i.engine(),
        "engine_version": i.engine_version(),
        "instance_class": i.db_instance_class(),
        "storage_encrypted": i.storage_encrypted(),
        "kms_key_id": i.kms_key_id(),
        "publicly_accessible": i.publicly_accessible(),
        "multi_az": i.multi_az(),
        "backup_retention_period": i.backup_retention_period(),
        "auto_minor_version_upgrade": i.auto_minor_version_upgrade(),
        "deletion_protection": i.deletion_protection(),
        "iam_database_authentication_enabled": i.iam_database_authentication_enabled(),
        "enabled_cloudwatch_logs_exports": i.enabled_cloudwatch_logs_exports(),
        "copy_tags_to_snapshot": i.copy_tags_to_snapshot(),
        "vpc_security_group_ids": i
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id())
            .collect::<Vec<_>>(),
    });
    target.asset(
        &target.region,
        id,
        INSTANCE,
        name,
        tags(i.tag_list()),
        body,
        Vec::new(),
    )
}

async fn snapshots(target: &Target, c: &Client) -> Output {
    let mut out = Output::default();
    // No SnapshotType: the account's manual and automated snapshots (not
    // those other accounts share with it).
    let pages = c.describe_db_snapshots().into_paginator().send();
    let listed = match target
        .items(pages, |p| p.db_snapshots.unwrap_or_default())
        .await
    {
        Ok(l) => l,
        Err(e) => {
            out.errors
                .push(target.sdk_error(SERVICE, "DescribeDBSnapshots", &e, &[SNAPSHOT]));
            return out;
        }
    };
    let results: Vec<(String, Asset, Vec<Failed>)> = futures::stream::iter(listed)
        .map(|snap| async move {
            let (asset, failed) = snapshot(target, c, &snap).await;
            (asset.name.clone(), asset, failed)
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut failures = Failures::default();
    for (name, asset, failed) in results {
        failures.add_all(&name, failed);
        out.assets.push(asset);
    }
    out.errors
        .extend(failures.report(target, SERVICE, "snapshots"));
    out
}

async fn snapshot(target: &Target, c: &Client, snap: &DbSnapshot) -> (Asset, Vec<Failed>) {
    let name = snap
        .db_snapshot_identifier()
        .unwrap_or_default()
        .to_string();
    let id = snap.db_snapshot_arn().map_or_else(
        || {
            format!(
                "arn:{}:rds:{}:{}:snapshot:{name}",
                target.partition(),
                target.region,
                target.account
            )
        },
        str::to_string,
    );
    let mut m = Misses::default();
    let (public, shared) = match target
        .call(
            c.describe_db_snapshot_attributes()
                .db_snapshot_identifier(&name)
                .send(),
        )
        .await
    {
        Ok(r) => {
            let restore: Vec<&str> = r
                .db_snapshot_attributes_result()
                .map(|a| a.db_snapshot_attributes())
                .unwrap_or_default()
                .iter()
                .filter(|a| a.attribute_name() == Some("restore"))
                .flat_map(|a| a.attribute_values().iter().map(String::as_str))
                .collect();
            let shared: Vec<&str> = restore.iter().copied().filter(|v| *v != "all").collect();
            (Value::Bool(restore.contains(&"all")), json!(shared))
        }
        Err(e) => (
            m.sdk(
                &["public", "shared_with_accounts"],
                "DescribeDBSnapshotAttributes",
                &e,
            ),
            Value::Null,
        ),
    };
    let body = json!({
        "db_snapshot_identifier": name,
        "db_instance_identifier": s(snap.db_instance_identifier()),
        "snapshot_type": s(snap.snapshot_type()),
        "encrypted": snap.encrypted(),
        "public": public,
        "shared_with_accounts": shared,
    });
    let asset = target.asset(
        &target.region,
        id,
        SNAPSHOT,
        name,
        tags(snap.tag_list()),
        body,
        m.gaps,
    );
    (asset, m.failed)
}
