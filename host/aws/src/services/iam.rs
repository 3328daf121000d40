//! IAM: the account (password policy, summary, root's credential-report
//! row), users (MFA, access keys and their last use, login profile, attached
//! and inline policies, groups), roles (trust policy, policies, last use)
//! and customer-managed policies, and the server certificates stored in IAM.
//! Never reads secrets (access keys' secrets, passwords); AWS managed
//! policies are no assets of their own.

use std::time::Duration;

use aws_sdk_iam::Client;
use aws_sdk_iam::types::SummaryKeyType;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::toolkit::doc;
use crate::toolkit::errors::is_not_found;
use crate::toolkit::record::{Failed, Misses};
use crate::toolkit::{Output, Target};
use stance_model::{Asset, Gap};

const SERVICE: &str = "iam";
const ACCOUNT: &str = "aws_iam_account";
const USER: &str = "aws_iam_user";
const ROLE: &str = "aws_iam_role";
const POLICY: &str = "aws_iam_policy";
const SERVER_CERTIFICATE: &str = "aws_iam_server_certificate";
/// The AWS managed policy that lets a principal work with AWS Support (CIS 1.16).
const SUPPORT_POLICY: &str = "policy/AWSSupportAccess";

pub(crate) async fn collect(target: &Target) -> Output {
    let c = Client::new(&target.sdk);
    let mut out = Output::default();
    let (account, users, roles, policies, certificates) = tokio::join!(
        async {
            if target.covered(ACCOUNT) {
                Output::default()
            } else {
                account(target, &c).await
            }
        },
        async {
            if target.covered(USER) {
                Output::default()
            } else {
                users(target, &c).await
            }
        },
        async {
            if target.covered(ROLE) {
                Output::default()
            } else {
                roles(target, &c).await
            }
        },
        async {
            if target.covered(POLICY) {
                Output::default()
            } else {
                policies(target, &c).await
            }
        },
        async {
            if target.covered(SERVER_CERTIFICATE) {
                Output::default()
            } else {
                server_certificates(target, &c).await
            }
        },
    );
    out.extend(account);
    out.extend(users);
    out.extend(roles);
    out.extend(policies);
    out.extend(certificates);
    out
}

/// One resource's asset (`asset` builds it with its gaps), and its failures
/// as errors of their own: IAM reports them per resource, `what` naming it
/// (`user alice`).
fn finish(target: &Target, what: &str, m: Misses, asset: impl FnOnce(Vec<Gap>) -> Asset) -> Output {
    let mut out = Output::default();
    out.assets.push(asset(m.gaps));
    out.errors.extend(
        m.failed
            .into_iter()
            .map(|f| f.into_error(target, SERVICE, Some(what))),
    );
    out
}

