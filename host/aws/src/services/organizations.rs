//! AWS Organizations, once per account: the account's membership
//! (`aws_organizations_account`, in every account: in an organization or
//! not, which one, its management account, the feature set) from
//! DescribeOrganization; and, where the caller can read the organization
//! (its management account, or a member that is a delegated administrator),
//! the organization itself (`aws_organizations_organization`): its roots and
//! their enabled policy types, its service control, tag and AI-services
//! opt-out policies with their documents and targets, and its delegated
//! administrators with their services.
//!
//! An account in no organization is an answer (`in_organization: false`),
//! not an error. In a member account that is no delegated administrator,
//! Organizations denies ListRoots: the organization's facts belong to its
//! management account, so that account emits no organization asset and no
//! collection error (scan the management account for them). In the
//! management account every failure is a collection error, as everywhere.
//! Never reads the organization's accounts, OUs or handshakes, and never
//! changes anything.

use aws_sdk_organizations::Client;
use aws_sdk_organizations::types::{
    DelegatedAdministrator, Organization, PolicySummary, PolicyTargetSummary, PolicyType, Root,
};
use futures::StreamExt;
use serde_json::{Value, json};
use stance_model::{Asset, CollectionError, Gap};

use crate::toolkit::doc::{self, s};
use crate::toolkit::errors::{classify, is_not_found};
use crate::toolkit::record::{Failed, Failures, Misses, gap};
use crate::toolkit::{Output, Target};

const SERVICE: &str = "organizations";
const ACCOUNT: &str = "aws_organizations_account";
const ORGANIZATION: &str = "aws_organizations_organization";
/// What Organizations answers in an account that is in no organization.
const NOT_IN_USE: &[&str] = &["AWSOrganizationsNotInUseException"];
/// The AWS managed SCP that allows everything, attached to every target by default.
const FULL_ACCESS_SCP: &str = "FullAWSAccess";

/// The policy types the organization asset lists, with their body fields.
const POLICY_LISTS: &[(PolicyKind, &str)] = &[
    (PolicyKind::ServiceControl, "service_control_policies"),
    (PolicyKind::Tag, "tag_policies"),
    (PolicyKind::AiOptOut, "ai_opt_out_policies"),
];

/// A policy type the organization asset lists.
#[derive(Debug, Clone, Copy, PartialEq)]
enum PolicyKind {
    ServiceControl,
    Tag,
    AiOptOut,
}

impl PolicyKind {
    fn sdk(self) -> PolicyType {
        match self {
            PolicyKind::ServiceControl => PolicyType::ServiceControlPolicy,
            PolicyKind::Tag => PolicyType::TagPolicy,
            PolicyKind::AiOptOut => PolicyType::AiservicesOptOutPolicy,
        }
    }
}

pub(crate) async fn collect(target: &Target) -> Output {
    let mut out = Output::default();
    let c = Client::new(&target.sdk);
    let org = match target.call(c.describe_organization().send()).await {
        Ok(r) => match r.organization {
            Some(org) => Some(org),
            None => {
                out.errors.push(target.error(
                    SERVICE,
                    "DescribeOrganization",
                    "other",
                    "the answer names no organization",
                    &[ACCOUNT, ORGANIZATION],
                ));
                return out;
            }
        },
        Err(e) if is_not_found(&e, NOT_IN_USE) => None,
        Err(e) => {
            out.errors.push(target.sdk_error(
                SERVICE,
                "DescribeOrganization",
                &e,
                &[ACCOUNT, ORGANIZATION],
            ));
            return out;
        }
    };
    out.assets.push(account_asset(target, org.as_ref()));
    if let Some(org) = &org {
        out.extend(organization(target, &c, org).await);
    }
    out
}

