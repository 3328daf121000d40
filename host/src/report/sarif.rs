//! SARIF 2.1.0 (OASIS) of findings and alerts: one run per account and
//! region (`automationDetails.id` = `stance/ACCOUNT/REGION/`, what GitHub
//! code scanning calls the category), each with the rules its results cite.
//! Mappings are in `docs/output-formats.md`; the output is validated against
//! the vendored schema in `tests/fixtures/schemas/` by the end-to-end tests.
//!
//! It renders rows the store returned; it never reads the store itself.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::{Map, Value, json};

use super::write_json;
use crate::model::{Evidence, Rule, Severity, Status};
use crate::store::{AlertRow, FindingRow};

/// The schema URI written in `$schema`.
pub const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The key of Stance's fingerprint in `partialFingerprints`.
pub const FINGERPRINT_KEY: &str = "stance/v1";

/// `properties.security-severity` of a rule: GitHub reads 9.0 and above as
/// critical, 7.0–8.9 high, 4.0–6.9 medium, 0.1–3.9 low.
pub fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

/// The SARIF `level` of a failure: critical and high are errors, medium a
/// warning, low and info notes.
pub fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// A compliance control as a tag: `FRAMEWORK-VERSION:CONTROL`, such as
/// `cis-aws-5.0.0:2.1.1`.
pub fn control_tag(c: &crate::model::ComplianceRef) -> String {
    format!("{}-{}:{}", c.framework, c.version, c.control)
}

/// Write the findings as a SARIF log. Failing findings are results (muted
/// ones with an external suppression); passing findings, when the query
/// asked for them, are results of kind `pass`; findings in `error` are tool
/// execution notifications of the run's invocation, since the rule could
/// not decide. `rules` are the scan's rules (their descriptions, help and
/// mappings).
pub fn write_findings(out: &mut dyn Write, rows: &[FindingRow], rules: &[Rule]) -> io::Result<()> {
    write_json(out, &findings_log(rows, rules))
}

/// Write alerts as a SARIF log: one result per alert, suppressed alerts with
/// an external suppression whose justification is the suppression's reason
/// (`reasons`, by suppression id).
pub fn write_alerts(
    out: &mut dyn Write,
    rows: &[AlertRow],
    reasons: &BTreeMap<i64, String>,
) -> io::Result<()> {
    write_json(out, &alerts_log(rows, reasons))
}

/// The SARIF log of findings.
pub fn findings_log(rows: &[FindingRow], rules: &[Rule]) -> Value {
    let by_id: BTreeMap<&str, &Rule> = rules.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut groups: BTreeMap<(&str, &str), Vec<&FindingRow>> = BTreeMap::new();
    for f in rows {
        groups
            .entry((&f.resource.account, &f.resource.region))
            .or_default()
            .push(f);
    }
    let mut runs: Vec<Value> = groups
        .into_iter()
        .map(|((account, region), group)| {
            let mut run = Run::new("stance", account, region);
            for f in group {
                let descriptor = || match by_id.get(f.rule_id.as_str()) {
                    Some(rule) => rule_descriptor(rule),
                    None => bare_descriptor(&f.rule_id, &f.title, f.severity),
                };
                let index = run.rule_index(&f.rule_id, descriptor);
                match f.status {
                    Status::Error => run.notifications.push(notification(f, index)),
                    _ => run.results.push(finding_result(f, index)),
                }
            }
            run.into_json()
        })
        .collect();
    if runs.is_empty() {
        runs.push(Run::new("stance", "", "").into_json());
    }
    log(runs)
}