async fn account(target: &Target, c: &Client) -> Output {
    let mut m = Misses::default();
    let (pp, summary, report, mfa, support) = tokio::join!(
        target.call(c.get_account_password_policy().send()),
        target.call(c.get_account_summary().send()),
        credential_report(target, c),
        target.call(c.list_virtual_mfa_devices().send()),
        support_access(target, c),
    );
    let password_policy = match pp {
        Ok(r) => r.password_policy().map_or(Value::Null, password_policy),
        Err(e) if is_not_found(&e, &["NoSuchEntity"]) => Value::Null,
        Err(e) => m.sdk(&["password_policy"], "GetAccountPasswordPolicy", &e),
    };
    let summary = match summary {
        Ok(r) => account_summary(r.summary_map()),
        Err(e) => m.sdk(&["summary"], "GetAccountSummary", &e),
    };
    // Root's MFA is hardware when it is on and no virtual device is assigned to root.
    let root_virtual_mfa = match mfa {
        Ok(r) => Some(r.virtual_mfa_devices().iter().any(|d| {
            d.user().is_some_and(|u| u.arn().ends_with(":root"))
                || d.serial_number().ends_with(":mfa/root-account-mfa-device")
        })),
        Err(e) => {
            m.sdk(&["root"], "ListVirtualMFADevices", &e);
            None
        }
    };
    // A failure of the credential report is reported as it is, not as the account's.
    let mut report_error = None;
    let root = match report {
        Ok(rows) => match root_credentials(&rows, &summary, root_virtual_mfa) {
            Some(root) => root,
            None => m.unknown(
                "root",
                "GetCredentialReport",
                "root's credentials could not be determined",
            ),
        },
        Err(f) => {
            let root = m.unknown("root", f.operation, &f.message);
            report_error = Some(f.into_error(target, SERVICE, None));
            root
        }
    };
    let support_access_policy = m.field("support_access_policy", support);
    let body = json!({
        "password_policy": password_policy,
        "summary": summary,
        "root": root,
        "support_access_policy": support_access_policy,
    });
    let arn = format!("arn:{}:iam::{}:account", target.partition(), target.account);
    let mut out = finish(target, "account", m, |gaps| {
        target.asset(
            "global",
            arn,
            ACCOUNT,
            target.account.clone(),
            Vec::new(),
            body,
            gaps,
        )
    });
    out.errors.extend(report_error);
    out
}

/// The account's password policy (GetAccountPasswordPolicy).
fn password_policy(p: &aws_sdk_iam::types::PasswordPolicy) -> Value {
    json!({
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
    })
}

/// The account summary's fields that the body keeps (GetAccountSummary).
fn account_summary(map: Option<&std::collections::HashMap<SummaryKeyType, i32>>) -> Value {
    let get = |k: SummaryKeyType| map.and_then(|m| m.get(&k)).copied().unwrap_or(0);
    json!({
        "account_mfa_enabled": get(SummaryKeyType::AccountMfaEnabled) > 0,
        "account_access_keys_present": get(SummaryKeyType::AccountAccessKeysPresent) > 0,
        "users": get(SummaryKeyType::Users),
        "roles": get(SummaryKeyType::Roles),
        "policies": get(SummaryKeyType::Policies),
    })
}

/// Root's credentials from its credential-report row, the summary standing
/// in where the report has no root row (emulators); `None` when they cannot
/// be determined.
fn root_credentials(
    rows: &[ReportRow],
    summary: &Value,
    root_virtual_mfa: Option<bool>,
) -> Option<Value> {
    let summary_mfa = summary["account_mfa_enabled"].as_bool();
    let summary_keys = summary["account_access_keys_present"].as_bool();
    let root_row = rows
        .iter()
        .find(|r| r.get("user").map(String::as_str) == Some("<root_account>"));
    let flag = |row: Option<&ReportRow>, k: &str| row.and_then(|r| r.get(k)).map(|v| v == "true");
    let mfa_active = flag(root_row, "mfa_active").or(summary_mfa);
    let key1 = flag(root_row, "access_key_1_active").or(summary_keys);
    let key2 =
        flag(root_row, "access_key_2_active").or(Some(false).filter(|_| summary_keys.is_some()));
    let last_used = root_row
        .and_then(|r| r.get("password_last_used"))
        .filter(|v| v.contains('T'))
        .map(|v| Value::String(v.clone()))
        .unwrap_or(Value::Null);
    let (mfa, k1, k2, virtual_mfa) = (mfa_active?, key1?, key2?, root_virtual_mfa?);
    Some(json!({
        "mfa_active": mfa,
        "hardware_mfa": mfa && !virtual_mfa,
        "access_key_1_active": k1,
        "access_key_2_active": k2,
        "password_last_used": last_used,
    }))
}

