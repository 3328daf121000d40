//! Secrets Manager: the region's secrets (never their values) with their
//! encryption key, rotation configuration and history, last access, and
//! normalized resource policy. Secrets scheduled for deletion are left out,
//! as ListSecrets leaves them out by default. Never calls GetSecretValue.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::types::SecretListEntry;
use futures::StreamExt;
use serde_json::{Value, json};
use stance_model::Asset;

use crate::toolkit::doc::{self, s};
use crate::toolkit::errors::is_not_found;
use crate::toolkit::record::{Failed, Misses};
use crate::toolkit::{Output, Target};

const SERVICE: &str = "secretsmanager";
const SECRET: &str = "aws_secretsmanager_secret";

pub(crate) async fn collect(target: &Target) -> Output {
    let mut out = Output::default();
    if target.covered(SECRET) {
        return out;
    }
    let c = Client::new(&target.sdk);
    let pages = c.list_secrets().into_paginator().send();
    let secrets: Vec<SecretListEntry> = match target
        .items(pages, |p| p.secret_list.unwrap_or_default())
        .await
    {
        Ok(s) => s,
        Err(e) => {
            out.errors
                .push(target.sdk_error(SERVICE, "ListSecrets", &e, &[SECRET]));
            return out;
        }
    };
    let c = &c;
    let results: Vec<(Asset, Vec<Failed>)> = futures::stream::iter(secrets)
        .filter(|e| std::future::ready(e.arn().is_some()))
        .map(|e| secret(target, c, e))
        .buffer_unordered(8)
        .collect()
        .await;
    out.add_detailed(target, SERVICE, "secrets", results);
    out
}

async fn secret(target: &Target, c: &Client, e: SecretListEntry) -> (Asset, Vec<Failed>) {
    let mut m = Misses::default();
    let arn = e.arn().unwrap_or_default().to_string();
    let policy = match target
        .call(c.get_resource_policy().secret_id(&arn).send())
        .await
    {
        Ok(r) => match r.resource_policy().map(doc::policy) {
            Some(Ok(p)) => p,
            Some(Err(message)) => m.gap(&["policy"], Failed::other("GetResourcePolicy", message)),
            None => Value::Null,
        },
        // Deleted between the listing and this call.
        Err(err) if is_not_found(&err, &["ResourceNotFoundException"]) => Value::Null,
        Err(err) => m.sdk(&["policy"], "GetResourcePolicy", &err),
    };
    let name = e.name().map_or_else(
        || arn.rsplit(':').next().unwrap_or(&arn).to_string(),
        str::to_string,
    );
    let rotation_enabled = e.rotation_enabled().unwrap_or(false);
    let body = json!({
        "arn": arn,
        "name": name,
        "description": s(e.description()),
        "kms_key_id": s(e.kms_key_id()),
        "rotation_enabled": rotation_enabled,
        "rotation_lambda_arn": s(e.rotation_lambda_arn().filter(|a| !a.is_empty())),
        "rotation_rules": e.rotation_rules().map(|r| json!({
            "automatically_after_days": r.automatically_after_days(),
            "duration": r.duration(),
            "schedule_expression": r.schedule_expression(),
        })),
        "last_rotated_date": doc::time(e.last_rotated_date()),
        "next_rotation_date": doc::time(e.next_rotation_date()),
        "last_changed_date": doc::time(e.last_changed_date()),
        "last_accessed_date": doc::time(e.last_accessed_date()),
        "created_date": doc::time(e.created_date()),
        "primary_region": s(e.primary_region()),
        "owning_service": s(e.owning_service()),
        "policy": policy,
    });
    let tags = doc::tags(e.tags(), |t| (t.key(), t.value()));
    let asset = target.asset(&target.region, arn, SECRET, name, tags, body, m.gaps);
    (asset, m.failed)
}
