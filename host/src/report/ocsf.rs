//! OCSF 1.5.0 events of findings and alerts: a scan's findings as Compliance
//! Findings (class 2003), alerts as Detection Findings (class 2004), both
//! with the cloud profile. One JSON array per output. Mappings are in
//! `docs/output-formats.md`; the end-to-end tests validate every event with
//! `py-ocsf-models` 0.10.0 (which models OCSF 1.5.0) and fail on any field
//! the model does not know.
//!
//! It renders rows the store returned; it never reads the store itself.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::{Value, json};

use super::write_json;
use crate::model::{Evidence, Rule, Severity, Status};
use crate::store::{AlertRow, FindingRow, ScanRow};

/// The OCSF schema version written in `metadata.version`.
pub const VERSION: &str = "1.5.0";

const COMPLIANCE_FINDING: i64 = 2003;
const DETECTION_FINDING: i64 = 2004;
const FINDINGS_CATEGORY: i64 = 2;

/// What an event of a scan needs besides its row: the scan (its time and
/// provider), its rules, and the labels (`key:value` tags) of its assets.
pub struct ScanContext<'a> {
    /// The scan the findings belong to.
    pub scan: &'a ScanRow,
    /// The rules it ran.
    pub rules: &'a [Rule],
    /// Asset id → its tags as `key:value` labels.
    pub labels: &'a BTreeMap<String, Vec<String>>,
}

/// Write findings as a JSON array of Compliance Findings.
pub fn write_findings(
    out: &mut dyn Write,
    rows: &[FindingRow],
    ctx: &ScanContext<'_>,
) -> io::Result<()> {
    let by_id: BTreeMap<&str, &Rule> = ctx.rules.iter().map(|r| (r.id.as_str(), r)).collect();
    let events: Vec<Value> = rows
        .iter()
        .map(|f| compliance_finding(f, by_id.get(f.rule_id.as_str()).copied(), ctx))
        .collect();
    write_json(out, &events)
}

/// Write alerts as a JSON array of Detection Findings; `reasons` are the
/// suppressions' reasons by id.
pub fn write_alerts(
    out: &mut dyn Write,
    rows: &[AlertRow],
    reasons: &BTreeMap<i64, String>,
) -> io::Result<()> {
    let events: Vec<Value> = rows
        .iter()
        .map(|a| detection_finding(a, a.suppressed_by.and_then(|id| reasons.get(&id))))
        .collect();
    write_json(out, &events)
}

/// `severity_id` and its caption.
pub fn severity(s: Severity) -> (i64, &'static str) {
    match s {
        Severity::Info => (1, "Informational"),
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
        Severity::High => (4, "High"),
        Severity::Critical => (5, "Critical"),
    }
}

/// `activity_id` and its caption from the lifecycle: a new failure is
/// created, a recurring or reopened one updated, a resolved one closed; a
/// finding without lifecycle (a pass that never failed, an error) is a
/// create.
pub fn activity(lifecycle: Option<&str>) -> (i64, &'static str) {
    match lifecycle {
        Some("recurring" | "reopened") => (2, "Update"),
        Some("resolved") => (3, "Close"),
        _ => (1, "Create"),
    }
}

/// `status_id` and its caption: a muted failure is suppressed, a pass
/// resolved, any other failure or error new (Stance does not track who is
/// reviewing what, so it never claims "In Progress").
pub fn status(f: &FindingRow) -> (i64, &'static str) {
    match (f.status, &f.muted_by) {
        (Status::Fail, Some(_)) => (3, "Suppressed"),
        (Status::Pass, _) => (4, "Resolved"),
        _ => (1, "New"),
    }
}

/// The compliance `status_id` and caption of a check: pass, fail, or
/// warning for a check that could not decide (error).
pub fn compliance_status(s: Status) -> (i64, &'static str) {
    match s {
        Status::Pass => (1, "Pass"),
        Status::Error => (2, "Warning"),
        Status::Fail => (3, "Fail"),
    }
}

