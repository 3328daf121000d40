//! DynamoDB: the region's tables with their status, capacity mode,
//! deletion protection, point-in-time recovery (DescribeContinuousBackups)
//! and encryption at rest, including who manages the KMS key (KMS
//! DescribeKey), and tags. Never reads a table's items.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::TableDescription;
use futures::StreamExt;
use serde_json::{Value, json};
use stance_model::Asset;

use crate::toolkit::doc::{self, s};
use crate::toolkit::errors::is_not_found;
use crate::toolkit::record::{Failed, Misses};
use crate::toolkit::{Output, Target};

const SERVICE: &str = "dynamodb";
const TABLE: &str = "aws_dynamodb_table";

pub(crate) async fn collect(target: &Target) -> Output {
    let mut out = Output::default();
    if target.covered(TABLE) {
        return out;
    }
    let c = Client::new(&target.sdk);
    let pages = c.list_tables().into_paginator().send();
    let names: Vec<String> = match target
        .items(pages, |p| p.table_names.unwrap_or_default())
        .await
    {
        Ok(n) => n,
        Err(e) => {
            out.errors
                .push(target.sdk_error(SERVICE, "ListTables", &e, &[TABLE]));
            return out;
        }
    };
    let c = &c;
    let described: Vec<Option<Described>> = futures::stream::iter(names)
        .map(|name| describe(target, c, name))
        .buffer_unordered(8)
        .collect()
        .await;
    let described: Vec<Described> = described.into_iter().flatten().collect();

    // Who manages each KMS key the tables use (one DescribeKey per key).
    let key_arns: BTreeSet<String> = described
        .iter()
        .filter_map(|d| d.table.as_ref()?.sse_description()?.kms_master_key_arn())
        .map(str::to_string)
        .collect();
    let kms = aws_sdk_kms::Client::new(&target.sdk);
    let kms = &kms;
    let managers: HashMap<String, Result<Option<String>, Failed>> = futures::stream::iter(key_arns)
        .map(|arn| async move {
            let r = target.call(kms.describe_key().key_id(&arn).send()).await;
            let manager = match r {
                Ok(k) => Ok(k
                    .key_metadata()
                    .and_then(|m| m.key_manager())
                    .map(|m| m.as_str().to_string())),
                Err(e) => Err(Failed::sdk("kms:DescribeKey", &e)),
            };
            (arn, manager)
        })
        .buffer_unordered(8)
        .collect()
        .await;

    out.add_detailed(
        target,
        SERVICE,
        "tables",
        described.into_iter().map(|d| table(target, d, &managers)),
    );
    out
}

/// What the per-table calls answered.
struct Described {
    name: String,
    table: Option<TableDescription>,
    misses: Misses,
    backups: Value,
    tags: Vec<(String, String)>,
}

/// DescribeTable, DescribeContinuousBackups and ListTagsOfResource of one
/// table; `None` when the table was deleted since it was listed.
async fn describe(target: &Target, c: &Client, name: String) -> Option<Described> {
    let mut m = Misses::default();
    let (described, backups) = tokio::join!(
        target.call(c.describe_table().table_name(&name).send()),
        target.call(c.describe_continuous_backups().table_name(&name).send()),
    );
    let table = match described {
        Ok(r) => r.table,
        Err(e) if is_not_found(&e, &["ResourceNotFoundException"]) => return None,
        Err(e) => {
            m.sdk(
                &[
                    "arn",
                    "table_id",
                    "table_status",
                    "creation_date_time",
                    "billing_mode",
                    "table_class",
                    "deletion_protection_enabled",
                    "sse",
                ],
                "DescribeTable",
                &e,
            );
            None
        }
    };
    let backups = match backups {
        Ok(r) => match r.continuous_backups_description() {
            Some(b) => {
                let pitr = b.point_in_time_recovery_description();
                json!({
                    "continuous_backups_status": b.continuous_backups_status().as_str(),
                    "status": pitr
                        .and_then(|p| p.point_in_time_recovery_status())
                        .map(|s| s.as_str()),
                    "recovery_period_in_days": pitr.and_then(|p| p.recovery_period_in_days()),
                    "earliest_restorable_date_time":
                        doc::time(pitr.and_then(|p| p.earliest_restorable_date_time())),
                })
            }
            None => m.unknown(
                "point_in_time_recovery",
                "DescribeContinuousBackups",
                "the answer has no ContinuousBackupsDescription",
            ),
        },
        Err(e) if is_not_found(&e, &["TableNotFoundException"]) => return None,
        Err(e) => m.sdk(&["point_in_time_recovery"], "DescribeContinuousBackups", &e),
    };
    let tags = match table.as_ref().and_then(|t| t.table_arn()) {
        Some(arn) => match tags(target, c, arn).await {
            Ok(t) => t,
            Err(failed) => {
                m.fail(failed);
                Vec::new()
            }
        },
        None => Vec::new(),
    };
    Some(Described {
        name,
        table,
        misses: m,
        backups,
        tags,
    })
}

