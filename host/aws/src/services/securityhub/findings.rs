//! Security Hub: the active findings (record state ACTIVE, workflow NEW or
//! NOTIFIED) of this account in this region, imported as findings of the
//! source `securityhub`. A finding of an AWS Foundational Security Best
//! Practices control carries that control as an `aws-fsbp` compliance
//! reference, which is how the store recognizes one that repeats a Stance
//! finding on the same resource. Security Hub not enabled is not an error.

use std::collections::HashMap;

use aws_sdk_securityhub::types::{
    AwsSecurityFinding, AwsSecurityFindingFilters, StringFilter, StringFilterComparison,
};
use serde_json::json;

use crate::toolkit::next_page;
use crate::toolkit::errors::is_not_found;
use crate::toolkit::{Output, Target};
use stance_model::{ComplianceRef, ImportedFinding, Remediation, Severity, Status};

const SERVICE: &str = "securityhub";
const FSBP: &str = "aws-foundational-security-best-practices";

pub(crate) async fn collect(target: &Target) -> Output {
    let c = aws_sdk_securityhub::Client::new(&target.sdk);
    let mut out = Output::default();
    let eq = |v: &str| {
        StringFilter::builder()
            .comparison(StringFilterComparison::Equals)
            .value(v)
            .build()
    };
    let filters = AwsSecurityFindingFilters::builder()
        .record_state(eq("ACTIVE"))
        .workflow_status(eq("NEW"))
        .workflow_status(eq("NOTIFIED"))
        .aws_account_id(eq(&target.account))
        .region(eq(&target.region))
        .build();
    let mut token: Option<String> = None;
    loop {
        let req = c
            .get_findings()
            .filters(filters.clone())
            .max_results(100)
            .set_next_token(token.clone());
        match target.call(req.send()).await {
            Ok(r) => {
                out.findings
                    .extend(r.findings().iter().filter_map(|f| finding(target, f)));
                if !next_page(&mut token, r.next_token()) {
                    break;
                }
            }
            // Security Hub is not enabled in this account and region.
            Err(e) if is_not_found(&e, &["InvalidAccessException"]) => {
                return Output::default();
            }
            Err(e) => {
                out.errors
                    .push(target.sdk_error(SERVICE, "GetFindings", &e, &[]));
                break;
            }
        }
    }
    out
}

/// One ASFF finding as an imported finding; `None` for one that the filters
/// exclude (checked here too: emulators ignore them) or that has no result
/// (compliance status NOT_AVAILABLE).
fn finding(target: &Target, f: &AwsSecurityFinding) -> Option<ImportedFinding> {
    if f.record_state().is_some_and(|s| s.as_str() != "ACTIVE") {
        return None;
    }
    let workflow = workflow_status(f);
    if workflow
        .as_deref()
        .is_some_and(|w| w != "NEW" && w != "NOTIFIED")
    {
        return None;
    }
    let account = f.aws_account_id().unwrap_or(&target.account);
    let region = f.region().unwrap_or(&target.region);
    if account != target.account || region != target.region {
        return None;
    }
    let compliance_status = f.compliance().and_then(|c| c.status()).map(|s| s.as_str());
    let status = match compliance_status {
        Some("PASSED") => Status::Pass,
        Some("NOT_AVAILABLE") => return None,
        // FAILED, WARNING, and findings that are no control check at all.
        _ => Status::Fail,
    };
    let generator = f.generator_id().unwrap_or_default();
    let no_fields = HashMap::new();
    let fields = f.product_fields().unwrap_or(&no_fields);
    let (rule_id, fsbp_control) = control(f, generator, fields);
    let (resource_type, resource_id, resource_region) = resource_of(f, region);
    let recommendation = f.remediation().and_then(|r| r.recommendation());
    let title = f.title().unwrap_or(generator).to_string();
    Some(ImportedFinding {
        source: SERVICE.into(),
        id: f.id().unwrap_or_default().to_string(),
        rule_id,
        severity: severity(f),
        status,
        resource_id,
        resource_type,
        account: account.to_string(),
        region: resource_region,
        message: f
            .description()
            .map_or_else(|| title.clone(), str::to_string),
        title,
        compliance: fsbp_control
            .map(|control| {
                vec![ComplianceRef {
                    framework: "aws-fsbp".into(),
                    version: "1.0.0".into(),
                    control,
                }]
            })
            .unwrap_or_default(),
        remediation: Remediation {
            guidance: recommendation
                .and_then(|r| r.text())
                .unwrap_or_default()
                .to_string(),
            console: None,
            cli: None,
            references: recommendation
                .and_then(|r| r.url())
                .map(|u| vec![u.to_string()])
                .unwrap_or_default(),
        },
        details: json!({
            "generator_id": generator,
            "product_arn": f.product_arn(),
            "product_name": f.product_name().or(fields.get("aws/securityhub/ProductName").map(String::as_str)),
            "types": f.types(),
            "compliance_status": compliance_status,
            "workflow_status": workflow,
        }),
        first_seen: f.first_observed_at().or(f.created_at()).map(rfc3339),
        last_seen: f.last_observed_at().or(f.updated_at()).map(rfc3339),
    })
}

/// The finding's workflow status (`NEW`, `NOTIFIED`, …), from the
/// deprecated WorkflowState for findings without Workflow.
fn workflow_status(f: &AwsSecurityFinding) -> Option<String> {
    f.workflow()
        .and_then(|w| w.status())
        .map(|s| s.as_str().to_string())
        .or_else(|| {
            f.workflow_state().map(|s| {
                match s.as_str() {
                    "ASSIGNED" | "IN_PROGRESS" => "NOTIFIED",
                    "DEFERRED" => "SUPPRESSED",
                    other => other,
                }
                .to_string()
            })
        })
}