/// RFC 3339 as milliseconds since the epoch (OCSF's timestamp).
pub fn epoch_ms(t: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// OCSF's provider name of a Stance provider (`aws` → `AWS`).
fn provider(p: &str) -> String {
    match p {
        "aws" | "" => "AWS".into(),
        other => other.to_uppercase(),
    }
}

fn metadata(uid: String, event_code: &str) -> Value {
    json!({
        "version": VERSION,
        "uid": uid,
        "event_code": event_code,
        "profiles": ["cloud"],
        "product": {
            "name": "Stance",
            "vendor_name": "Stance",
            "version": env!("CARGO_PKG_VERSION"),
            "url_string": env!("CARGO_PKG_REPOSITORY"),
        },
    })
}

/// The cloud object: provider, region and account (Stance knows no account
/// aliases: the account's name is its id).
fn cloud(provider_name: String, account: &str, region: &str) -> Value {
    let mut c = json!({"provider": provider_name});
    if !region.is_empty() {
        c["region"] = Value::from(region);
    }
    if !account.is_empty() {
        c["account"] = json!({
            "uid": account,
            "name": account,
            "type_id": 10,
            "type": "AWS Account",
        });
    }
    c
}

fn evidences(e: &[Evidence]) -> Value {
    e.iter()
        .map(|e| {
            json!({
                "name": e.path,
                "data": {"path": e.path, "actual": e.actual, "expected": e.expected},
            })
        })
        .collect()
}

/// A finding as a Compliance Finding.
pub fn compliance_finding(f: &FindingRow, rule: Option<&Rule>, ctx: &ScanContext<'_>) -> Value {
    let (severity_id, severity_name) = severity(f.severity);
    let (activity_id, activity_name) = activity(f.lifecycle.as_deref());
    let (status_id, status_name) = status(f);
    let time = epoch_ms(&ctx.scan.finished_at).unwrap_or_default();
    let mut e = json!({
        "category_uid": FINDINGS_CATEGORY,
        "category_name": "Findings",
        "class_uid": COMPLIANCE_FINDING,
        "class_name": "Compliance Finding",
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": COMPLIANCE_FINDING * 100 + activity_id,
        "type_name": format!("Compliance Finding: {activity_name}"),
        "severity_id": severity_id,
        "severity": severity_name,
        "status_id": status_id,
        "status": status_name,
        "status_code": f.status.as_str(),
        "status_detail": f.message,
        "message": f.message,
        "time": time,
        "metadata": metadata(format!("stance:scan:{}:{}", f.scan_id, f.fingerprint), &f.rule_id),
        "finding_info": finding_info(f, rule),
        "cloud": cloud(provider(&ctx.scan.provider), &f.resource.account, &f.resource.region),
        "resources": [resource(f, ctx.labels.get(&f.resource.id))],
        "compliance": compliance(f, rule),
        "evidences": evidences(&f.evidence),
        "unmapped": {"stance": unmapped(f)},
    });
    let remediation = rule.map_or(&f.remediation, |r| &r.remediation);
    if !remediation.guidance.trim().is_empty() {
        let mut desc = remediation.guidance.trim().to_string();
        if let Some(cli) = remediation.cli.as_deref().filter(|c| !c.trim().is_empty()) {
            desc.push_str(&format!("\nCLI: {}", cli.trim()));
        }
        e["remediation"] = json!({"desc": desc, "references": remediation.references});
    }
    e
}

fn finding_info(f: &FindingRow, rule: Option<&Rule>) -> Value {
    let desc = rule
        .map(|r| r.description.as_str())
        .filter(|d| !d.trim().is_empty())
        .unwrap_or(&f.title);
    let mut info = json!({
        "uid": f.fingerprint,
        "title": f.title,
        "desc": desc,
        "analytic": {"uid": f.rule_id, "name": f.title, "type": "Rule", "type_id": 1},
    });
    if let Some(first) = f.first_seen.as_deref().and_then(epoch_ms) {
        info["created_time"] = Value::from(first);
        info["first_seen_time"] = Value::from(first);
    }
    if let Some(last) = f.last_seen.as_deref().and_then(epoch_ms) {
        info["last_seen_time"] = Value::from(last);
    }
    info
}

/// The resource: its ARN, type, region, name, partition (from the ARN) and
/// its tags as `key:value` labels.
fn resource(f: &FindingRow, labels: Option<&Vec<String>>) -> Value {
    let mut r = json!({
        "uid": f.resource.id,
        "type": f.resource.resource_type,
        "region": f.resource.region,
    });
    if !f.resource.name.is_empty() {
        r["name"] = Value::from(f.resource.name.as_str());
    }
    let mut parts = f.resource.id.splitn(3, ':');
    if let (Some("arn"), Some(partition)) = (parts.next(), parts.next())
        && !partition.is_empty()
    {
        r["cloud_partition"] = Value::from(partition);
    }
    if let Some(labels) = labels.filter(|l| !l.is_empty()) {
        r["labels"] = Value::from(labels.clone());
    }
    r
}

/// The compliance object: the standards the rule maps to, every control as
/// a requirement (`FRAMEWORK VERSION CONTROL`), the control itself when the
/// rule maps to exactly one, and the check (the rule) with its outcome.
fn compliance(f: &FindingRow, rule: Option<&Rule>) -> Value {
    let mappings = rule.map_or(&f.compliance, |r| &r.compliance);
    let mut standards: Vec<String> = Vec::new();
    for m in mappings {
        let s = format!("{} {}", m.framework, m.version);
        if !standards.contains(&s) {
            standards.push(s);
        }
    }
    let requirements: Vec<String> = mappings
        .iter()
        .map(|m| format!("{} {} {}", m.framework, m.version, m.control))
        .collect();
    let (status_id, status_name) = compliance_status(f.status);
    let (severity_id, severity_name) = severity(f.severity);
    let mut c = json!({
        "status_id": status_id,
        "standards": standards,
        "requirements": requirements,
        "checks": [{
            "uid": f.rule_id,
            "name": f.title,
            "severity": severity_name,
            "severity_id": severity_id,
            "status": status_name,
            "status_id": status_id,
            "standards": standards,
        }],
    });
    if let [only] = mappings.as_slice() {
        c["control"] = Value::from(only.control.as_str());
    }
    c
}

/// What OCSF has no attribute for: Stance's scan, lifecycle, plugin, source and mute.
fn unmapped(f: &FindingRow) -> Value {
    let mut u = json!({
        "scan_id": f.scan_id,
        "fingerprint": f.fingerprint,
        "lifecycle": f.lifecycle,
        "plugin": f.plugin,
        "plugin_version": f.plugin_version,
        "source": f.source,
    });
    if let Some(m) = &f.muted_by {
        u["muted_by"] = serde_json::to_value(m).unwrap_or(Value::Null);
    }
    if let Some(d) = &f.details {
        u["details"] = d.clone();
    }
    u
}

/// An alert as a Detection Finding: created by its run (updated when an
/// earlier run raised it already), suppressed when a suppression silenced it.
pub fn detection_finding(a: &AlertRow, suppression_reason: Option<&String>) -> Value {
    let (severity_id, severity_name) = severity(a.severity);
    let (activity_id, activity_name) = if a.duplicate {
        (2, "Update")
    } else {
        (1, "Create")
    };
    let (status_id, status_name) = if a.suppressed_by.is_some() {
        (3, "Suppressed")
    } else {
        (1, "New")
    };
    let start = epoch_ms(&a.window_start).unwrap_or_default();
    let end = epoch_ms(&a.window_end).unwrap_or(start);
    let provider_name = if a.source.starts_with("aws") || a.source.is_empty() {
        "AWS".to_string()
    } else {
        provider(&a.source)
    };
    let mut e = json!({
        "category_uid": FINDINGS_CATEGORY,
        "category_name": "Findings",
        "class_uid": DETECTION_FINDING,
        "class_name": "Detection Finding",
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": DETECTION_FINDING * 100 + activity_id,
        "type_name": format!("Detection Finding: {activity_name}"),
        "severity_id": severity_id,
        "severity": severity_name,
        "status_id": status_id,
        "status": status_name,
        "message": a.message,
        "time": end,
        "start_time": start,
        "end_time": end,
        "count": a.event_ids.len(),
        "metadata": metadata(format!("stance:alert:{}", a.id), &a.rule_id),
        "finding_info": {
            "uid": a.fingerprint,
            "title": a.title,
            "desc": a.message,
            "first_seen_time": start,
            "last_seen_time": end,
            "analytic": {"uid": a.rule_id, "name": a.title, "type": "Rule", "type_id": 1},
            "related_events": a.event_ids.iter().map(|id| json!({"uid": id})).collect::<Vec<_>>(),
        },
        "cloud": cloud(provider_name, &a.account, &a.region),
        "evidences": evidences(&a.evidence),
        "unmapped": {"stance": {
            "run_id": a.run_id,
            "alert_id": a.id,
            "plugin": a.plugin,
            "plugin_version": a.plugin_version,
            "source": a.source,
            "group_key": a.group_key,
            "suppressed_by": a.suppressed_by,
        }},
    });
    if let Some(reason) = suppression_reason {
        e["status_detail"] = Value::from(reason.as_str());
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::exchange::samples::{alert, finding, mute, rule, scan};

    fn event(f: &FindingRow) -> Value {
        let labels = BTreeMap::from([(f.resource.id.clone(), vec!["env:prod".to_string()])]);
        let scan = scan();
        let rules = [rule("r1")];
        let ctx = ScanContext {
            scan: &scan,
            rules: &rules,
            labels: &labels,
        };
        compliance_finding(f, ctx.rules.first(), &ctx)
    }

    #[test]
    fn a_finding_is_a_compliance_finding_with_its_lifecycle_status_and_controls() {
        let f = finding("r1", "arn:aws-cn:s3:::b", Status::Fail, Some("new"));
        let e = event(&f);
        assert_eq!(
            (
                e["class_uid"].as_i64(),
                e["category_uid"].as_i64(),
                e["type_uid"].as_i64()
            ),
            (Some(2003), Some(2), Some(200301))
        );
        assert_eq!(
            (
                e["activity_id"].as_i64(),
                e["status_id"].as_i64(),
                e["severity_id"].as_i64()
            ),
            (Some(1), Some(1), Some(4))
        );
        assert_eq!(e["time"], 1_796_637_602_500_i64, "the scan's end, in ms");
        assert_eq!(e["finding_info"]["uid"], f.fingerprint);
        assert_eq!(e["finding_info"]["desc"], "what r1 checks");
        assert_eq!(e["finding_info"]["first_seen_time"], 1_796_119_200_000_i64);
        assert_eq!(e["metadata"]["version"], "1.5.0");
        assert_eq!(e["cloud"]["account"]["uid"], "111122223333");
        let r = &e["resources"][0];
        assert_eq!(
            (r["uid"].as_str(), r["cloud_partition"].as_str()),
            (Some("arn:aws-cn:s3:::b"), Some("aws-cn"))
        );
        assert_eq!(r["labels"], json!(["env:prod"]));
        let c = &e["compliance"];
        assert_eq!(c["standards"], json!(["cis-aws 5.0.0", "nist-800-53 rev5"]));
        assert_eq!(
            c["requirements"],
            json!(["cis-aws 5.0.0 2.1.1", "nist-800-53 rev5 SC-28"])
        );
        assert!(
            c.get("control").is_none(),
            "two controls: none is the control"
        );
        assert_eq!(
            (c["status_id"].as_i64(), c["checks"][0]["uid"].as_str()),
            (Some(3), Some("r1"))
        );
        assert_eq!(
            e["remediation"]["references"],
            json!(["https://docs.aws.amazon.com/s3"])
        );
        assert_eq!(e["evidences"][0]["data"]["actual"], "Suspended");
    }

    #[test]
    fn lifecycle_and_mutes_map_to_activity_and_status() {
        let recurring = finding("r1", "arn:aws:s3:::b", Status::Fail, Some("recurring"));
        assert_eq!(
            (
                event(&recurring)["activity_id"].as_i64(),
                event(&recurring)["type_uid"].as_i64()
            ),
            (Some(2), Some(200302))
        );
        let reopened = finding("r1", "arn:aws:s3:::b", Status::Fail, Some("reopened"));
        assert_eq!(event(&reopened)["activity_id"], 2);
        let resolved = finding("r1", "arn:aws:s3:::b", Status::Pass, Some("resolved"));
        let e = event(&resolved);
        assert_eq!(
            (
                e["activity_id"].as_i64(),
                e["status_id"].as_i64(),
                e["compliance"]["status_id"].as_i64()
            ),
            (Some(3), Some(4), Some(1))
        );
        let mut muted = recurring.clone();
        muted.muted_by = Some(mute("accepted (RISK-142)"));
        let e = event(&muted);
        assert_eq!(
            (e["status_id"].as_i64(), e["status"].as_str()),
            (Some(3), Some("Suppressed"))
        );
        assert_eq!(
            e["unmapped"]["stance"]["muted_by"]["reason"],
            "accepted (RISK-142)"
        );
        let error = finding("r1", "arn:aws:s3:::b", Status::Error, None);
        assert_eq!(event(&error)["compliance"]["status_id"], 2);
    }

    #[test]
    fn an_alert_is_a_detection_finding_suppressed_with_its_reason() {
        let reason = "maintenance".to_string();
        let e = detection_finding(&alert("x", Some(4)), Some(&reason));
        assert_eq!(
            (
                e["class_uid"].as_i64(),
                e["type_uid"].as_i64(),
                e["status_id"].as_i64()
            ),
            (Some(2004), Some(200401), Some(3))
        );
        assert_eq!(e["status_detail"], "maintenance");
        assert_eq!(
            (
                e["count"].as_i64(),
                e["start_time"].as_i64(),
                e["end_time"].as_i64()
            ),
            (Some(2), Some(1_796_637_600_000), Some(1_796_637_900_000))
        );
        assert_eq!(e["finding_info"]["related_events"][1]["uid"], "ev-2");
        let mut seen = alert("x", None);
        seen.duplicate = true;
        let e = detection_finding(&seen, None);
        assert_eq!(
            (e["activity_id"].as_i64(), e["status_id"].as_i64()),
            (Some(2), Some(1))
        );
    }
}