/// The account's membership: `org` is its organization, `None` when it is
/// in none.
fn account_asset(target: &Target, org: Option<&Organization>) -> Asset {
    let management = org.and_then(|o| o.master_account_id());
    let body = json!({
        "in_organization": org.is_some(),
        "organization_id": s(org.and_then(|o| o.id())),
        "organization_arn": s(org.and_then(|o| o.arn())),
        "management_account_id": s(management),
        "is_management_account": management == Some(target.account.as_str()),
        "feature_set": org.and_then(|o| o.feature_set()).map(|f| f.as_str()),
    });
    target.asset(
        "global",
        format!(
            "arn:{}:organizations::{}:account",
            target.partition(),
            target.account
        ),
        ACCOUNT,
        target.account.clone(),
        Vec::new(),
        body,
        Vec::new(),
    )
}

/// The organization's asset, where this account can read it.
async fn organization(target: &Target, c: &Client, org: &Organization) -> Output {
    let mut out = Output::default();
    let management = org.master_account_id() == Some(target.account.as_str());
    let pages = c.list_roots().into_paginator().send();
    let roots = match target.items(pages, |p| p.roots.unwrap_or_default()).await {
        Ok(r) => r,
        Err(e) if !management && classify(&e).0 == "access-denied" => {
            tracing::debug!(
                account = %target.account,
                "a member account that is no delegated administrator: the organization is described by its management account"
            );
            return out;
        }
        Err(e) => {
            out.errors
                .push(target.sdk_error(SERVICE, "ListRoots", &e, &[ORGANIZATION]));
            return out;
        }
    };
    let mut m = Misses::default();
    let (policies, admins) = tokio::join!(
        futures::future::join_all(
            POLICY_LISTS
                .iter()
                .map(|(kind, _)| policies(target, c, *kind))
        ),
        delegated_administrators(target, c),
    );
    let mut body = organization_body(org, &roots);
    for ((kind, field), listed) in POLICY_LISTS.iter().zip(policies) {
        let value = list_field(listed, field, &mut m, &mut out);
        if *kind == PolicyKind::ServiceControl {
            body["restrictive_scp_attached"] = restrictive_scp_attached(&value, &mut m);
        }
        body[*field] = value;
    }
    body["delegated_administrators"] =
        list_field(admins, "delegated_administrators", &mut m, &mut out);
    let id = org.id().unwrap_or_default().to_string();
    let arn = org.arn().map_or_else(
        || {
            format!(
                "arn:{}:organizations::{}:organization/{id}",
                target.partition(),
                target.account
            )
        },
        str::to_string,
    );
    out.assets.push(target.asset(
        "global",
        arn,
        ORGANIZATION,
        id,
        Vec::new(),
        body,
        m.gaps,
    ));
    out.errors.extend(
        m.failed
            .into_iter()
            .map(|f| f.into_error(target, SERVICE, None)),
    );
    out
}

/// One list of the organization's body (its policies of one type, its
/// delegated administrators), or why it could not be listed.
type Listing = Result<Listed, Failed>;

/// The items of a list, the gaps of the items whose details could not be
/// read, and those failures, reported once per operation.
struct Listed {
    items: Vec<Value>,
    gaps: Vec<Gap>,
    errors: Vec<CollectionError>,
}

/// A listing as the value of `field`: the list (its gaps and errors go to
/// `m` and `out`), or null with a gap when it could not be listed.
fn list_field(listing: Listing, field: &str, m: &mut Misses, out: &mut Output) -> Value {
    match listing {
        Ok(listed) => {
            m.gaps.extend(listed.gaps);
            out.errors.extend(listed.errors);
            Value::Array(listed.items)
        }
        Err(failed) => m.gap(&[field], failed),
    }
}

/// The items built one by one, each with what it could not read: the
/// failures are reported once per operation, naming the items (by `name`).
fn gather(target: &Target, what: &str, built: Vec<(Value, Misses)>) -> Listed {
    let mut failures = Failures::default();
    let mut listed = Listed {
        items: Vec::new(),
        gaps: Vec::new(),
        errors: Vec::new(),
    };
    for (value, misses) in built {
        let name = value["name"].as_str().unwrap_or("?").to_string();
        failures.add_all(&name, misses.failed);
        listed.gaps.extend(misses.gaps);
        listed.items.push(value);
    }
    listed.errors = failures.report(target, SERVICE, what);
    listed
}

