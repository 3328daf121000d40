//! IAM: the account (password policy, summary, root's credential-report
//! row), users (MFA, access keys and their last use, login profile, attached
//! and inline policies, groups), roles (trust policy, policies, last use)
//! and customer-managed policies.

use std::time::Duration;

use aws_sdk_iam::Client;
use aws_sdk_iam::types::SummaryKeyType;
use futures::StreamExt;
use serde_json::{Value, json};

use super::doc::{self, s};
use super::errors::{classify, is_not_found};
use super::{Ctx, Output};
use crate::model::Gap;

const SERVICE: &str = "iam";
const ACCOUNT: &str = "aws_iam_account";
const USER: &str = "aws_iam_user";
const ROLE: &str = "aws_iam_role";
const POLICY: &str = "aws_iam_policy";

pub async fn collect(ctx: &Ctx) -> Output {
    let c = Client::new(&ctx.sdk);
    let mut out = Output::default();
    let (account, users, roles, policies) = tokio::join!(
        async {
            if ctx.covered(ACCOUNT) {
                Output::default()
            } else {
                account(ctx, &c).await
            }
        },
        async {
            if ctx.covered(USER) {
                Output::default()
            } else {
                users(ctx, &c).await
            }
        },
        async {
            if ctx.covered(ROLE) {
                Output::default()
            } else {
                roles(ctx, &c).await
            }
        },
        async {
            if ctx.covered(POLICY) {
                Output::default()
            } else {
                policies(ctx, &c).await
            }
        },
    );
    out.extend(account);
    out.extend(users);
    out.extend(roles);
    out.extend(policies);
    out
}

/// Record an operation's failure as a gap in one asset and an error of the collection.
struct Gaps<'a> {
    ctx: &'a Ctx,
    what: String,
    gaps: Vec<Gap>,
    errors: Vec<crate::model::CollectionError>,
}