/// The SARIF log of alerts; runs are categorised `stance-detect/ACCOUNT/REGION/`
/// so that they never replace the findings' runs where both are uploaded.
pub fn alerts_log(rows: &[AlertRow], reasons: &BTreeMap<i64, String>) -> Value {
    let mut groups: BTreeMap<(&str, &str), Vec<&AlertRow>> = BTreeMap::new();
    for a in rows {
        groups.entry((&a.account, &a.region)).or_default().push(a);
    }
    let mut runs: Vec<Value> = groups
        .into_iter()
        .map(|((account, region), group)| {
            let mut run = Run::new("stance-detect", account, region);
            for a in group {
                let index = run.rule_index(&a.rule_id, || {
                    bare_descriptor(&a.rule_id, &a.title, a.severity)
                });
                run.results.push(alert_result(a, index, reasons));
            }
            run.into_json()
        })
        .collect();
    if runs.is_empty() {
        runs.push(Run::new("stance-detect", "", "").into_json());
    }
    log(runs)
}

fn log(runs: Vec<Value>) -> Value {
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": runs,
    })
}

/// One run being built: the rules its results cite, in order of first use.
struct Run {
    category: String,
    rules: Vec<Value>,
    index: BTreeMap<String, usize>,
    results: Vec<Value>,
    notifications: Vec<Value>,
}

impl Run {
    fn new(tool: &str, account: &str, region: &str) -> Run {
        let category = if account.is_empty() && region.is_empty() {
            format!("{tool}/")
        } else {
            format!("{tool}/{}/{}/", part(account), part(region))
        };
        Run {
            category,
            rules: Vec::new(),
            index: BTreeMap::new(),
            results: Vec::new(),
            notifications: Vec::new(),
        }
    }

    /// The index of `id` in the run's rules, adding its descriptor on first use.
    fn rule_index(&mut self, id: &str, descriptor: impl FnOnce() -> Value) -> usize {
        if let Some(i) = self.index.get(id) {
            return *i;
        }
        self.rules.push(descriptor());
        self.index.insert(id.to_string(), self.rules.len() - 1);
        self.rules.len() - 1
    }

    fn into_json(self) -> Value {
        let mut invocation = json!({"executionSuccessful": self.notifications.is_empty()});
        if !self.notifications.is_empty() {
            invocation["toolExecutionNotifications"] = Value::Array(self.notifications);
        }
        json!({
            "tool": {"driver": {
                "name": "stance",
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "informationUri": env!("CARGO_PKG_REPOSITORY"),
                "rules": self.rules,
            }},
            "automationDetails": {"id": self.category},
            "invocations": [invocation],
            "results": self.results,
        })
    }
}

/// An account or region as a segment of the category: `/` would start a
/// new segment, so it is replaced; empty becomes `unknown`.
fn part(s: &str) -> String {
    if s.is_empty() {
        "unknown".into()
    } else {
        s.replace('/', "_")
    }
}

/// The descriptor of a rule the scan stored.
fn rule_descriptor(rule: &Rule) -> Value {
    let mut tags = vec!["security".to_string()];
    tags.extend(rule.compliance.iter().map(control_tag));
    tags.extend(rule.tags.iter().cloned());
    tags.dedup();
    let full = if rule.description.trim().is_empty() {
        &rule.title
    } else {
        &rule.description
    };
    let mut d = json!({
        "id": rule.id,
        "name": rule.id,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": full},
        "defaultConfiguration": {"level": level(rule.severity)},
        "properties": {
            "security-severity": security_severity(rule.severity),
            "severity": rule.severity.as_str(),
            "tags": unique(tags),
        },
    });
    let (text, markdown) = help(rule);
    if !text.is_empty() {
        d["help"] = json!({"text": text, "markdown": markdown});
    }
    if let Some(uri) = rule.remediation.references.first() {
        d["helpUri"] = Value::from(uri.as_str());
    }
    d
}

/// The descriptor of a rule known only by the rows citing it (an alert's, or
/// a finding whose rule the scan did not store).
fn bare_descriptor(id: &str, title: &str, severity: Severity) -> Value {
    json!({
        "id": id,
        "name": id,
        "shortDescription": {"text": if title.is_empty() { id } else { title }},
        "defaultConfiguration": {"level": level(severity)},
        "properties": {
            "security-severity": security_severity(severity),
            "severity": severity.as_str(),
            "tags": ["security"],
        },
    })
}