/// What DescribeOrganization and ListRoots tell: the organization, its roots
/// and the policy types enabled on them.
fn organization_body(org: &Organization, roots: &[Root]) -> Value {
    let mut enabled: Vec<&str> = roots
        .iter()
        .flat_map(|r| r.policy_types())
        .filter(|t| t.status().is_some_and(|s| s.as_str() == "ENABLED"))
        .filter_map(|t| t.r#type().map(|t| t.as_str()))
        .collect();
    enabled.sort_unstable();
    enabled.dedup();
    json!({
        "organization_id": s(org.id()),
        "arn": s(org.arn()),
        "feature_set": org.feature_set().map(|f| f.as_str()),
        "management_account_id": s(org.master_account_id()),
        "roots": roots.iter().map(|r| json!({
            "id": s(r.id()),
            "arn": s(r.arn()),
            "name": s(r.name()),
            "policy_types": r.policy_types().iter().map(|t| json!({
                "type": t.r#type().map(|t| t.as_str()),
                "status": t.status().map(|s| s.as_str()),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "enabled_policy_types": enabled,
    })
}

/// Is an SCP other than FullAWSAccess attached anywhere (root, OU or
/// account)? Null, with a gap, when some such policy's targets are unknown
/// and none is known to be attached.
fn restrictive_scp_attached(scps: &Value, m: &mut Misses) -> Value {
    let Some(list) = scps.as_array() else {
        // The SCPs could not be listed: that gap covers this field too.
        m.gaps.push(gap(
            "restrictive_scp_attached",
            "ListPolicies",
            "the service control policies could not be listed",
        ));
        return Value::Null;
    };
    let restrictive = list
        .iter()
        .filter(|p| !(p["aws_managed"] == true && p["name"] == FULL_ACCESS_SCP));
    let mut unknown = false;
    for p in restrictive {
        match p["targets"].as_array() {
            Some(targets) if !targets.is_empty() => return Value::Bool(true),
            Some(_) => {}
            None => unknown = true,
        }
    }
    if unknown {
        return m.unknown(
            "restrictive_scp_attached",
            "ListTargetsForPolicy",
            "the targets of some service control policy are unknown",
        );
    }
    Value::Bool(false)
}

/// Every policy of `kind` with its document and targets (the gaps and
/// errors of those that could not be read); the failure when the policies
/// could not be listed.
async fn policies(target: &Target, c: &Client, kind: PolicyKind) -> Listing {
    let pages = c.list_policies().filter(kind.sdk()).into_paginator().send();
    let mut listed = target
        .items(pages, |p| p.policies.unwrap_or_default())
        .await
        .map_err(|e| Failed::sdk("ListPolicies", &e))?;
    listed.sort_by(|a, b| a.name().cmp(&b.name()));
    let built: Vec<(Value, Misses)> = futures::stream::iter(listed)
        .map(|p| policy(target, c, kind, p))
        .buffered(4)
        .collect()
        .await;
    Ok(gather(target, "policies", built))
}

/// One policy: its summary, document (DescribePolicy) and targets
/// (ListTargetsForPolicy), with gaps where those failed.
async fn policy(target: &Target, c: &Client, kind: PolicyKind, p: PolicySummary) -> (Value, Misses) {
    let field = POLICY_LISTS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or("policies", |(_, f)| *f);
    let id = p.id().unwrap_or_default().to_string();
    let (described, targets) = tokio::join!(
        target.call(c.describe_policy().policy_id(&id).send()),
        async {
            let pages = c.list_targets_for_policy().policy_id(&id).into_paginator().send();
            target.items(pages, |p| p.targets.unwrap_or_default()).await
        },
    );
    let mut m = Misses::default();
    let document = match described {
        Ok(r) => match r.policy().and_then(|p| p.content()) {
            Some(text) => document(kind, text).unwrap_or_else(|why| {
                m.unknown(&format!("{field}[].document"), "DescribePolicy", &why)
            }),
            None => Value::Null,
        },
        Err(e) => m.sdk(&[&format!("{field}[].document")], "DescribePolicy", &e),
    };
    let targets = match targets {
        Ok(list) => Value::Array(list.iter().map(policy_target).collect()),
        Err(e) => m.sdk(&[&format!("{field}[].targets")], "ListTargetsForPolicy", &e),
    };
    let mut value = json!({
        "id": id,
        "arn": s(p.arn()),
        "name": s(p.name()),
        "description": s(p.description()),
        "aws_managed": p.aws_managed(),
        "targets": targets,
        "document": document,
    });
    if kind == PolicyKind::AiOptOut {
        value["default_opt_out"] = default_opt_out(&value["document"]);
    }
    (value, m)
}

/// A policy's document: an SCP normalized like every IAM policy document,
/// the management policies (tag, AI opt-out) as the JSON they are.
fn document(kind: PolicyKind, text: &str) -> Result<Value, String> {
    match kind {
        PolicyKind::ServiceControl => doc::policy(text),
        PolicyKind::Tag | PolicyKind::AiOptOut => serde_json::from_str(text)
            .map_err(|e| format!("the policy is not JSON: {e}")),
    }
}

/// What an AI-services opt-out policy assigns to every service by default
/// (`services.default.opt_out_policy["@@assign"]`: `optOut` or `optIn`).
fn default_opt_out(document: &Value) -> Value {
    match &document["services"]["default"]["opt_out_policy"]["@@assign"] {
        Value::String(v) => Value::String(v.clone()),
        _ => Value::Null,
    }
}

fn policy_target(t: &PolicyTargetSummary) -> Value {
    json!({
        "target_id": s(t.target_id()),
        "arn": s(t.arn()),
        "name": s(t.name()),
        "type": t.r#type().map(|t| t.as_str()),
    })
}

/// The delegated administrators with the services each administers (the
/// gaps and errors of those whose services could not be read); the failure
/// when they could not be listed.
async fn delegated_administrators(target: &Target, c: &Client) -> Listing {
    let pages = c.list_delegated_administrators().into_paginator().send();
    let mut admins = target
        .items(pages, |p| p.delegated_administrators.unwrap_or_default())
        .await
        .map_err(|e| Failed::sdk("ListDelegatedAdministrators", &e))?;
    admins.sort_by(|a, b| a.id().cmp(&b.id()));
    let built: Vec<(Value, Misses)> = futures::stream::iter(admins)
        .map(|a| delegated_administrator(target, c, a))
        .buffered(4)
        .collect()
        .await;
    Ok(gather(target, "delegated administrators", built))
}

/// One delegated administrator and the services it administers
/// (ListDelegatedServicesForAccount).
async fn delegated_administrator(
    target: &Target,
    c: &Client,
    a: DelegatedAdministrator,
) -> (Value, Misses) {
    let id = a.id().unwrap_or_default().to_string();
    let pages = c
        .list_delegated_services_for_account()
        .account_id(&id)
        .into_paginator()
        .send();
    let mut m = Misses::default();
    let services = match target
        .items(pages, |p| p.delegated_services.unwrap_or_default())
        .await
    {
        Ok(list) => {
            let mut principals: Vec<&str> =
                list.iter().filter_map(|s| s.service_principal()).collect();
            principals.sort_unstable();
            json!(principals)
        }
        Err(e) => m.sdk(
            &["delegated_administrators[].services"],
            "ListDelegatedServicesForAccount",
            &e,
        ),
    };
    let value = json!({
        "account_id": id,
        "arn": s(a.arn()),
        "name": s(a.name()),
        "status": a.status().map(|v| v.as_str()),
        "joined_method": a.joined_method().map(|v| v.as_str()),
        "joined_at": doc::time(a.joined_timestamp()),
        "delegation_enabled_date": doc::time(a.delegation_enabled_date()),
        "services": services,
    });
    (value, m)
}

#[cfg(test)]
mod tests {
    use aws_sdk_organizations::types::{
        OrganizationFeatureSet, PolicyTypeStatus, PolicyTypeSummary,
    };

    use super::*;
    use crate::toolkit::test_target;

    fn org(management: &str) -> Organization {
        Organization::builder()
            .id("o-abcdefghij")
            .arn("arn:aws:organizations::111111111111:organization/o-abcdefghij")
            .master_account_id(management)
            .feature_set(OrganizationFeatureSet::All)
            .build()
    }

    #[test]
    fn every_account_says_whether_it_is_in_an_organization() {
        let target = test_target("us-east-1");
        let none = account_asset(&target, None);
        assert_eq!(none.id, "arn:aws:organizations::123456789012:account");
        assert_eq!(none.region, "global");
        let body: Value = serde_json::from_str(&none.body).unwrap();
        assert_eq!(body["in_organization"], false);
        assert_eq!(body["is_management_account"], false);
        assert!(body["organization_id"].is_null() && body["feature_set"].is_null());

        let member: Value =
            serde_json::from_str(&account_asset(&target, Some(&org("111111111111"))).body).unwrap();
        assert_eq!(member["in_organization"], true);
        assert_eq!(member["management_account_id"], "111111111111");
        assert_eq!(member["is_management_account"], false);
        assert_eq!(member["feature_set"], "ALL");
        let management: Value =
            serde_json::from_str(&account_asset(&target, Some(&org("123456789012"))).body).unwrap();
        assert_eq!(management["is_management_account"], true);
    }

    #[test]
    fn enabled_policy_types_come_from_the_roots() {
        let types = |t: PolicyType, s: PolicyTypeStatus| {
            PolicyTypeSummary::builder().r#type(t).status(s).build()
        };
        let root = Root::builder()
            .id("r-ab12")
            .name("Root")
            .policy_types(types(PolicyType::TagPolicy, PolicyTypeStatus::Enabled))
            .policy_types(types(
                PolicyType::ServiceControlPolicy,
                PolicyTypeStatus::Enabled,
            ))
            .policy_types(types(
                PolicyType::AiservicesOptOutPolicy,
                PolicyTypeStatus::PendingEnable,
            ))
            .build();
        let body = organization_body(&org("123456789012"), &[root]);
        assert_eq!(
            body["enabled_policy_types"],
            json!(["SERVICE_CONTROL_POLICY", "TAG_POLICY"])
        );
        assert_eq!(body["roots"][0]["policy_types"][2]["status"], "PENDING_ENABLE");
    }

    #[test]
    fn only_an_attached_scp_other_than_full_access_is_restrictive() {
        let full = json!({"name": "FullAWSAccess", "aws_managed": true,
            "targets": [{"target_id": "r-ab12", "type": "ROOT"}]});
        let mut m = Misses::default();
        assert_eq!(restrictive_scp_attached(&json!([full]), &mut m), json!(false));
        let unattached = json!({"name": "DenyRegions", "aws_managed": false, "targets": []});
        assert_eq!(
            restrictive_scp_attached(&json!([full, unattached]), &mut m),
            json!(false)
        );
        let attached = json!({"name": "DenyRegions", "aws_managed": false,
            "targets": [{"target_id": "ou-ab12-cdefghij", "type": "ORGANIZATIONAL_UNIT"}]});
        assert_eq!(
            restrictive_scp_attached(&json!([full, attached]), &mut m),
            json!(true)
        );
        assert!(m.gaps.is_empty());
        // Targets unknown and nothing known attached: unknown, with a gap.
        let unknown = json!({"name": "DenyRegions", "aws_managed": false, "targets": null});
        assert!(restrictive_scp_attached(&json!([full, unknown]), &mut m).is_null());
        assert_eq!(m.gaps[0].field, "restrictive_scp_attached");
        assert!(restrictive_scp_attached(&Value::Null, &mut m).is_null());
    }

    #[test]
    fn documents_are_parsed_and_the_default_opt_out_read() {
        let scp = document(
            PolicyKind::ServiceControl,
            r#"{"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}"#,
        )
        .unwrap();
        assert_eq!(scp["Statement"][0]["Action"], json!(["*"]));
        let ai = document(
            PolicyKind::AiOptOut,
            r#"{"services":{"default":{"opt_out_policy":{"@@assign":"optOut"}}}}"#,
        )
        .unwrap();
        assert_eq!(default_opt_out(&ai), json!("optOut"));
        assert!(default_opt_out(&json!({"services": {}})).is_null());
        assert!(document(PolicyKind::Tag, "{not json").is_err());
    }
}
