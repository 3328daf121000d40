//! Inspector2: the active findings of this account in this region (package
//! vulnerabilities: CVE, CVSS, package and versions; also network
//! reachability and code findings), imported as failing findings of the
//! source `inspector2`. Inspector2 not enabled for the account is not an
//! error. Never changes Inspector2's settings and makes no assets.
//!
//! ListFindings is called with one fixed argument set (the ACTIVE filter,
//! 100 per page) and then only with the next token: emulators answer a
//! prepared result per argument set (tests/aws/MOTO.md).

use aws_sdk_inspector2::types::{
    AccountState, FilterCriteria, Finding, StringComparison, StringFilter,
};
use serde_json::{Value, json};

use crate::toolkit::next_page;
use crate::toolkit::{Output, Target, doc};
use stance_model::{ImportedFinding, Remediation, Severity, Status};

const SERVICE: &str = "inspector2";

pub(crate) async fn collect(target: &Target) -> Output {
    let c = aws_sdk_inspector2::Client::new(&target.sdk);
    let mut out = Output::default();
    if enabled(target, &c).await == Some(false) {
        return out;
    }
    let active = match StringFilter::builder()
        .comparison(StringComparison::Equals)
        .value("ACTIVE")
        .build()
    {
        Ok(f) => f,
        Err(e) => {
            out.errors.push(target.error(
                SERVICE,
                "ListFindings",
                "other",
                format!("the request could not be built: {e}"),
                &[],
            ));
            return out;
        }
    };
    let criteria = FilterCriteria::builder().finding_status(active).build();
    let mut token: Option<String> = None;
    loop {
        let req = c
            .list_findings()
            .filter_criteria(criteria.clone())
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
            Err(e) => {
                let (kind, message) = crate::toolkit::errors::classify(&e);
                if kind == "access-denied" && message.to_ascii_lowercase().contains("not enabled") {
                    // "…account is not enabled for Inspector": off, not a failure.
                    return Output::default();
                }
                out.errors
                    .push(target.error(SERVICE, "ListFindings", kind, message, &[]));
                break;
            }
        }
    }
    out
}

/// Is Inspector2 on for this account here? `None` when the answer does not
/// tell (then ListFindings decides).
async fn enabled(target: &Target, c: &aws_sdk_inspector2::Client) -> Option<bool> {
    let r = target
        .call(
            c.batch_get_account_status()
                .account_ids(&target.account)
                .send(),
        )
        .await
        .ok()?;
    if r.failed_accounts()
        .iter()
        .any(|a| a.account_id() == target.account)
    {
        return None;
    }
    // An account never enabled is listed as DISABLED (AWS) or not at all (moto).
    Some(
        r.accounts()
            .iter()
            .any(|a| a.account_id() == target.account && account_on(a)),
    )
}

fn account_on(a: &AccountState) -> bool {
    let on = |s: &aws_sdk_inspector2::types::State| {
        !matches!(s.status().as_str(), "DISABLED" | "SUSPENDED")
    };
    let resources = a.resource_state();
    a.state().is_some_and(on)
        || [
            resources.and_then(|r| r.ec2()),
            resources.and_then(|r| r.ecr()),
            resources.and_then(|r| r.lambda()),
            resources.and_then(|r| r.lambda_code()),
        ]
        .into_iter()
        .flatten()
        .any(|s| s.status().as_str() == "ENABLED")
}