fn unique(tags: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    tags.into_iter()
        .filter(|t| seen.insert(t.clone()))
        .collect()
}

/// The remediation as plain text and as Markdown.
fn help(rule: &Rule) -> (String, String) {
    let r = &rule.remediation;
    let mut text = Vec::new();
    let mut md = Vec::new();
    if !r.guidance.trim().is_empty() {
        text.push(r.guidance.trim().to_string());
        md.push(r.guidance.trim().to_string());
    }
    if let Some(console) = r.console.as_deref().filter(|c| !c.trim().is_empty()) {
        text.push(format!("Console: {}", console.trim()));
        md.push(format!("**Console:** {}", console.trim()));
    }
    if let Some(cli) = r.cli.as_deref().filter(|c| !c.trim().is_empty()) {
        text.push(format!("CLI: {}", cli.trim()));
        md.push(format!("**CLI:**\n\n{}", code_block(cli.trim())));
    }
    if !r.references.is_empty() {
        text.push(format!("References: {}", r.references.join(" ")));
        let links: Vec<String> = r.references.iter().map(|u| format!("- <{u}>")).collect();
        md.push(format!("**References:**\n\n{}", links.join("\n")));
    }
    (text.join("\n\n"), md.join("\n\n"))
}

/// A fenced code block whose fence is longer than any run of backticks in `code`.
fn code_block(code: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in code.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat((longest + 1).max(3));
    format!("{fence}sh\n{code}\n{fence}")
}

/// A failing or passing finding as a result.
fn finding_result(f: &FindingRow, index: usize) -> Value {
    let pass = f.status == Status::Pass;
    let mut r = json!({
        "ruleId": f.rule_id,
        "ruleIndex": index,
        "kind": if pass { "pass" } else { "fail" },
        "level": if pass { "none" } else { level(f.severity) },
        "message": {"text": message(&f.message, &f.title)},
        "locations": [resource_location(f)],
        "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint},
        "properties": finding_properties(f),
    });
    if let Some(state) = baseline_state(f.lifecycle.as_deref()) {
        r["baselineState"] = Value::from(state);
    }
    if let Some(m) = &f.muted_by {
        let mut props = Map::new();
        props.insert("muteId".into(), Value::from(m.id.as_str()));
        if let Some(owner) = &m.owner {
            props.insert("owner".into(), Value::from(owner.as_str()));
        }
        if let Some(expires) = &m.expires {
            props.insert("expires".into(), Value::from(expires.as_str()));
        }
        r["suppressions"] = json!([{
            "kind": "external",
            "status": "accepted",
            "justification": m.reason,
            "properties": props,
        }]);
    }
    r
}

/// The lifecycle against the previous scan of the scope: a new or reopened
/// failure is `new` (it did not fail last time), a recurring one
/// `unchanged`, a resolved one `absent`.
pub fn baseline_state(lifecycle: Option<&str>) -> Option<&'static str> {
    match lifecycle? {
        "new" | "reopened" => Some("new"),
        "recurring" => Some("unchanged"),
        "resolved" => Some("absent"),
        _ => None,
    }
}

fn message(text: &str, fallback: &str) -> String {
    if text.trim().is_empty() {
        fallback.to_string()
    } else {
        text.to_string()
    }
}

/// Where a finding is: the resource as a logical location (kind `resource`,
/// its ARN fully qualified) and, because GitHub code scanning refuses a
/// result without one, as the artifact `uri` of a physical location.
fn resource_location(f: &FindingRow) -> Value {
    let name = if f.resource.name.is_empty() {
        &f.resource.id
    } else {
        &f.resource.name
    };
    json!({
        "physicalLocation": {"artifactLocation": {"uri": uri(&f.resource.id)}},
        "logicalLocations": [{
            "name": name,
            "fullyQualifiedName": f.resource.id,
            "kind": "resource",
        }],
    })
}