impl<'a> Gaps<'a> {
    fn new(ctx: &'a Ctx, what: String) -> Self {
        Gaps {
            ctx,
            what,
            gaps: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn add<E, R>(
        &mut self,
        field: &str,
        op: &str,
        err: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
    ) -> Value
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let (kind, message) = classify(err);
        self.gaps.push(Gap {
            field: field.into(),
            operation: op.into(),
            error: message.clone(),
        });
        self.errors.push(self.ctx.error(
            SERVICE,
            op,
            kind,
            format!("{}: {message}", self.what),
            &[],
        ));
        Value::Null
    }
}

async fn account(ctx: &Ctx, c: &Client) -> Output {
    let mut out = Output::default();
    let mut g = Gaps::new(ctx, "account".into());
    let (pp, summary, report, mfa) = tokio::join!(
        ctx.call(c.get_account_password_policy().send()),
        ctx.call(c.get_account_summary().send()),
        credential_report(ctx, c),
        ctx.call(c.list_virtual_mfa_devices().send()),
    );
    let password_policy = match pp {
        Ok(r) => match r.password_policy() {
            Some(p) => json!({
                "minimum_password_length": p.minimum_password_length(),
                "require_symbols": p.require_symbols(),
                "require_numbers": p.require_numbers(),
                "require_uppercase_characters": p.require_uppercase_characters(),
                "require_lowercase_characters": p.require_lowercase_characters(),
                "allow_users_to_change_password": p.allow_users_to_change_password(),
                "expire_passwords": p.expire_passwords(),
                "max_password_age": p.max_password_age(),
                "password_reuse_prevention": p.password_reuse_prevention(),
                "hard_expiry": p.hard_expiry().unwrap_or(false),
            }),
            None => Value::Null,
        },
        Err(e) if is_not_found(&e, &["NoSuchEntity"]) => Value::Null,
        Err(e) => g.add("password_policy", "GetAccountPasswordPolicy", &e),
    };
    let summary = match summary {
        Ok(r) => {
            let m = r.summary_map();
            let get = |k: SummaryKeyType| m.and_then(|m| m.get(&k)).copied().unwrap_or(0);
            json!({
                "account_mfa_enabled": get(SummaryKeyType::AccountMfaEnabled) > 0,
                "account_access_keys_present": get(SummaryKeyType::AccountAccessKeysPresent) > 0,
                "users": get(SummaryKeyType::Users),
                "roles": get(SummaryKeyType::Roles),
                "policies": get(SummaryKeyType::Policies),
            })
        }
        Err(e) => g.add("summary", "GetAccountSummary", &e),
    };
    // Root's MFA is hardware when it is on and no virtual device is assigned to root.
    let root_virtual_mfa = match mfa {
        Ok(r) => Some(r.virtual_mfa_devices().iter().any(|d| {
            d.user().is_some_and(|u| u.arn().ends_with(":root"))
                || d.serial_number().ends_with(":mfa/root-account-mfa-device")
        })),
        Err(e) => {
            g.add("root", "ListVirtualMFADevices", &e);
            None
        }
    };
    let summary_mfa = summary["account_mfa_enabled"].as_bool();
    let summary_keys = summary["account_access_keys_present"].as_bool();
    let root = match report {
        Ok(rows) => {
            let root_row = rows
                .iter()
                .find(|r| r.get("user").map(String::as_str) == Some("<root_account>"));
            let flag = |row: Option<&std::collections::HashMap<String, String>>, k: &str| {
                row.and_then(|r| r.get(k)).map(|v| v == "true")
            };
            let mfa_active = flag(root_row, "mfa_active").or(summary_mfa);
            let key1 = flag(root_row, "access_key_1_active").or(summary_keys);
            let key2 = flag(root_row, "access_key_2_active")
                .or(Some(false).filter(|_| summary_keys.is_some()));
            let last_used = root_row
                .and_then(|r| r.get("password_last_used"))
                .filter(|v| v.contains('T'))
                .map(|v| Value::String(v.clone()))
                .unwrap_or(Value::Null);
            match (mfa_active, key1, key2, root_virtual_mfa) {
                (Some(mfa), Some(k1), Some(k2), Some(virtual_mfa)) => json!({
                    "mfa_active": mfa,
                    "hardware_mfa": mfa && !virtual_mfa,
                    "access_key_1_active": k1,
                    "access_key_2_active": k2,
                    "password_last_used": last_used,
                }),
                _ => {
                    g.gaps.push(Gap {
                        field: "root".into(),
                        operation: "GetCredentialReport".into(),
                        error: "root's credentials could not be determined".into(),
                    });
                    Value::Null
                }
            }
        }
        Err((op, kind, message)) => {
            g.gaps.push(Gap {
                field: "root".into(),
                operation: op.into(),
                error: message.clone(),
            });
            g.errors.push(ctx.error(SERVICE, op, kind, message, &[]));
            Value::Null
        }
    };
    let body = json!({
        "password_policy": password_policy,
        "summary": summary,
        "root": root,
    });
    out.errors.extend(g.errors);
    out.assets.push(ctx.asset(
        "global",
        format!("arn:aws:iam::{}:account", ctx.account),
        ACCOUNT,
        ctx.account.clone(),
        Vec::new(),
        body,
        g.gaps,
    ));
    out
}

type ReportRow = std::collections::HashMap<String, String>;

/// Generate the credential report and read it (AWS builds it asynchronously).
async fn credential_report(
    ctx: &Ctx,
    c: &Client,
) -> Result<Vec<ReportRow>, (&'static str, &'static str, String)> {
    for _ in 0..30 {
        match ctx.call(c.generate_credential_report().send()).await {
            Ok(r) if r.state().is_some_and(|s| s.as_str() == "COMPLETE") => break,
            Ok(_) => tokio::time::sleep(Duration::from_secs(1)).await,
            Err(e) => {
                let (kind, message) = classify(&e);
                return Err(("GenerateCredentialReport", kind, message));
            }
        }
    }
    let r = ctx
        .call(c.get_credential_report().send())
        .await
        .map_err(|e| {
            let (kind, message) = classify(&e);
            ("GetCredentialReport", kind, message)
        })?;
    let content = r.content().map(|b| b.as_ref().to_vec()).unwrap_or_default();
    let mut reader = csv::Reader::from_reader(content.as_slice());
    let headers = reader
        .headers()
        .map_err(|e| {
            (
                "GetCredentialReport",
                "other",
                format!("the report is not CSV: {e}"),
            )
        })?
        .clone();
    let mut rows = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| {
            (
                "GetCredentialReport",
                "other",
                format!("the report is not CSV: {e}"),
            )
        })?;
        rows.push(
            headers
                .iter()
                .map(str::to_string)
                .zip(rec.iter().map(str::to_string))
                .collect(),
        );
    }
    Ok(rows)
}

