//! RDS: DB instances (encryption, exposure, backups, resilience settings)
//! and the account's own DB snapshots, manual and automated, with who may
//! restore them (the snapshot's `restore` attribute).

use std::collections::BTreeMap;
use std::convert::Infallible;

use aws_sdk_rds::Client;
use aws_sdk_rds::types::{DbInstance, DbSnapshot, Tag};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use futures::StreamExt;
use serde_json::{Value, json};

use super::doc::s;
use super::errors::classify;
use super::{Ctx, Output};
use crate::model::{Asset, Gap};

const SERVICE: &str = "rds";
const INSTANCE: &str = "aws_rds_db_instance";
const SNAPSHOT: &str = "aws_rds_db_snapshot";

pub async fn collect(ctx: &Ctx) -> Output {
    let c = Client::new(&ctx.sdk);
    let (mut out, snapshots) = tokio::join!(
        async {
            if ctx.covered(INSTANCE) {
                Output::default()
            } else {
                instances(ctx, &c).await
            }
        },
        async {
            if ctx.covered(SNAPSHOT) {
                Output::default()
            } else {
                snapshots(ctx, &c).await
            }
        },
    );
    out.extend(snapshots);
    out
}

/// One page of a paginated call, under the concurrency limit like any other call.
async fn next_page<T>(ctx: &Ctx, page: impl Future<Output = Option<T>>) -> Option<T> {
    let Ok(page) = ctx.call(async { Ok::<_, Infallible>(page.await) }).await;
    page
}

fn tags(list: &[Tag]) -> Vec<(String, String)> {
    list.iter()
        .filter_map(|t| {
            let key = t.key()?;
            Some((key.to_string(), t.value().unwrap_or_default().to_string()))
        })
        .collect()
}

async fn instances(ctx: &Ctx, c: &Client) -> Output {
    let mut out = Output::default();
    let mut pages = c.describe_db_instances().into_paginator().send();
    while let Some(page) = next_page(ctx, pages.next()).await {
        match page {
            Ok(p) => out
                .assets
                .extend(p.db_instances().iter().map(|i| instance(ctx, i))),
            Err(e) => {
                // Part of the list is not the list: report none of them.
                out.assets.clear();
                out.errors
                    .push(ctx.sdk_error(SERVICE, "DescribeDBInstances", &e, &[INSTANCE]));
                return out;
            }
        }
    }
    out
}

fn instance(ctx: &Ctx, i: &DbInstance) -> Asset {
    let name = i.db_instance_identifier().unwrap_or_default().to_string();
    let id = i.db_instance_arn().map_or_else(
        || format!("arn:aws:rds:{}:{}:db:{name}", ctx.region, ctx.account),
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
    ctx.asset(
        &ctx.region,
        id,
        INSTANCE,
        name,
        tags(i.tag_list()),
        body,
        Vec::new(),
    )
}

async fn snapshots(ctx: &Ctx, c: &Client) -> Output {
    let mut out = Output::default();
    // No SnapshotType: the account's manual and automated snapshots (not
    // those other accounts share with it).
    let mut listed = Vec::new();
    let mut pages = c.describe_db_snapshots().into_paginator().send();
    while let Some(page) = next_page(ctx, pages.next()).await {
        match page {
            Ok(p) => listed.extend(p.db_snapshots().iter().cloned()),
            Err(e) => {
                out.errors
                    .push(ctx.sdk_error(SERVICE, "DescribeDBSnapshots", &e, &[SNAPSHOT]));
                return out;
            }
        }
    }
    let results: Vec<(String, Asset, Vec<Failed>)> = futures::stream::iter(listed)
        .map(|snap| async move {
            let (asset, failed) = snapshot(ctx, c, &snap).await;
            (asset.name.clone(), asset, failed)
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut failures = Failures::default();
    for (name, asset, failed) in results {
        for (op, kind, message) in failed {
            failures.add(op, kind, &name, message);
        }
        out.assets.push(asset);
    }
    failures.report(ctx, "snapshots", &mut out);
    out
}

async fn snapshot(ctx: &Ctx, c: &Client, snap: &DbSnapshot) -> (Asset, Vec<Failed>) {
    let name = snap
        .db_snapshot_identifier()
        .unwrap_or_default()
        .to_string();
    let id = snap.db_snapshot_arn().map_or_else(
        || format!("arn:aws:rds:{}:{}:snapshot:{name}", ctx.region, ctx.account),
        str::to_string,
    );
    let mut m = Misses::default();
    let (public, shared) = match ctx
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
            m.gap(
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
    let asset = ctx.asset(
        &ctx.region,
        id,
        SNAPSHOT,
        name,
        tags(snap.tag_list()),
        body,
        m.gaps,
    );
    (asset, m.failed)
}

/// A failed call: operation, kind, message.
type Failed = (&'static str, &'static str, String);

/// What one resource could not get: gaps in its asset, failures for the collection.
#[derive(Default)]
struct Misses {
    gaps: Vec<Gap>,
    failed: Vec<Failed>,
}

impl Misses {
    /// Record that `op` failed, leaving `fields` unknown; the value of those fields (null).
    fn gap<E, R>(&mut self, fields: &[&str], op: &'static str, err: &SdkError<E, R>) -> Value
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let (kind, message) = classify(err);
        for field in fields {
            self.gaps.push(Gap {
                field: field.to_string(),
                operation: op.into(),
                error: message.clone(),
            });
        }
        self.failed.push((op, kind, message));
        Value::Null
    }
}

/// Per-operation failures across resources, reported once each.
#[derive(Default)]
struct Failures(BTreeMap<(&'static str, &'static str), (Vec<String>, String)>);

impl Failures {
    fn add(&mut self, op: &'static str, kind: &'static str, resource: &str, message: String) {
        self.0
            .entry((op, kind))
            .or_insert_with(|| (Vec::new(), message))
            .0
            .push(resource.to_string());
    }

    fn report(self, ctx: &Ctx, what: &str, out: &mut Output) {
        for ((op, kind), (mut names, message)) in self.0 {
            names.sort();
            let shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
            let more = if names.len() > 5 {
                format!(" and {} more", names.len() - 5)
            } else {
                String::new()
            };
            out.errors.push(ctx.error(
                SERVICE,
                op,
                kind,
                format!("{message} ({what} {}{more})", shown.join(", ")),
                &[],
            ));
        }
    }
}