/// Who has the AWSSupportAccess managed policy attached (ListEntitiesForPolicy):
/// `{attachment_count, attached_roles, attached_users, attached_groups}`, names sorted.
async fn support_access(target: &Target, c: &Client) -> Result<Value, Failed> {
    let arn = format!("arn:{}:iam::aws:{SUPPORT_POLICY}", target.partition());
    let pages = c
        .list_entities_for_policy()
        .policy_arn(arn)
        .into_paginator()
        .send();
    let pages = target
        .pages(pages)
        .await
        .map_err(|e| Failed::sdk("ListEntitiesForPolicy", &e))?;
    let (mut roles, mut users, mut groups) = (Vec::new(), Vec::new(), Vec::new());
    for p in &pages {
        roles.extend(p.policy_roles().iter().filter_map(|r| r.role_name()));
        users.extend(p.policy_users().iter().filter_map(|u| u.user_name()));
        groups.extend(p.policy_groups().iter().filter_map(|g| g.group_name()));
    }
    for list in [&mut roles, &mut users, &mut groups] {
        list.sort_unstable();
        list.dedup();
    }
    Ok(json!({
        "attachment_count": roles.len() + users.len() + groups.len(),
        "attached_roles": roles,
        "attached_users": users,
        "attached_groups": groups,
    }))
}

type ReportRow = std::collections::HashMap<String, String>;

