//! Findings in the AWS Security Finding Format (ASFF, `SchemaVersion`
//! 2018-10-08): one JSON document per finding, as Security Hub's
//! `BatchImportFindings` takes them under a custom integration's product
//! (`arn:PARTITION:securityhub:REGION:ACCOUNT:product/ACCOUNT/default`).
//! Owns the mapping (types, severities, compliance, workflow and record
//! state from lifecycle and mutes) and the documented limits every string
//! and list is cut to. Never sends anything (`notify::securityhub` does)
//! and never reads the store beyond the rows it is handed.
//!
//! Limits, from the AWS Security Hub API reference (`AwsSecurityFinding`,
//! `Recommendation`, `Note`, `Compliance`, `Resource`):
//! `Id` and `GeneratorId` 1–512 characters, `Title` 1–256, `Description`
//! 1–1024, `Remediation.Recommendation.Text` 1–512, `Note.Text` 1–512,
//! `ProductName` and `CompanyName` 1–128, `Types` at most 50 items,
//! `ProductFields` at most 50 pairs (key up to 128 characters, value up to
//! 2048), `Compliance.RelatedRequirements` at most 32 items, `Resources`
//! 1–32 items. Resource `Tags` (a map) are cut to AWS's own tag limits (50
//! tags, keys up to 128 characters, values up to 256). Every cut falls on a
//! character boundary and ends in `…`.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::{Map, Value, json};

use crate::model::{ComplianceRef, Severity, Status};
use crate::store::FindingRow;

/// The ASFF schema version Stance writes.
pub const SCHEMA_VERSION: &str = "2018-10-08";
/// `Id` and `GeneratorId`: at most 512 characters.
pub const MAX_ID: usize = 512;
/// `Title`: at most 256 characters.
pub const MAX_TITLE: usize = 256;
/// `Description`: at most 1024 characters.
pub const MAX_DESCRIPTION: usize = 1024;
/// `Remediation.Recommendation.Text` and `Note.Text`: at most 512 characters.
pub const MAX_RECOMMENDATION: usize = 512;
/// `Note.Text`: at most 512 characters.
pub const MAX_NOTE: usize = 512;
/// `ProductFields`: at most 50 pairs.
pub const MAX_PRODUCT_FIELDS: usize = 50;
/// A `ProductFields` key: at most 128 characters.
pub const MAX_PRODUCT_FIELD_KEY: usize = 128;
/// A `ProductFields` value: at most 2048 characters.
pub const MAX_PRODUCT_FIELD_VALUE: usize = 2048;
/// `Compliance.RelatedRequirements`: at most 32 items.
pub const MAX_REQUIREMENTS: usize = 32;
/// Resource tags: 50 tags, keys up to 128 characters, values up to 256.
pub const MAX_TAGS: usize = 50;
const MAX_TAG_KEY: usize = 128;
const MAX_TAG_VALUE: usize = 256;

/// The generic finding type of a Stance rule with no standard mapped.
pub const GENERIC_TYPE: &str = "Software and Configuration Checks/AWS Security Best Practices";

/// Where the findings go: the product's region and account (the caller's,
/// for a custom integration), and when the document is written.
#[derive(Debug, Clone)]
pub struct Target {
    /// The Security Hub region of the product ARN; `None` takes each
    /// finding's own region (us-east-1 for global resources).
    pub region: Option<String>,
    /// The account of the product ARN; `None` takes each finding's account.
    pub account: Option<String>,
}

/// `Compliance.Status`, `Workflow.Status` and `RecordState` of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State {
    /// PASSED, FAILED, WARNING or NOT_AVAILABLE.
    pub compliance: &'static str,
    /// NEW, NOTIFIED, SUPPRESSED or RESOLVED.
    pub workflow: &'static str,
    /// ACTIVE or ARCHIVED.
    pub record: &'static str,
}

/// The state of a finding from its status, lifecycle and mute: a failure is
/// ACTIVE and NEW (SUPPRESSED when muted), an error ACTIVE and
/// NOT_AVAILABLE, a pass (resolved or never failing) ARCHIVED and RESOLVED.
/// Stance emits no WARNING.
pub fn state(row: &FindingRow) -> State {
    match row.status {
        Status::Fail => State {
            compliance: "FAILED",
            workflow: if row.muted_by.is_some() {
                "SUPPRESSED"
            } else {
                "NEW"
            },
            record: "ACTIVE",
        },
        Status::Error => State {
            compliance: "NOT_AVAILABLE",
            workflow: "NEW",
            record: "ACTIVE",
        },
        _ => RESOLVED,
    }
}