/// The Stance type, id and region of the finding's (first) resource.
fn resource_of(f: &AwsSecurityFinding, region: &str) -> (String, String, String) {
    let resource = f.resources().first();
    let resource_type = resource
        .and_then(|r| r.r#type())
        .map_or_else(|| "other".to_string(), resource_type);
    let resource_id = resource
        .and_then(|r| r.id())
        .unwrap_or(f.id().unwrap_or_default())
        .to_string();
    let resource_region = resource
        .and_then(|r| r.region())
        .unwrap_or(region)
        .to_string();
    (resource_type, resource_id, resource_region)
}

/// The rule id of a finding and, for an FSBP control, the control id.
///
/// Consolidated control findings carry `Compliance.SecurityControlId`;
/// standard-specific ones (the older form) carry the control in
/// `ProductFields.ControlId` and a generator id such as
/// `aws-foundational-security-best-practices/v/1.0.0/S3.8`.
fn control(
    f: &AwsSecurityFinding,
    generator: &str,
    fields: &HashMap<String, String>,
) -> (String, Option<String>) {
    let compliance = f.compliance();
    let is_fsbp = compliance.is_some_and(|c| {
        c.associated_standards()
            .iter()
            .any(|s| s.standards_id().is_some_and(|id| id.contains(FSBP)))
    }) || ["StandardsArn", "StandardsGuideArn", "StandardsControlArn"]
        .iter()
        .any(|k| fields.get(*k).is_some_and(|v| v.contains(FSBP)))
        || generator.contains(FSBP);
    let security_control = compliance
        .and_then(|c| c.security_control_id())
        .filter(|c| !c.is_empty());
    let from_fields = fields
        .get("ControlId")
        .map(String::as_str)
        .filter(|c| !c.is_empty());
    let from_generator = generator
        .strip_prefix("security-control/")
        .or_else(|| {
            generator
                .contains(FSBP)
                .then(|| generator.rsplit('/').next())
                .flatten()
        })
        .filter(|c| !c.is_empty());
    let control = security_control
        .or(if is_fsbp {
            from_fields.or(from_generator)
        } else {
            None
        })
        .map(str::to_string);
    let rule_id = control.clone().unwrap_or_else(|| generator.to_string());
    (rule_id, control.filter(|_| is_fsbp))
}

fn severity(f: &AwsSecurityFinding) -> Severity {
    let s = f.severity();
    match s.and_then(|s| s.label()).map(|l| l.as_str()) {
        Some("CRITICAL") => Severity::Critical,
        Some("HIGH") => Severity::High,
        Some("MEDIUM") => Severity::Medium,
        Some("LOW") => Severity::Low,
        Some("INFORMATIONAL") => Severity::Info,
        _ => match s.and_then(|s| s.normalized()).unwrap_or(0) {
            90.. => Severity::Critical,
            70..=89 => Severity::High,
            40..=69 => Severity::Medium,
            1..=39 => Severity::Low,
            _ => Severity::Info,
        },
    }
}

/// Stance's resource type for an ASFF resource type (`AwsS3Bucket` →
/// `aws_s3_bucket`); types without a Stance counterpart become snake case.
fn resource_type(asff: &str) -> String {
    let known = match asff {
        "AwsS3Bucket" => "aws_s3_bucket",
        "AwsS3AccountPublicAccessBlock" => "aws_s3_account_public_access_block",
        "AwsEc2Instance" => "aws_ec2_instance",
        "AwsEc2SecurityGroup" => "aws_ec2_security_group",
        "AwsEc2NetworkAcl" => "aws_ec2_network_acl",
        "AwsEc2Volume" => "aws_ec2_volume",
        "AwsEc2Vpc" => "aws_ec2_vpc",
        "AwsIamUser" => "aws_iam_user",
        "AwsIamRole" => "aws_iam_role",
        "AwsIamPolicy" => "aws_iam_policy",
        "AwsRdsDbInstance" => "aws_rds_db_instance",
        "AwsRdsDbSnapshot" => "aws_rds_db_snapshot",
        "AwsCloudTrailTrail" => "aws_cloudtrail_trail",
        "AwsKmsKey" => "aws_kms_key",
        "AwsLambdaFunction" => "aws_lambda_function",
        "AwsLogsLogGroup" => "aws_logs_log_group",
        "AwsCloudWatchAlarm" => "aws_cloudwatch_alarm",
        "AwsEcrContainerImage" => "aws_ecr_image",
        "AwsAccount" => "aws_account",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    let mut out = String::new();
    let mut prev_lower = false;
    for ch in asff.chars() {
        if ch.is_ascii_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
            prev_lower = false;
        } else if ch.is_ascii_alphanumeric() {
            out.push(ch);
            prev_lower = true;
        } else {
            out.push('_');
            prev_lower = false;
        }
    }
    out
}

/// An ASFF time (ISO 8601) as RFC 3339 in UTC, seconds.
fn rfc3339(s: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(s).map_or_else(
        |_| s.to_string(),
        |t| {
            t.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_types() {
        assert_eq!(resource_type("AwsS3Bucket"), "aws_s3_bucket");
        assert_eq!(resource_type("AwsEc2Instance"), "aws_ec2_instance");
        assert_eq!(
            resource_type("AwsElbv2LoadBalancer"),
            "aws_elbv2_load_balancer"
        );
        assert_eq!(rfc3339("2026-11-27T04:32:30.076Z"), "2026-11-27T04:32:30Z");
    }
}