/// Generate the credential report and read it (AWS builds it asynchronously).
async fn credential_report(target: &Target, c: &Client) -> Result<Vec<ReportRow>, Failed> {
    for _ in 0..30 {
        match target.call(c.generate_credential_report().send()).await {
            Ok(r) if r.state().is_some_and(|s| s.as_str() == "COMPLETE") => break,
            Ok(_) => tokio::time::sleep(Duration::from_secs(1)).await,
            Err(e) => return Err(Failed::sdk("GenerateCredentialReport", &e)),
        }
    }
    let r = target
        .call(c.get_credential_report().send())
        .await
        .map_err(|e| Failed::sdk("GetCredentialReport", &e))?;
    let content = r.content().map(|b| b.as_ref().to_vec()).unwrap_or_default();
    let not_csv =
        |e: csv::Error| Failed::other("GetCredentialReport", format!("the report is not CSV: {e}"));
    let mut reader = csv::Reader::from_reader(content.as_slice());
    let headers = reader.headers().map_err(not_csv)?.clone();
    let mut rows = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(not_csv)?;
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

/// Build each item's assets, eight at a time, into one output.
async fn each<T, F, Fut>(items: Vec<T>, mut out: Output, build: F) -> Output
where
    F: FnMut(T) -> Fut,
    Fut: std::future::Future<Output = Output>,
{
    let results: Vec<Output> = futures::stream::iter(items)
        .map(build)
        .buffer_unordered(8)
        .collect()
        .await;
    for r in results {
        out.extend(r);
    }
    out
}

async fn users(target: &Target, c: &Client) -> Output {
    let mut out = Output::default();
    let pages = c.list_users().into_paginator().send();
    let users = match target.items(pages, |p| p.users).await {
        Ok(u) => u,
        Err(e) => {
            out.errors
                .push(target.sdk_error(SERVICE, "ListUsers", &e, &[USER]));
            return out;
        }
    };
    each(users, out, |u| user(target, c, u)).await
}

async fn user(target: &Target, c: &Client, u: aws_sdk_iam::types::User) -> Output {
    let name = u.user_name().to_string();
    let mut m = Misses::default();
    let (mfa, keys, login, attached, inline, groups, tags) = tokio::join!(
        target.call(c.list_mfa_devices().user_name(&name).send()),
        target.call(c.list_access_keys().user_name(&name).send()),
        target.call(c.get_login_profile().user_name(&name).send()),
        target.call(c.list_attached_user_policies().user_name(&name).send()),
        inline_policies(target, c, Principal::User(&name)),
        target.call(c.list_groups_for_user().user_name(&name).send()),
        target.call(c.list_user_tags().user_name(&name).send()),
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
        Err(e) => (m.sdk(&["mfa_active"], "ListMFADevices", &e), Value::Null),
    };
    let access_keys = match keys {
        Ok(r) => access_keys(target, c, r.access_key_metadata(), &mut m).await,
        Err(e) => m.sdk(&["access_keys"], "ListAccessKeys", &e),
    };
    let password_enabled = match login {
        Ok(_) => Value::Bool(true),
        Err(e) if is_not_found(&e, &["NoSuchEntity"]) => Value::Bool(false),
        Err(e) => m.sdk(&["password_enabled"], "GetLoginProfile", &e),
    };
    let attached_policies = match attached {
        Ok(r) => attached_list(r.attached_policies()),
        Err(e) => m.sdk(&["attached_policies"], "ListAttachedUserPolicies", &e),
    };
    let inline_policies = m.field("inline_policies", inline);
    let groups = match groups {
        Ok(r) => json!(
            r.groups()
                .iter()
                .map(|g| g.group_name())
                .collect::<Vec<_>>()
        ),
        Err(e) => m.sdk(&["groups"], "ListGroupsForUser", &e),
    };
    let tags = match tags {
        Ok(r) => doc::tags(r.tags(), |t| (t.key(), t.value())),
        Err(e) => {
            m.fail(Failed::sdk("ListUserTags", &e));
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
    finish(target, &format!("user {name}"), m, |gaps| {
        target.asset("global", u.arn().to_string(), USER, name, tags, body, gaps)
    })
}

/// A user's access keys, each with its last use (GetAccessKeyLastUsed, for
/// every key at once).
async fn access_keys(
    target: &Target,
    c: &Client,
    keys: &[aws_sdk_iam::types::AccessKeyMetadata],
    m: &mut Misses,
) -> Value {
    let last_used = futures::future::join_all(keys.iter().map(|k| {
        let id = k.access_key_id().unwrap_or_default();
        target.call(c.get_access_key_last_used().access_key_id(id).send())
    }))
    .await;
    let mut list = Vec::new();
    for (k, used) in keys.iter().zip(last_used) {
        let last_used = match used {
            Ok(l) => doc::time(l.access_key_last_used().and_then(|u| u.last_used_date())),
            Err(e) => m.sdk(&["access_keys"], "GetAccessKeyLastUsed", &e),
        };
        list.push(json!({
            "access_key_id": k.access_key_id().unwrap_or_default(),
            "status": k.status().map(|s| s.as_str()),
            "create_date": doc::time(k.create_date()),
            "last_used_date": last_used,
        }));
    }
    Value::Array(list)
}

fn attached_list(list: &[aws_sdk_iam::types::AttachedPolicy]) -> Value {
    json!(
        list.iter()
            .map(|p| json!({"policy_name": p.policy_name(), "policy_arn": p.policy_arn()}))
            .collect::<Vec<_>>()
    )
}

#[derive(Clone, Copy)]
enum Principal<'a> {
    User(&'a str),
    Role(&'a str),
}

/// Inline policies with their normalized documents.
async fn inline_policies(target: &Target, c: &Client, who: Principal<'_>) -> Result<Value, Failed> {
    let names = match who {
        Principal::User(n) => target
            .call(c.list_user_policies().user_name(n).send())
            .await
            .map(|r| r.policy_names().to_vec())
            .map_err(|e| Failed::sdk("ListUserPolicies", &e))?,
        Principal::Role(n) => target
            .call(c.list_role_policies().role_name(n).send())
            .await
            .map(|r| r.policy_names().to_vec())
            .map_err(|e| Failed::sdk("ListRolePolicies", &e))?,
    };
    // Every document at once; the first failure in the listing's order decides.
    let documents = futures::future::join_all(names.iter().map(|policy_name| async move {
        match who {
            Principal::User(n) => target
                .call(c.get_user_policy().user_name(n).policy_name(policy_name).send())
                .await
                .map(|r| (r.policy_document().to_string(), "GetUserPolicy"))
                .map_err(|e| Failed::sdk("GetUserPolicy", &e)),
            Principal::Role(n) => target
                .call(c.get_role_policy().role_name(n).policy_name(policy_name).send())
                .await
                .map(|r| (r.policy_document().to_string(), "GetRolePolicy"))
                .map_err(|e| Failed::sdk("GetRolePolicy", &e)),
        }
    }))
    .await;
    let mut out = Vec::new();
    for (policy_name, got) in names.into_iter().zip(documents) {
        let (text, op) = got?;
        let document = doc::policy(&text).map_err(|m| Failed::other(op, m))?;
        out.push(json!({"policy_name": policy_name, "document": document}));
    }
    Ok(Value::Array(out))
}

async fn roles(target: &Target, c: &Client) -> Output {
    let mut out = Output::default();
    let pages = c.list_roles().into_paginator().send();
    let roles = match target.items(pages, |p| p.roles).await {
        Ok(r) => r,
        Err(e) => {
            out.errors
                .push(target.sdk_error(SERVICE, "ListRoles", &e, &[ROLE]));
            return out;
        }
    };
    each(roles, out, |r| role(target, c, r)).await
}

async fn role(target: &Target, c: &Client, r: aws_sdk_iam::types::Role) -> Output {
    let path = r.path().to_string();
    role_asset(
        target,
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
pub(crate) struct RoleParts {
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
pub(crate) async fn role_asset(target: &Target, c: &Client, parts: RoleParts) -> Output {
    let name = parts.name.clone();
    let mut m = Misses::default();
    let (got, attached, inline) = tokio::join!(
        target.call(c.get_role().role_name(&name).send()),
        async {
            match parts.attached_policies {
                Some(_) => None,
                None => Some(
                    target.call(c.list_attached_role_policies().role_name(&name).send())
                        .await,
                ),
            }
        },
        async {
            match parts.inline_policies {
                Some(_) => None,
                None => Some(inline_policies(target, c, Principal::Role(&name)).await),
            }
        },
    );
    let role = from_get_role(got, &parts, &mut m);
    let trust_text = parts.trust.or(role.trust);
    let trust = match trust_text.map(|(text, op)| (doc::policy(&text), op)) {
        Some((Ok(d), _)) => d,
        Some((Err(why), op)) => m.unknown("assume_role_policy", op, &why),
        None => Value::Null,
    };
    let attached_policies = match (parts.attached_policies, attached) {
        (Some(v), _) => v,
        (None, Some(Ok(a))) => attached_list(a.attached_policies()),
        (None, Some(Err(e))) => m.sdk(&["attached_policies"], "ListAttachedRolePolicies", &e),
        (None, None) => Value::Null,
    };
    let inline_policies = match (parts.inline_policies, inline) {
        (Some(v), _) => v,
        (None, Some(Ok(v))) => v,
        (None, Some(Err(f))) => m.gap(&["inline_policies"], f),
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
        "last_used_date": role.last_used,
        "max_session_duration": role.max_session_duration,
        "is_service_linked": parts.path.starts_with("/aws-service-role/"),
    });
    finish(target, &format!("role {name}"), m, |gaps| {
        target.asset("global", parts.arn, ROLE, name, role.tags, body, gaps)
    })
}

/// What GetRole gives a role's asset.
struct FromGetRole {
    /// The trust policy and the operation that gave it (used when the
    /// role's parts have none).
    trust: Option<(String, &'static str)>,
    last_used: Value,
    tags: Vec<(String, String)>,
    max_session_duration: Value,
}

/// The fields GetRole gives (the maximum session duration unless `parts`
/// has it); where GetRole failed, gaps in them.
fn from_get_role<E, R>(
    got: Result<aws_sdk_iam::operation::get_role::GetRoleOutput, SdkError<E, R>>,
    parts: &RoleParts,
    m: &mut Misses,
) -> FromGetRole
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match got {
        Ok(full) => {
            let role = full.role();
            FromGetRole {
                trust: role
                    .and_then(|r| r.assume_role_policy_document())
                    .map(|d| (d.to_string(), "GetRole")),
                last_used: doc::time(
                    role.and_then(|r| r.role_last_used())
                        .and_then(|u| u.last_used_date()),
                ),
                tags: role
                    .map(|r| doc::tags(r.tags(), |t| (t.key(), t.value())))
                    .unwrap_or_default(),
                max_session_duration: parts
                    .max_session_duration
                    .or_else(|| role.and_then(|r| r.max_session_duration()))
                    .map_or(json!(3600), |d| json!(d)),
            }
        }
        Err(e) => FromGetRole {
            trust: None,
            last_used: m.sdk(&["last_used_date"], "GetRole", &e),
            tags: Vec::new(),
            max_session_duration: match parts.max_session_duration {
                Some(d) => json!(d),
                None => m.sdk(&["max_session_duration"], "GetRole", &e),
            },
        },
    }
}

async fn policies(target: &Target, c: &Client) -> Output {
    let mut out = Output::default();
    let pages = c
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
        .into_paginator()
        .send();
    let policies = match target.items(pages, |p| p.policies.unwrap_or_default()).await {
        Ok(p) => p,
        Err(e) => {
            out.errors
                .push(target.sdk_error(SERVICE, "ListPolicies", &e, &[POLICY]));
            return out;
        }
    };
    each(policies, out, |p| {
        policy_asset(
            target,
            c,
            PolicyParts {
                name: p.policy_name().unwrap_or_default().to_string(),
                arn: p.arn().unwrap_or_default().to_string(),
                attachment_count: p.attachment_count().unwrap_or(0),
                default_version_id: p.default_version_id().unwrap_or_default().to_string(),
                tags: doc::tags(p.tags(), |t| (t.key(), t.value())),
                document: None,
            },
        )
    })
    .await
}

/// What a customer-managed policy's asset is made of, from ListPolicies or
/// from another source (AWS Config).
pub(crate) struct PolicyParts {
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
pub(crate) async fn policy_asset(target: &Target, c: &Client, p: PolicyParts) -> Output {
    let mut m = Misses::default();
    let text = match p.document {
        Some((text, op)) => Ok(Some((text, op))),
        None => target
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
            Err(why) => m.unknown("document", op, &why),
        },
        Ok(None) => Value::Null,
        Err(e) => m.sdk(&["document"], "GetPolicyVersion", &e),
    };
    let body = json!({
        "policy_name": p.name,
        "arn": p.arn,
        "attachment_count": p.attachment_count,
        "default_version_id": p.default_version_id,
        "document": document,
    });
    finish(target, &format!("policy {}", p.name), m, |gaps| {
        target.asset("global", p.arn, POLICY, p.name, p.tags, body, gaps)
    })
}

/// The SSL/TLS server certificates stored in IAM (ListServerCertificates
/// gives every field the body holds).
async fn server_certificates(target: &Target, c: &Client) -> Output {
    let mut out = Output::default();
    let pages = c.list_server_certificates().into_paginator().send();
    let certificates = match target
        .items(pages, |p| p.server_certificate_metadata_list)
        .await
    {
        Ok(list) => list,
        Err(e) => {
            out.errors.push(target.sdk_error(
                SERVICE,
                "ListServerCertificates",
                &e,
                &[SERVER_CERTIFICATE],
            ));
            return out;
        }
    };
    for cert in certificates {
        let name = cert.server_certificate_name().to_string();
        let body = json!({
            "server_certificate_name": name,
            "server_certificate_id": cert.server_certificate_id(),
            "arn": cert.arn(),
            "path": cert.path(),
            "upload_date": doc::time(cert.upload_date()),
            "expiration": doc::time(cert.expiration()),
        });
        out.assets.push(target.asset(
            "global",
            cert.arn().to_string(),
            SERVER_CERTIFICATE,
            name,
            Vec::new(),
            body,
            Vec::new(),
        ));
    }
    out
}