/// A finding that no longer fails: archived, resolved, passed.
pub const RESOLVED: State = State {
    compliance: "PASSED",
    workflow: "RESOLVED",
    record: "ARCHIVED",
};

/// Is this row one of Stance's own findings? Imported ones (Security Hub,
/// Inspector2) never go back out as ASFF.
pub fn exportable(row: &FindingRow) -> bool {
    row.source == "stance"
}

/// `text` cut to at most `max` characters, on a character boundary, ending
/// in `…` when cut.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A required string: cut, and never empty (ASFF's `.*\S.*`).
fn required(text: &str, fallback: &str, max: usize) -> String {
    if text.trim().is_empty() {
        cut(fallback, max)
    } else {
        cut(text, max)
    }
}

/// The stable finding id: Stance's fingerprint of (rule, resource).
pub fn finding_id(fingerprint: &str) -> String {
    cut(&format!("stance/{fingerprint}"), MAX_ID)
}

/// The ARN partition of a resource: from its ARN, else from the region.
pub fn partition(resource_id: &str, region: &str) -> String {
    if let Some(p) = resource_id
        .strip_prefix("arn:")
        .and_then(|rest| rest.split(':').next())
        .filter(|p| !p.is_empty())
    {
        return p.to_string();
    }
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
    .to_string()
}

/// The region a finding is filed under: the resource's, or us-east-1 for a
/// global resource (IAM, S3 account settings).
fn home_region(region: &str) -> &str {
    if region.is_empty() || region == "global" {
        "us-east-1"
    } else {
        region
    }
}

/// The product ARN of a custom integration in `region` for `account`.
pub fn product_arn(partition: &str, region: &str, account: &str) -> String {
    format!("arn:{partition}:securityhub:{region}:{account}:product/{account}/default")
}

/// The ASFF resource type of a Stance resource type; `Other` when ASFF has none.
pub fn resource_type(stance_type: &str) -> &'static str {
    match stance_type {
        "aws_s3_bucket" => "AwsS3Bucket",
        "aws_s3_account_public_access_block" => "AwsS3AccountPublicAccessBlock",
        "aws_iam_user" => "AwsIamUser",
        "aws_iam_role" => "AwsIamRole",
        "aws_iam_policy" => "AwsIamPolicy",
        "aws_iam_account" | "aws_account_context" | "aws_organizations_account" => "AwsAccount",
        "aws_ec2_instance" => "AwsEc2Instance",
        "aws_ec2_security_group" => "AwsEc2SecurityGroup",
        "aws_ec2_network_acl" => "AwsEc2NetworkAcl",
        "aws_ec2_volume" => "AwsEc2Volume",
        "aws_ec2_vpc" => "AwsEc2Vpc",
        "aws_kms_key" => "AwsKmsKey",
        "aws_lambda_function" => "AwsLambdaFunction",
        "aws_rds_db_instance" => "AwsRdsDbInstance",
        "aws_rds_db_snapshot" => "AwsRdsDbSnapshot",
        "aws_cloudtrail_trail" => "AwsCloudTrailTrail",
        "aws_cloudwatch_alarm" => "AwsCloudWatchAlarm",
        "aws_dynamodb_table" => "AwsDynamoDbTable",
        "aws_sns_topic" => "AwsSnsTopic",
        "aws_sqs_queue" => "AwsSqsQueue",
        "aws_secretsmanager_secret" => "AwsSecretsManagerSecret",
        "aws_acm_certificate" => "AwsCertificateManagerCertificate",
        "aws_elbv2_load_balancer" => "AwsElbv2LoadBalancer",
        "aws_ecr_repository" => "AwsEcrRepository",
        "aws_eks_cluster" => "AwsEksCluster",
        "aws_efs_access_point" => "AwsEfsAccessPoint",
        _ => "Other",
    }
}