async fn users(ctx: &Ctx, c: &Client) -> Output {
    let mut out = Output::default();
    let listed: Vec<_> = c
        .list_users()
        .into_paginator()
        .items()
        .send()
        .collect()
        .await;
    let mut users = Vec::new();
    for u in listed {
        match u {
            Ok(u) => users.push(u),
            Err(e) => {
                out.errors
                    .push(ctx.sdk_error(SERVICE, "ListUsers", &e, &[USER]));
                return out;
            }
        }
    }
    let results: Vec<Output> = futures::stream::iter(users)
        .map(|u| user(ctx, c, u))
        .buffer_unordered(8)
        .collect()
        .await;
    for r in results {
        out.extend(r);
    }
    out
}

async fn user(ctx: &Ctx, c: &Client, u: aws_sdk_iam::types::User) -> Output {
    let name = u.user_name().to_string();
    let mut g = Gaps::new(ctx, format!("user {name}"));
    let (mfa, keys, login, attached, inline, groups, tags) = tokio::join!(
        ctx.call(c.list_mfa_devices().user_name(&name).send()),
        ctx.call(c.list_access_keys().user_name(&name).send()),
        ctx.call(c.get_login_profile().user_name(&name).send()),
        ctx.call(c.list_attached_user_policies().user_name(&name).send()),
        inline_policies(ctx, c, Principal::User(&name)),
        ctx.call(c.list_groups_for_user().user_name(&name).send()),
        ctx.call(c.list_user_tags().user_name(&name).send()),
    );
    let (mfa_active, mfa_devices) = match mfa {
        Ok(r) => {
            let devices: Vec<Value> = r
                .mfa_devices()
                .iter()
                .map(|d| json!({"serial_number": d.serial_number(), "enable_date": doc::time(Some(d.enable_date()))}))
                .collect();
            (Value::Bool(!devices.is_empty()), Value::Array(devices))
        }
        Err(e) => (g.add("mfa_active", "ListMFADevices", &e), Value::Null),
    };
    let access_keys = match keys {
        Ok(r) => {
            let mut list = Vec::new();
            for k in r.access_key_metadata() {
                let id = k.access_key_id().unwrap_or_default().to_string();
                let last_used = match ctx
                    .call(c.get_access_key_last_used().access_key_id(&id).send())
                    .await
                {
                    Ok(l) => doc::time(l.access_key_last_used().and_then(|u| u.last_used_date())),
                    Err(e) => g.add("access_keys", "GetAccessKeyLastUsed", &e),
                };
                list.push(json!({
                    "access_key_id": id,
                    "status": k.status().map(|s| s.as_str()),
                    "create_date": doc::time(k.create_date()),
                    "last_used_date": last_used,
                }));
            }
            Value::Array(list)
        }
        Err(e) => g.add("access_keys", "ListAccessKeys", &e),
    };
    let password_enabled = match login {
        Ok(_) => Value::Bool(true),
        Err(e) if is_not_found(&e, &["NoSuchEntity"]) => Value::Bool(false),
        Err(e) => g.add("password_enabled", "GetLoginProfile", &e),
    };
    let attached_policies = match attached {
        Ok(r) => attached_list(r.attached_policies()),
        Err(e) => g.add("attached_policies", "ListAttachedUserPolicies", &e),
    };
    let inline_policies = match inline {
        Ok(v) => v,
        Err((op, kind, message)) => {
            g.gaps.push(Gap {
                field: "inline_policies".into(),
                operation: op.into(),
                error: message.clone(),
            });
            g.errors
                .push(ctx.error(SERVICE, op, kind, format!("user {name}: {message}"), &[]));
            Value::Null
        }
    };
    let groups = match groups {
        Ok(r) => json!(
            r.groups()
                .iter()
                .map(|g| g.group_name())
                .collect::<Vec<_>>()
        ),
        Err(e) => g.add("groups", "ListGroupsForUser", &e),
    };
    let tags = match tags {
        Ok(r) => r
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect(),
        Err(e) => {
            let (kind, message) = classify(&e);
            g.errors.push(ctx.error(
                SERVICE,
                "ListUserTags",
                kind,
                format!("user {name}: {message}"),
                &[],
            ));
            Vec::new()
        }
    };
    let body = json!({
        "user_name": name,
        "user_id": u.user_id(),
        "arn": u.arn(),
        "create_date": doc::time(Some(u.create_date())),
        "password_enabled": password_enabled,
        "password_last_used": doc::time(u.password_last_used()),
        "mfa_active": mfa_active,
        "mfa_devices": mfa_devices,
        "access_keys": access_keys,
        "attached_policies": attached_policies,
        "inline_policies": inline_policies,
        "groups": groups,
    });
    let mut out = Output::default();
    out.errors.extend(g.errors);
    out.assets.push(ctx.asset(
        "global",
        u.arn().to_string(),
        USER,
        name,
        tags,
        body,
        g.gaps,
    ));
    out
}