/// A resource id as a URI reference: an ARN is one already (scheme `arn`);
/// anything outside RFC 3986's unreserved and reserved characters is
/// percent-encoded.
pub fn uri(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        let keep = b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=".contains(&b);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn finding_properties(f: &FindingRow) -> Value {
    let mut p = json!({
        "account": f.resource.account,
        "region": f.resource.region,
        "resourceType": f.resource.resource_type,
        "status": f.status.as_str(),
        "severity": f.severity.as_str(),
        "scanId": f.scan_id,
        "plugin": f.plugin,
        "source": f.source,
        "evidence": evidence(&f.evidence),
    });
    let optional = [
        ("lifecycle", &f.lifecycle),
        ("firstSeen", &f.first_seen),
        ("lastSeen", &f.last_seen),
    ];
    for (key, value) in optional {
        if let Some(v) = value {
            p[key] = Value::from(v.as_str());
        }
    }
    p
}

fn evidence(e: &[Evidence]) -> Value {
    serde_json::to_value(e).unwrap_or(Value::Array(Vec::new()))
}

/// A finding in `error`: the rule could not be evaluated on the resource.
fn notification(f: &FindingRow, index: usize) -> Value {
    json!({
        "level": "error",
        "message": {"text": format!("{}: {}", f.resource.id, message(&f.message, "could not be evaluated"))},
        "associatedRule": {"id": f.rule_id, "index": index},
        "locations": [resource_location(f)],
        "properties": finding_properties(f),
    })
}