/// The ASFF finding types of a rule's compliance mappings.
pub fn types(compliance: &[ComplianceRef]) -> Vec<String> {
    const STANDARDS: &str = "Software and Configuration Checks/Industry and Regulatory Standards";
    let mut out: Vec<String> = Vec::new();
    for c in compliance {
        let name = match c.framework.as_str() {
            "cis-aws" => "CIS AWS Foundations Benchmark",
            "aws-fsbp" => "AWS-Foundational-Security-Best-Practices",
            "pci-dss" => "PCI-DSS",
            "nist-800-53" => "NIST-800-53",
            "soc2" => "SOC2",
            _ => continue,
        };
        let t = format!("{STANDARDS}/{name}");
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.is_empty() {
        out.push(GENERIC_TYPE.to_string());
    }
    out
}

/// `Compliance.RelatedRequirements`: `framework version/control`, at most 32.
fn requirements(compliance: &[ComplianceRef]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in compliance {
        let r = match c.version.as_str() {
            "" => format!("{}/{}", c.framework, c.control),
            v => format!("{} {v}/{}", c.framework, c.control),
        };
        if !out.contains(&r) {
            out.push(r);
        }
    }
    out.truncate(MAX_REQUIREMENTS);
    out
}

/// `Severity.Label` of a Stance severity.
pub fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::Info => "INFORMATIONAL",
        Severity::Low => "LOW",
        Severity::Medium => "MEDIUM",
        Severity::High => "HIGH",
        Severity::Critical => "CRITICAL",
    }
}

/// The document of one finding, as of the scan that finished at `scanned_at`.
pub fn document(
    row: &FindingRow,
    target: &Target,
    tags: &BTreeMap<String, String>,
    scanned_at: &str,
) -> Value {
    let region = target
        .region
        .clone()
        .unwrap_or_else(|| home_region(&row.resource.region).to_string());
    let account = target
        .account
        .clone()
        .unwrap_or_else(|| row.resource.account.clone());
    let partition = partition(&row.resource.id, &region);
    let state = state(row);
    let created = row.first_seen.as_deref().unwrap_or(scanned_at);
    let severity = json!({
        "Label": severity_label(row.severity),
        "Original": row.severity.as_str(),
    });
    let types = types(&row.compliance);
    let mut doc = json!({
        "SchemaVersion": SCHEMA_VERSION,
        "Id": finding_id(&row.fingerprint),
        "ProductArn": product_arn(&partition, &region, &account),
        "ProductName": "Stance",
        "CompanyName": "Stance",
        "GeneratorId": required(&row.rule_id, "stance", MAX_ID),
        "AwsAccountId": row.resource.account,
        "Types": types,
        "CreatedAt": created,
        "UpdatedAt": scanned_at,
        "FirstObservedAt": created,
        "LastObservedAt": row.last_seen.as_deref().unwrap_or(scanned_at),
        "Severity": severity,
        "Title": title(row),
        "Description": required(&row.message, &row.title, MAX_DESCRIPTION),
        "ProductFields": product_fields(row),
        "Resources": [resource(row, &partition, &region, tags)],
        "Compliance": compliance(row, state),
        "Workflow": {"Status": state.workflow},
        "RecordState": state.record,
        "FindingProviderFields": {"Severity": severity, "Types": types},
    });
    if let Some(r) = remediation(row) {
        doc["Remediation"] = r;
    }
    if let Some(m) = &row.muted_by {
        doc["Note"] = json!({
            "Text": cut(&mute_note(m), MAX_NOTE),
            "UpdatedBy": "stance",
            "UpdatedAt": scanned_at,
        });
    }
    doc
}

/// The document of a finding exported before that no longer fails: the
/// same document, archived and resolved, updated at `scanned_at`.
pub fn archived(previous: &Value, scanned_at: &str) -> Value {
    let mut doc = previous.clone();
    doc["RecordState"] = json!(RESOLVED.record);
    doc["Workflow"] = json!({"Status": RESOLVED.workflow});
    doc["Compliance"]["Status"] = json!(RESOLVED.compliance);
    doc["UpdatedAt"] = json!(scanned_at);
    if let Some(fields) = doc["ProductFields"].as_object_mut() {
        fields.insert("stance/Lifecycle".into(), json!("resolved"));
    }
    if let Some(doc) = doc.as_object_mut() {
        doc.remove("Note");
    }
    doc
}

fn title(row: &FindingRow) -> String {
    let name = if row.resource.name.is_empty() {
        &row.resource.id
    } else {
        &row.resource.name
    };
    required(&format!("{}: {name}", row.title), &row.rule_id, MAX_TITLE)
}

fn mute_note(m: &crate::model::MuteRef) -> String {
    let mut text = format!("Muted by Stance mute {}: {}", m.id, m.reason);
    if let Some(owner) = &m.owner {
        text.push_str(&format!(" (owner {owner})"));
    }
    match &m.expires {
        Some(day) => text.push_str(&format!("; expires {day}")),
        None => text.push_str("; permanent"),
    }
    text
}