/// One Inspector2 finding as an imported finding; `None` for one that is not
/// active or not this account's (checked here too: emulators ignore filters).
fn finding(target: &Target, f: &Finding) -> Option<ImportedFinding> {
    if f.status().as_str() != "ACTIVE" || f.aws_account_id() != target.account {
        return None;
    }
    let vuln = f.package_vulnerability_details();
    let (region, resource_type, resource_id) = resource_of(target, f);
    let title = f.title().unwrap_or(f.description()).to_string();
    let rule_id = match vuln {
        Some(v) if !v.vulnerability_id().is_empty() => v.vulnerability_id().to_string(),
        _ => title.clone(),
    };
    let cvss = cvss(f);
    Some(ImportedFinding {
        source: SERVICE.into(),
        id: f.finding_arn().to_string(),
        rule_id,
        title,
        severity: severity(f.severity().as_str(), cvss.as_ref().map(|c| c.0)),
        status: Status::Fail,
        resource_id,
        resource_type,
        account: f.aws_account_id().to_string(),
        region,
        message: f.description().to_string(),
        compliance: Vec::new(),
        remediation: remediation(f),
        details: details(f, cvss.as_ref()),
        first_seen: time(f.first_observed_at()),
        last_seen: time(f.last_observed_at()),
    })
}

/// The region, Stance type and id of the finding's (first) resource.
fn resource_of(target: &Target, f: &Finding) -> (String, String, String) {
    let resource = f.resources().first();
    let region = resource
        .and_then(|r| r.region())
        .unwrap_or(&target.region)
        .to_string();
    let (resource_type, resource_id) = match resource {
        Some(r) => resource_ref(
            r.r#type().as_str(),
            r.id(),
            r.partition()
                .unwrap_or(crate::toolkit::sdk::partition(&region)),
            &region,
            f.aws_account_id(),
        ),
        None => ("other".to_string(), f.finding_arn().to_string()),
    };
    (region, resource_type, resource_id)
}

/// The CVSS score and vector: a v3 or v4 score, the vendor's own first,
/// else the first score given, else Inspector's adjusted score.
fn cvss(f: &Finding) -> Option<(f64, String)> {
    let scored = f.package_vulnerability_details().and_then(|v| {
        let scores = v.cvss();
        scores
            .iter()
            .filter(|s| s.version().starts_with('3') || s.version().starts_with('4'))
            .max_by_key(|s| (s.source() == v.source(), s.version().to_string()))
            .or_else(|| scores.first())
            .map(|s| (s.base_score(), s.scoring_vector().to_string()))
    });
    scored.or_else(|| {
        f.inspector_score_details()
            .and_then(|d| d.adjusted_cvss())
            .map(|a| (a.score(), a.scoring_vector().to_string()))
    })
}

/// The finding's details: CVE, CVSS, the (first) vulnerable package with its
/// installed and fixed versions, whether a fix or an exploit is known, and
/// every package when there are several.
fn details(f: &Finding, cvss: Option<&(f64, String)>) -> Value {
    let vuln = f.package_vulnerability_details();
    let packages = vuln.map(|v| v.vulnerable_packages()).unwrap_or_default();
    let package = packages.first();
    let fixed = package
        .and_then(|p| p.fixed_in_version())
        .filter(|v| !v.is_empty() && *v != "NotAvailable");
    let fix_available = match f.fix_available().map(|x| x.as_str()) {
        Some("YES") => json!(true),
        Some("NO") => json!(false),
        Some(_) => json!(fixed.is_some()),
        None => Value::Null,
    };
    let exploit_available = match f.exploit_available().map(|x| x.as_str()) {
        Some("YES") => json!(true),
        Some("NO") => json!(false),
        _ => Value::Null,
    };
    let mut details = json!({
        "cve": vuln.map(|v| v.vulnerability_id()),
        "cvss_score": cvss.map(|c| c.0),
        "cvss_vector": cvss.map(|c| c.1.clone()),
        "package_name": package.map(|p| p.name()),
        "installed_version": package.map(installed_version),
        "fixed_version": fixed,
        "package_manager": package.and_then(|p| p.package_manager()).map(|m| m.as_str()),
        "exploit_available": exploit_available,
        "fix_available": fix_available,
        "finding_type": f.r#type().as_str(),
        "inspector_score": f.inspector_score(),
    });
    if packages.len() > 1 {
        details["packages"] = Value::Array(packages.iter().map(package_entry).collect());
    }
    details
}