/// An alert as a result: where known, the correlation group (such as the
/// user) names its logical location.
fn alert_result(a: &AlertRow, index: usize, reasons: &BTreeMap<i64, String>) -> Value {
    let mut r = json!({
        "ruleId": a.rule_id,
        "ruleIndex": index,
        "kind": "fail",
        "level": level(a.severity),
        "message": {"text": message(&a.message, &a.title)},
        "partialFingerprints": {FINGERPRINT_KEY: a.fingerprint},
        "properties": {
            "account": a.account,
            "region": a.region,
            "severity": a.severity.as_str(),
            "runId": a.run_id,
            "alertId": a.id,
            "plugin": a.plugin,
            "source": a.source,
            "windowStart": a.window_start,
            "windowEnd": a.window_end,
            "eventIds": a.event_ids,
            "duplicate": a.duplicate,
            "evidence": evidence(&a.evidence),
        },
    });
    if let Some(group) = &a.group_key {
        r["locations"] = json!([{"logicalLocations": [{
            "name": group,
            "fullyQualifiedName": group,
            "kind": "resource",
        }]}]);
        r["properties"]["groupKey"] = Value::from(group.as_str());
    }
    if let Some(id) = a.suppressed_by {
        r["suppressions"] = json!([{
            "kind": "external",
            "status": "accepted",
            "justification": reasons
                .get(&id)
                .cloned()
                .unwrap_or_else(|| format!("suppression #{id}")),
            "properties": {"suppressionId": id},
        }]);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::exchange::samples::{alert, finding, mute, rule};

    #[test]
    fn findings_are_results_in_one_run_per_account_and_region() {
        let mut muted = finding("r1", "arn:aws:s3:::muted", Status::Fail, Some("recurring"));
        muted.muted_by = Some(mute("scratch buckets are disposable"));
        let rows = vec![
            finding("r1", "arn:aws:s3:us-east-1::a", Status::Fail, Some("new")),
            finding("r2", "arn:aws:s3:us-east-1::b", Status::Error, None),
            finding(
                "r1",
                "arn:aws:s3:eu-west-1::c",
                Status::Pass,
                Some("resolved"),
            ),
            muted,
        ];
        let log = findings_log(&rows, &[rule("r1")]);
        assert_eq!(log["version"], "2.1.0");
        let runs = log["runs"].as_array().unwrap();
        let ids: Vec<&str> = runs
            .iter()
            .map(|r| r["automationDetails"]["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            [
                "stance/111122223333/eu-west-1/",
                "stance/111122223333/global/",
                "stance/111122223333/us-east-1/"
            ]
        );

        let us = &runs[2];
        let rules = us["tool"]["driver"]["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 2, "r1 from the scan, r2 known only by its row");
        assert_eq!(rules[0]["properties"]["security-severity"], "8.0");
        let tags = rules[0]["properties"]["tags"].as_array().unwrap();
        assert!(tags.contains(&json!("cis-aws-5.0.0:2.1.1")) && tags.contains(&json!("security")));
        assert!(
            rules[0]["help"]["markdown"]
                .as_str()
                .unwrap()
                .contains("````sh\n"),
            "a fence longer than the command's backticks"
        );
        let result = &us["results"][0];
        assert_eq!(
            (result["ruleIndex"].as_u64(), result["level"].as_str()),
            (Some(0), Some("error"))
        );
        assert_eq!(result["baselineState"], "new");
        assert_eq!(
            result["partialFingerprints"][FINGERPRINT_KEY],
            rows[0].fingerprint
        );
        assert_eq!(
            us["results"].as_array().unwrap().len(),
            1,
            "the error is no result"
        );
        let note = &us["invocations"][0]["toolExecutionNotifications"][0];
        assert_eq!(
            (
                note["associatedRule"]["index"].as_u64(),
                note["level"].as_str()
            ),
            (Some(1), Some("error"))
        );
        assert_eq!(us["invocations"][0]["executionSuccessful"], false);

        let eu = &runs[0]["results"][0];
        assert_eq!(
            (
                eu["kind"].as_str(),
                eu["level"].as_str(),
                eu["baselineState"].as_str()
            ),
            (Some("pass"), Some("none"), Some("absent"))
        );
        let global = &runs[1]["results"][0];
        let s = &global["suppressions"][0];
        assert_eq!(
            (s["kind"].as_str(), s["justification"].as_str()),
            (Some("external"), Some("scratch buckets are disposable"))
        );
        assert_eq!(s["properties"]["muteId"], "m-1");
    }

    #[test]
    fn severities_levels_and_uris_map_as_documented() {
        let pairs: Vec<(&str, &str)> = Severity::ALL
            .iter()
            .map(|s| (security_severity(*s), level(*s)))
            .collect();
        assert_eq!(
            pairs,
            [
                ("9.5", "error"),
                ("8.0", "error"),
                ("5.5", "warning"),
                ("3.0", "note"),
                ("0.0", "note")
            ]
        );
        assert_eq!(uri("arn:aws:s3:::a/b"), "arn:aws:s3:::a/b");
        assert_eq!(uri("my bucket é\"<"), "my%20bucket%20%C3%A9%22%3C");
        assert_eq!(baseline_state(Some("reopened")), Some("new"));
        assert_eq!(baseline_state(Some("recurring")), Some("unchanged"));
        assert_eq!(baseline_state(None), None);
    }

    #[test]
    fn alerts_are_results_with_the_suppression_reason_and_an_empty_log_has_one_run() {
        let reasons = BTreeMap::from([(4, "maintenance <CHG-7>".to_string())]);
        let log = alerts_log(&[alert("x", None), alert("x", Some(4))], &reasons);
        let run = &log["runs"][0];
        assert_eq!(
            run["automationDetails"]["id"],
            "stance-detect/111122223333/us-east-1/"
        );
        assert_eq!(run["tool"]["driver"]["rules"].as_array().unwrap().len(), 1);
        assert!(run["results"][0].get("suppressions").is_none());
        assert_eq!(
            run["results"][1]["suppressions"][0]["justification"],
            "maintenance <CHG-7>"
        );
        assert_eq!(
            run["results"][0]["locations"][0]["logicalLocations"][0]["kind"],
            "resource"
        );
        let empty = findings_log(&[], &[]);
        assert_eq!(empty["runs"][0]["automationDetails"]["id"], "stance/");
        assert_eq!(empty["runs"][0]["results"], json!([]));
    }
}