fn product_fields(row: &FindingRow) -> Value {
    let mut fields = Map::new();
    let mut put = |key: &str, value: &str| {
        if !value.is_empty() && fields.len() < MAX_PRODUCT_FIELDS {
            fields.insert(
                cut(key, MAX_PRODUCT_FIELD_KEY),
                json!(cut(value, MAX_PRODUCT_FIELD_VALUE)),
            );
        }
    };
    put("ProviderName", "Stance");
    put("ProviderVersion", env!("CARGO_PKG_VERSION"));
    put("stance/RuleId", &row.rule_id);
    put("stance/Plugin", &row.plugin);
    put("stance/PluginVersion", &row.plugin_version);
    put("stance/Fingerprint", &row.fingerprint);
    put("stance/ScanId", &row.scan_id.to_string());
    put("stance/Status", row.status.as_str());
    put("stance/Lifecycle", row.lifecycle.as_deref().unwrap_or(""));
    put("stance/ResourceType", &row.resource.resource_type);
    if let Some(m) = &row.muted_by {
        put("stance/MutedBy", &m.id);
        put("stance/MuteReason", &m.reason);
        put("stance/MuteExpires", m.expires.as_deref().unwrap_or(""));
    }
    Value::Object(fields)
}

fn resource(
    row: &FindingRow,
    partition: &str,
    region: &str,
    tags: &BTreeMap<String, String>,
) -> Value {
    let resource_region = match row.resource.region.as_str() {
        "" | "global" => region,
        r => r,
    };
    let mut r = json!({
        "Type": resource_type(&row.resource.resource_type),
        "Id": required(&row.resource.id, &row.fingerprint, MAX_ID),
        "Partition": partition,
        "Region": resource_region,
    });
    let tags: Map<String, Value> = tags
        .iter()
        .filter(|(k, _)| !k.trim().is_empty())
        .take(MAX_TAGS)
        .map(|(k, v)| (cut(k, MAX_TAG_KEY), json!(cut(v, MAX_TAG_VALUE))))
        .collect();
    if !tags.is_empty() {
        r["Tags"] = Value::Object(tags);
    }
    r
}

fn compliance(row: &FindingRow, state: State) -> Value {
    let mut c = json!({"Status": state.compliance});
    let related = requirements(&row.compliance);
    if !related.is_empty() {
        c["RelatedRequirements"] = json!(related);
    }
    c
}

fn remediation(row: &FindingRow) -> Option<Value> {
    let r = &row.remediation;
    let text = r.guidance.trim();
    let url = r.references.iter().find(|u| u.starts_with("https://"));
    if text.is_empty() && url.is_none() {
        return None;
    }
    let mut rec = Map::new();
    if !text.is_empty() {
        rec.insert("Text".into(), json!(cut(text, MAX_RECOMMENDATION)));
    }
    if let Some(u) = url {
        rec.insert("Url".into(), json!(u));
    }
    Some(json!({"Recommendation": rec}))
}