fn attached_list(list: &[aws_sdk_iam::types::AttachedPolicy]) -> Value {
    json!(
        list.iter()
            .map(|p| json!({"policy_name": p.policy_name(), "policy_arn": p.policy_arn()}))
            .collect::<Vec<_>>()
    )
}

enum Principal<'a> {
    User(&'a str),
    Role(&'a str),
}

type OpError = (&'static str, &'static str, String);

/// Inline policies with their normalized documents.
async fn inline_policies(ctx: &Ctx, c: &Client, who: Principal<'_>) -> Result<Value, OpError> {
    let names = match who {
        Principal::User(n) => ctx
            .call(c.list_user_policies().user_name(n).send())
            .await
            .map(|r| r.policy_names().to_vec())
            .map_err(|e| {
                let (k, m) = classify(&e);
                ("ListUserPolicies", k, m)
            })?,
        Principal::Role(n) => ctx
            .call(c.list_role_policies().role_name(n).send())
            .await
            .map(|r| r.policy_names().to_vec())
            .map_err(|e| {
                let (k, m) = classify(&e);
                ("ListRolePolicies", k, m)
            })?,
    };
    let mut out = Vec::new();
    for policy_name in names {
        let text = match who {
            Principal::User(n) => ctx
                .call(
                    c.get_user_policy()
                        .user_name(n)
                        .policy_name(&policy_name)
                        .send(),
                )
                .await
                .map(|r| r.policy_document().to_string())
                .map_err(|e| {
                    let (k, m) = classify(&e);
                    ("GetUserPolicy", k, m)
                })?,
            Principal::Role(n) => ctx
                .call(
                    c.get_role_policy()
                        .role_name(n)
                        .policy_name(&policy_name)
                        .send(),
                )
                .await
                .map(|r| r.policy_document().to_string())
                .map_err(|e| {
                    let (k, m) = classify(&e);
                    ("GetRolePolicy", k, m)
                })?,
        };
        let document = doc::policy(&text).map_err(|m| ("GetUserPolicy", "other", m))?;
        out.push(json!({"policy_name": policy_name, "document": document}));
    }
    Ok(Value::Array(out))
}

async fn roles(ctx: &Ctx, c: &Client) -> Output {
    let mut out = Output::default();
    let listed: Vec<_> = c
        .list_roles()
        .into_paginator()
        .items()
        .send()
        .collect()
        .await;
    let mut roles = Vec::new();
    for r in listed {
        match r {
            Ok(r) => roles.push(r),
            Err(e) => {
                out.errors
                    .push(ctx.sdk_error(SERVICE, "ListRoles", &e, &[ROLE]));
                return out;
            }
        }
    }
    let results: Vec<Output> = futures::stream::iter(roles)
        .map(|r| role(ctx, c, r))
        .buffer_unordered(8)
        .collect()
        .await;
    for r in results {
        out.extend(r);
    }
    out
}

async fn role(ctx: &Ctx, c: &Client, r: aws_sdk_iam::types::Role) -> Output {
    let path = r.path().to_string();
    role_asset(
        ctx,
        c,
        RoleParts {
            name: r.role_name().to_string(),
            arn: r.arn().to_string(),
            path,
            create_date: doc::time(Some(r.create_date())),
            trust: r
                .assume_role_policy_document()
                .map(|d| (d.to_string(), "ListRoles")),
            attached_policies: None,
            inline_policies: None,
            max_session_duration: Some(r.max_session_duration().unwrap_or(3600)),
        },
    )
    .await
}

/// What a role's asset is made of, from ListRoles or from another source (AWS
/// Config). `None` fields are read from the IAM APIs.
pub(super) struct RoleParts {
    pub name: String,
    pub arn: String,
    pub path: String,
    pub create_date: Value,
    /// The trust policy as AWS gave it, and the operation that gave it.
    pub trust: Option<(String, &'static str)>,
    /// `[{policy_name, policy_arn}]`.
    pub attached_policies: Option<Value>,
    /// `[{policy_name, document}]`, documents already normalized.
    pub inline_policies: Option<Value>,
    pub max_session_duration: Option<i32>,
}

/// A role's asset: GetRole (last use, tags, and whatever `parts` lacks), the
/// attached and inline policies unless `parts` has them.
pub(super) async fn role_asset(ctx: &Ctx, c: &Client, parts: RoleParts) -> Output {
    let name = parts.name.clone();
    let mut g = Gaps::new(ctx, format!("role {name}"));
    let (got, attached, inline) = tokio::join!(
        ctx.call(c.get_role().role_name(&name).send()),
        async {
            match parts.attached_policies {
                Some(_) => None,
                None => Some(
                    ctx.call(c.list_attached_role_policies().role_name(&name).send())
                        .await,
                ),
            }
        },
        async {
            match parts.inline_policies {
                Some(_) => None,
                None => Some(inline_policies(ctx, c, Principal::Role(&name)).await),
            }
        },
    );
    let mut trust_text = parts.trust;
    let (last_used, tags, max_session_duration) = match got {
        Ok(full) => {
            let role = full.role();
            if trust_text.is_none() {
                trust_text = role
                    .and_then(|r| r.assume_role_policy_document())
                    .map(|d| (d.to_string(), "GetRole"));
            }
            (
                doc::time(
                    role.and_then(|r| r.role_last_used())
                        .and_then(|u| u.last_used_date()),
                ),
                role.map(|r| {
                    r.tags()
                        .iter()
                        .map(|t| (t.key().to_string(), t.value().to_string()))
                        .collect()
                })
                .unwrap_or_default(),
                parts
                    .max_session_duration
                    .or_else(|| role.and_then(|r| r.max_session_duration()))
                    .map_or(json!(3600), |d| json!(d)),
            )
        }
        Err(e) => {
            let last_used = g.add("last_used_date", "GetRole", &e);
            let max = match parts.max_session_duration {
                Some(d) => json!(d),
                None => g.add("max_session_duration", "GetRole", &e),
            };
            (last_used, Vec::new(), max)
        }
    };
    let trust = match trust_text.map(|(text, op)| (doc::policy(&text), op)) {
        Some((Ok(d), _)) => d,
        Some((Err(m), op)) => {
            g.gaps.push(Gap {
                field: "assume_role_policy".into(),
                operation: op.into(),
                error: m,
            });
            Value::Null
        }
        None => Value::Null,
    };
    let attached_policies = match (parts.attached_policies, attached) {
        (Some(v), _) => v,
        (None, Some(Ok(a))) => attached_list(a.attached_policies()),
        (None, Some(Err(e))) => g.add("attached_policies", "ListAttachedRolePolicies", &e),
        (None, None) => Value::Null,
    };
    let inline_policies = match (parts.inline_policies, inline) {
        (Some(v), _) => v,
        (None, Some(Ok(v))) => v,
        (None, Some(Err((op, kind, message)))) => {
            g.gaps.push(Gap {
                field: "inline_policies".into(),
                operation: op.into(),
                error: message.clone(),
            });
            g.errors
                .push(ctx.error(SERVICE, op, kind, format!("role {name}: {message}"), &[]));
            Value::Null
        }
        (None, None) => Value::Null,
    };
    let body = json!({
        "role_name": name,
        "arn": parts.arn,
        "path": parts.path,
        "create_date": parts.create_date,
        "assume_role_policy": trust,
        "attached_policies": attached_policies,
        "inline_policies": inline_policies,
        "last_used_date": last_used,
        "max_session_duration": max_session_duration,
        "is_service_linked": parts.path.starts_with("/aws-service-role/"),
    });
    let mut out = Output::default();
    out.errors.extend(g.errors);
    out.assets
        .push(ctx.asset("global", parts.arn.clone(), ROLE, name, tags, body, g.gaps));
    out
}

async fn policies(ctx: &Ctx, c: &Client) -> Output {
    let mut out = Output::default();
    let listed: Vec<_> = c
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
        .into_paginator()
        .items()
        .send()
        .collect()
        .await;
    let mut policies = Vec::new();
    for p in listed {
        match p {
            Ok(p) => policies.push(p),
            Err(e) => {
                out.errors
                    .push(ctx.sdk_error(SERVICE, "ListPolicies", &e, &[POLICY]));
                return out;
            }
        }
    }
    let results: Vec<Output> = futures::stream::iter(policies)
        .map(|p| {
            policy_asset(
                ctx,
                c,
                PolicyParts {
                    name: p.policy_name().unwrap_or_default().to_string(),
                    arn: p.arn().unwrap_or_default().to_string(),
                    attachment_count: p.attachment_count().unwrap_or(0),
                    default_version_id: p.default_version_id().unwrap_or_default().to_string(),
                    tags: p
                        .tags()
                        .iter()
                        .map(|t| (t.key().to_string(), t.value().to_string()))
                        .collect(),
                    document: None,
                },
            )
        })
        .buffer_unordered(8)
        .collect()
        .await;
    for r in results {
        out.extend(r);
    }
    let _ = s(None);
    out
}

/// What a customer-managed policy's asset is made of, from ListPolicies or
/// from another source (AWS Config).
pub(super) struct PolicyParts {
    pub name: String,
    pub arn: String,
    pub attachment_count: i32,
    pub default_version_id: String,
    pub tags: Vec<(String, String)>,
    /// The default version's document as AWS gave it, and the operation that
    /// gave it; `None` reads it with GetPolicyVersion.
    pub document: Option<(String, &'static str)>,
}

/// A customer-managed policy's asset.
pub(super) async fn policy_asset(ctx: &Ctx, c: &Client, p: PolicyParts) -> Output {
    let mut out = Output::default();
    let mut gaps = Vec::new();
    let text = match p.document {
        Some((text, op)) => Ok(Some((text, op))),
        None => ctx
            .call(
                c.get_policy_version()
                    .policy_arn(&p.arn)
                    .version_id(&p.default_version_id)
                    .send(),
            )
            .await
            .map(|v| {
                v.policy_version()
                    .and_then(|v| v.document())
                    .map(|d| (d.to_string(), "GetPolicyVersion"))
            }),
    };
    let document = match text {
        Ok(Some((text, op))) => match doc::policy(&text) {
            Ok(d) => d,
            Err(m) => {
                gaps.push(Gap {
                    field: "document".into(),
                    operation: op.into(),
                    error: m,
                });
                Value::Null
            }
        },
        Ok(None) => Value::Null,
        Err(e) => {
            let (kind, message) = classify(&e);
            gaps.push(Gap {
                field: "document".into(),
                operation: "GetPolicyVersion".into(),
                error: message.clone(),
            });
            out.errors.push(ctx.error(
                SERVICE,
                "GetPolicyVersion",
                kind,
                format!("policy {}: {message}", p.name),
                &[],
            ));
            Value::Null
        }
    };
    let body = json!({
        "policy_name": p.name,
        "arn": p.arn,
        "attachment_count": p.attachment_count,
        "default_version_id": p.default_version_id,
        "document": document,
    });
    out.assets
        .push(ctx.asset("global", p.arn.clone(), POLICY, p.name, p.tags, body, gaps));
    out
}