/// Every tag of the table (ListTagsOfResource pages by NextToken).
async fn tags(target: &Target, c: &Client, arn: &str) -> Result<Vec<(String, String)>, Failed> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let r = target
            .call(
                c.list_tags_of_resource()
                    .resource_arn(arn)
                    .set_next_token(token.clone())
                    .send(),
            )
            .await
            .map_err(|e| Failed::sdk("ListTagsOfResource", &e))?;
        out.extend(doc::tags(r.tags(), |t| (t.key(), t.value())));
        match r.next_token() {
            Some(next) if Some(next) != token.as_deref() => token = Some(next.to_string()),
            _ => return Ok(out),
        }
    }
}

/// The encryption at rest of a table. Without an SSEDescription the table
/// is encrypted with a key AWS owns (DynamoDB's default).
fn sse(
    t: &TableDescription,
    managers: &HashMap<String, Result<Option<String>, Failed>>,
    m: &mut Misses,
) -> Value {
    let Some(d) = t.sse_description() else {
        return json!({
            "status": null,
            "sse_type": null,
            "kms_master_key_arn": null,
            "key_type": "AWS_OWNED",
        });
    };
    let arn = d.kms_master_key_arn();
    let key_type = match arn.map(|a| managers.get(a)) {
        None => Value::Null,
        Some(Some(Ok(Some(manager)))) if manager == "CUSTOMER" => json!("CUSTOMER_MANAGED"),
        Some(Some(Ok(Some(manager)))) if manager == "AWS" => json!("AWS_MANAGED"),
        Some(Some(Ok(_))) | Some(None) => {
            return m.unknown(
                "sse",
                "kms:DescribeKey",
                "the key manager of the table's KMS key is unknown",
            );
        }
        Some(Some(Err(failed))) => return m.gap(&["sse"], failed.clone()),
    };
    json!({
        "status": d.status().map(|v| v.as_str()),
        "sse_type": d.sse_type().map(|v| v.as_str()),
        "kms_master_key_arn": s(arn),
        "key_type": key_type,
    })
}

fn table(
    target: &Target,
    d: Described,
    managers: &HashMap<String, Result<Option<String>, Failed>>,
) -> (Asset, Vec<Failed>) {
    let Described {
        name,
        table,
        mut misses,
        backups,
        tags,
    } = d;
    let t = table.as_ref();
    let arn = t.and_then(|t| t.table_arn()).map_or_else(
        || {
            format!(
                "arn:{}:dynamodb:{}:{}:table/{name}",
                target.partition(),
                target.region,
                target.account
            )
        },
        str::to_string,
    );
    let sse = t.map_or(Value::Null, |t| sse(t, managers, &mut misses));
    let body = json!({
        "table_name": name,
        "arn": arn,
        "table_id": t.and_then(|t| t.table_id()),
        "table_status": t.and_then(|t| t.table_status()).map(|v| v.as_str()),
        "creation_date_time": doc::time(t.and_then(|t| t.creation_date_time())),
        // A table that never changed its capacity mode has no summary: it is provisioned.
        "billing_mode": t.map(|t| t
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map_or("PROVISIONED", |b| b.as_str())),
        "table_class": t.map(|t| t
            .table_class_summary()
            .and_then(|c| c.table_class())
            .map_or("STANDARD", |c| c.as_str())),
        "deletion_protection_enabled": t.map(|t| t.deletion_protection_enabled().unwrap_or(false)),
        "point_in_time_recovery": backups,
        "sse": sse,
    });
    let asset = target.asset(&target.region, arn, TABLE, name, tags, body, misses.gaps);
    (asset, misses.failed)
}