/// Write `rows` (Stance's own; imported ones are left out) as one JSON
/// array of ASFF documents, the shape `aws securityhub batch-import-findings
/// --findings file://…` takes. `tags` are the resources' tags by id.
/// Returns how many documents were written and how many imported findings
/// were left out.
pub fn write(
    out: &mut dyn Write,
    rows: &[FindingRow],
    target: &Target,
    tags: &BTreeMap<String, BTreeMap<String, String>>,
    scanned_at: &str,
) -> io::Result<(usize, usize)> {
    let none = BTreeMap::new();
    let docs: Vec<Value> = rows
        .iter()
        .filter(|r| exportable(r))
        .map(|r| {
            document(
                r,
                target,
                tags.get(&r.resource.id).unwrap_or(&none),
                scanned_at,
            )
        })
        .collect();
    super::write_json(out, &docs)?;
    Ok((docs.len(), rows.len() - docs.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MuteRef, Remediation};
    use crate::store::ResourceRef;

    pub(crate) fn row(status: Status) -> FindingRow {
        FindingRow {
            scan_id: 7,
            fingerprint: "ab12cd34".into(),
            rule_id: "aws-s3-bucket-versioning-enabled".into(),
            title: "S3 buckets have versioning enabled".into(),
            plugin: "yaml-policy".into(),
            plugin_version: "0.1.0".into(),
            severity: Severity::Medium,
            status,
            lifecycle: Some("new".into()),
            resource: ResourceRef {
                id: "arn:aws:s3:::acme-logs".into(),
                resource_type: "aws_s3_bucket".into(),
                name: "acme-logs".into(),
                account: "123456789012".into(),
                region: "eu-west-1".into(),
            },
            message: "versioning is Suspended".into(),
            evidence: Vec::new(),
            compliance: vec![
                ComplianceRef {
                    framework: "cis-aws".into(),
                    version: "5.0.0".into(),
                    control: "2.1.3".into(),
                },
                ComplianceRef {
                    framework: "aws-fsbp".into(),
                    version: "".into(),
                    control: "S3.14".into(),
                },
            ],
            remediation: Remediation {
                guidance: "Turn versioning on.".into(),
                references: vec![
                    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/Versioning.html".into(),
                ],
                ..Remediation::default()
            },
            first_seen: Some("2026-11-01T00:00:00Z".into()),
            last_seen: Some("2026-11-20T09:30:00Z".into()),
            source: "stance".into(),
            duplicate_of: None,
            details: None,
            muted_by: None,
        }
    }

    fn target() -> Target {
        Target {
            region: Some("us-east-1".into()),
            account: Some("123456789012".into()),
        }
    }

    fn doc(r: &FindingRow) -> Value {
        document(r, &target(), &BTreeMap::new(), "2026-11-20T09:30:00Z")
    }

    #[test]
    fn a_failure_has_every_required_attribute() {
        let d = doc(&row(Status::Fail));
        for key in [
            "AwsAccountId",
            "CreatedAt",
            "Description",
            "GeneratorId",
            "Id",
            "ProductArn",
            "Resources",
            "SchemaVersion",
            "Severity",
            "Title",
            "Types",
            "UpdatedAt",
        ] {
            assert!(!d[key].is_null(), "{key} missing: {d:#}");
        }
        assert_eq!(d["SchemaVersion"], "2018-10-08");
        assert_eq!(d["GeneratorId"], "aws-s3-bucket-versioning-enabled");
        assert_eq!(d["Id"], "stance/ab12cd34");
        assert_eq!(
            d["ProductArn"],
            "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default"
        );
        assert_eq!(d["Severity"]["Label"], "MEDIUM");
        assert_eq!(d["Severity"]["Original"], "medium");
        assert_eq!(d["FindingProviderFields"]["Severity"], d["Severity"]);
        let res = &d["Resources"][0];
        assert_eq!(res["Type"], "AwsS3Bucket");
        assert_eq!(res["Id"], "arn:aws:s3:::acme-logs");
        assert_eq!(res["Partition"], "aws");
        assert_eq!(res["Region"], "eu-west-1");
        assert_eq!(d["Compliance"]["Status"], "FAILED");
        assert_eq!(
            d["Compliance"]["RelatedRequirements"],
            json!(["cis-aws 5.0.0/2.1.3", "aws-fsbp/S3.14"])
        );
        assert_eq!(
            d["Types"][0],
            "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark"
        );
        assert_eq!(d["Workflow"]["Status"], "NEW");
        assert_eq!(d["RecordState"], "ACTIVE");
        assert_eq!(
            d["Remediation"]["Recommendation"]["Text"],
            "Turn versioning on."
        );
        assert_eq!(d["ProductFields"]["stance/Lifecycle"], "new");
        assert_eq!(d["CreatedAt"], "2026-11-01T00:00:00Z");
        assert!(d.get("Note").is_none());
    }

    #[test]
    fn a_muted_failure_is_suppressed_with_the_reason_in_a_note() {
        let mut r = row(Status::Fail);
        r.muted_by = Some(MuteRef {
            id: "m1".into(),
            reason: "scratch buckets are disposable (RISK-142)".into(),
            owner: Some("data-platform".into()),
            expires: Some("2027-03-31".into()),
        });
        let d = doc(&r);
        assert_eq!(d["Workflow"]["Status"], "SUPPRESSED");
        assert_eq!(d["RecordState"], "ACTIVE");
        assert_eq!(d["Compliance"]["Status"], "FAILED");
        let note = d["Note"]["Text"].as_str().unwrap();
        assert!(
            note.contains("RISK-142") && note.contains("2027-03-31"),
            "{note}"
        );
        assert_eq!(d["ProductFields"]["stance/MutedBy"], "m1");
    }

    #[test]
    fn passes_errors_and_archived_findings_map_to_their_states() {
        let pass = doc(&row(Status::Pass));
        assert_eq!(
            (
                &pass["RecordState"],
                &pass["Workflow"]["Status"],
                &pass["Compliance"]["Status"]
            ),
            (&json!("ARCHIVED"), &json!("RESOLVED"), &json!("PASSED"))
        );
        let error = doc(&row(Status::Error));
        assert_eq!(error["Compliance"]["Status"], "NOT_AVAILABLE");
        assert_eq!(error["RecordState"], "ACTIVE");
        let gone = archived(&doc(&row(Status::Fail)), "2026-11-21T00:00:00Z");
        assert_eq!(gone["RecordState"], "ARCHIVED");
        assert_eq!(gone["Workflow"]["Status"], "RESOLVED");
        assert_eq!(gone["Compliance"]["Status"], "PASSED");
        assert_eq!(gone["UpdatedAt"], "2026-11-21T00:00:00Z");
        assert_eq!(gone["Id"], "stance/ab12cd34");
    }

    #[test]
    fn long_texts_are_cut_to_the_documented_limits_on_char_boundaries() {
        let mut r = row(Status::Fail);
        r.message = "é".repeat(5_000);
        r.title = "t".repeat(400);
        r.rule_id = "r".repeat(600);
        r.remediation.guidance = "ü".repeat(700);
        r.compliance = (0..40)
            .map(|i| ComplianceRef {
                framework: "nist-800-53".into(),
                version: "5".into(),
                control: format!("AC-{i}"),
            })
            .collect();
        let d = doc(&r);
        let chars = |v: &Value| v.as_str().unwrap().chars().count();
        assert_eq!(chars(&d["Description"]), 1024);
        assert!(d["Description"].as_str().unwrap().ends_with('…'));
        assert_eq!(chars(&d["Title"]), 256);
        assert_eq!(chars(&d["GeneratorId"]), 512);
        assert_eq!(chars(&d["Remediation"]["Recommendation"]["Text"]), 512);
        assert_eq!(
            d["Compliance"]["RelatedRequirements"]
                .as_array()
                .unwrap()
                .len(),
            32
        );
        assert!(chars(&d["ProductFields"]["stance/RuleId"]) <= 2048);
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("abcd", 3), "ab…");
    }

    #[test]
    fn empty_texts_fall_back_and_global_resources_take_the_target_region() {
        let mut r = row(Status::Fail);
        r.message = "  ".into();
        r.resource.region = "global".into();
        r.resource.resource_type = "aws_made_up".into();
        r.compliance.clear();
        let d = doc(&r);
        assert_eq!(d["Description"], "S3 buckets have versioning enabled");
        assert_eq!(d["Resources"][0]["Region"], "us-east-1");
        assert_eq!(d["Resources"][0]["Type"], "Other");
        assert_eq!(d["Types"], json!([GENERIC_TYPE]));
        assert!(d["Compliance"].get("RelatedRequirements").is_none());
        let own = document(
            &r,
            &Target {
                region: None,
                account: None,
            },
            &BTreeMap::new(),
            "2026-11-20T09:30:00Z",
        );
        assert!(
            own["ProductArn"]
                .as_str()
                .unwrap()
                .contains(":us-east-1:123456789012:")
        );
        assert_eq!(partition("arn:aws-cn:s3:::b", "cn-north-1"), "aws-cn");
        assert_eq!(partition("i-123", "us-gov-west-1"), "aws-us-gov");
    }

    #[test]
    fn imported_findings_are_left_out_and_tags_are_cut() {
        let mut imported = row(Status::Fail);
        imported.source = "securityhub".into();
        let ours = row(Status::Fail);
        let mut tags = BTreeMap::new();
        let mut bucket = BTreeMap::new();
        for i in 0..60 {
            bucket.insert(format!("k{i:02}"), "v".repeat(300));
        }
        tags.insert(ours.resource.id.clone(), bucket);
        let mut out = Vec::new();
        let (written, left) = write(
            &mut out,
            &[ours, imported],
            &target(),
            &tags,
            "2026-11-20T09:30:00Z",
        )
        .unwrap();
        assert_eq!((written, left), (1, 1));
        let v: Value = serde_json::from_slice(&out).unwrap();
        let t = v[0]["Resources"][0]["Tags"].as_object().unwrap();
        assert_eq!(t.len(), 50);
        assert!(
            t.values()
                .all(|v| v.as_str().unwrap().chars().count() == 256)
        );
    }
}