/// One vulnerable package of a finding with several.
fn package_entry(p: &aws_sdk_inspector2::types::VulnerablePackage) -> Value {
    json!({
        "name": p.name(),
        "installed_version": installed_version(p),
        "fixed_version": p.fixed_in_version(),
        "package_manager": p.package_manager().map(|m| m.as_str()),
        "file_path": p.file_path(),
    })
}

/// Inspector's recommendation, the package's own remediation as the CLI
/// step, and the references (recommendation URL, vulnerability source).
fn remediation(f: &Finding) -> Remediation {
    let vuln = f.package_vulnerability_details();
    let package = vuln.and_then(|v| v.vulnerable_packages().first());
    let recommendation = f.remediation().and_then(|r| r.recommendation());
    let mut references: Vec<String> = recommendation
        .and_then(|r| r.url())
        .into_iter()
        .chain(vuln.and_then(|v| v.source_url()))
        .map(str::to_string)
        .collect();
    references.dedup();
    Remediation {
        guidance: recommendation
            .and_then(|r| r.text())
            .unwrap_or_default()
            .to_string(),
        console: None,
        cli: package.and_then(|p| p.remediation()).map(str::to_string),
        references,
    }
}

/// `[epoch:]version[-release]`, the form of `fixedInVersion`.
fn installed_version(p: &aws_sdk_inspector2::types::VulnerablePackage) -> String {
    let mut v = String::new();
    if p.epoch() != 0 {
        v.push_str(&format!("{}:", p.epoch()));
    }
    v.push_str(p.version());
    if let Some(r) = p.release().filter(|r| !r.is_empty()) {
        v.push('-');
        v.push_str(r);
    }
    v
}

/// Stance's type and id of an Inspector2 resource. EC2 instances are named by
/// their id; Stance names them by ARN, as it names every asset.
fn resource_ref(
    kind: &str,
    id: &str,
    partition: &str,
    region: &str,
    account: &str,
) -> (String, String) {
    match kind {
        "AWS_EC2_INSTANCE" => {
            let arn = if id.starts_with("arn:") {
                id.to_string()
            } else {
                format!("arn:{partition}:ec2:{region}:{account}:instance/{id}")
            };
            ("aws_ec2_instance".into(), arn)
        }
        "AWS_ECR_CONTAINER_IMAGE" => ("aws_ecr_image".into(), id.to_string()),
        "AWS_LAMBDA_FUNCTION" => ("aws_lambda_function".into(), id.to_string()),
        other => (other.to_ascii_lowercase(), id.to_string()),
    }
}

/// Inspector's severity; UNTRIAGED (no vendor severity yet) from the CVSS score.
fn severity(label: &str, cvss: Option<f64>) -> Severity {
    match label {
        "CRITICAL" => Severity::Critical,
        "HIGH" => Severity::High,
        "MEDIUM" => Severity::Medium,
        "LOW" => Severity::Low,
        "INFORMATIONAL" => Severity::Info,
        _ => match cvss {
            Some(s) if s >= 9.0 => Severity::Critical,
            Some(s) if s >= 7.0 => Severity::High,
            Some(s) if s >= 4.0 => Severity::Medium,
            Some(s) if s > 0.0 => Severity::Low,
            _ => Severity::Info,
        },
    }
}

fn time(t: &aws_smithy_types::DateTime) -> Option<String> {
    doc::time(Some(t)).as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec2_instances_are_named_by_arn() {
        assert_eq!(
            resource_ref(
                "AWS_EC2_INSTANCE",
                "i-0abc",
                "aws",
                "us-east-1",
                "123456789012"
            ),
            (
                "aws_ec2_instance".to_string(),
                "arn:aws:ec2:us-east-1:123456789012:instance/i-0abc".to_string()
            )
        );
        assert_eq!(severity("UNTRIAGED", Some(9.8)), Severity::Critical);
    }
}
