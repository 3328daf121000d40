//! Compliance reports: a framework's controls, each with the status of the
//! policies mapped to it in one scan, the failing resources with their
//! evidence, remediation, and a score. The catalogues of controls live in
//! `policies/frameworks/`; frameworks without one are built from the
//! mappings in the policies themselves.

use std::cmp::Ordering;
use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use crate::model::{Evidence, MuteRef, Remediation, Rule, Severity, Status};
use crate::store::{FindingFilter, FindingRow, ScanRow, Store, StoreError};

/// A framework catalogue file (`policies/frameworks/*.yaml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    /// What `stance report --framework` takes, e.g. `cis-aws-v5`.
    pub id: String,
    /// The value of `compliance[].framework` in policies.
    pub framework: String,
    /// The framework's version, matched against `compliance[].version` (e.g. `5.0.0`).
    pub version: String,
    /// The framework's full name, for reports.
    pub name: String,
    /// Where the framework is published; none when not given.
    #[serde(default)]
    pub url: Option<String>,
    /// Every control of the framework, in report order.
    pub controls: Vec<CatalogueControl>,
}

/// One control of a framework catalogue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogueControl {
    /// The control's id, as policies' `compliance[].control` names it (e.g. `1.4`, `S3.1`).
    pub id: String,
    /// A short title; empty for controls built from mappings (the first policy's title is shown).
    pub title: String,
    /// The section it belongs to, when the framework has sections.
    #[serde(default)]
    pub section: Option<String>,
    /// The profile (e.g. CIS `Level 1`), when the framework has profiles.
    #[serde(default)]
    pub profile: Option<String>,
    /// Whether the framework expects the control to be checked automatically.
    pub assessment: Assessment,
    /// Why a manual control cannot be automated, for the report.
    #[serde(default)]
    pub why_manual: Option<String>,
}

/// How a framework says a control is assessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Assessment {
    /// Checked by tooling; a control without a policy is "not covered".
    Automated,
    /// Checked by people; a control without a policy is "manual".
    Manual,
}

/// A control's outcome in a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlStatus {
    /// Its policies passed on at least one resource, and none failed or errored.
    Pass,
    /// One of its policies failed on a resource.
    Fail,
    /// None of its policies failed, but one could not be evaluated on a resource.
    Error,
    /// A manual control that no policy implements.
    Manual,
    /// Automated, and its policies found nothing in scope to judge.
    NotApplicable,
    /// Automated, but no policy implements it.
    NotCovered,
}

impl ControlStatus {
    /// The status as JSON and CSV name it: `pass`, `fail`, `error`, `manual`, `not_applicable`, `not_covered`.
    pub fn as_str(self) -> &'static str {
        match self {
            ControlStatus::Pass => "pass",
            ControlStatus::Fail => "fail",
            ControlStatus::Error => "error",
            ControlStatus::Manual => "manual",
            ControlStatus::NotApplicable => "not_applicable",
            ControlStatus::NotCovered => "not_covered",
        }
    }
}

/// A resource on which a policy of a control failed or errored.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceResult {
    /// `fail` or `error`.
    pub status: Status,
    /// The asset's id.
    pub id: String,
    /// The asset's name.
    pub name: String,
    /// The asset's resource type (`type` in JSON).
    #[serde(rename = "type")]
    pub resource_type: String,
    /// The asset's account.
    pub account: String,
    /// The asset's region.
    pub region: String,
    /// The finding's message.
    pub message: String,
    /// The finding's evidence.
    pub evidence: Vec<Evidence>,
    /// The mute that accepts this failure, with its reason, owner and
    /// expiry; absent for a failure that counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub muted_by: Option<MuteRef>,
}

/// One policy mapped to a control, with its results in the scan.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyResult {
    /// The rule's id.
    pub rule_id: String,
    /// The rule's title.
    pub title: String,
    /// The rule's severity.
    pub severity: Severity,
    /// Resources on which it passed.
    pub pass: usize,
    /// Resources on which it failed, muted failures left out.
    pub fail: usize,
    /// Resources on which it failed under a mute (an accepted risk): listed
    /// with the mute, but they do not fail the control.
    pub muted: usize,
    /// Resources on which it could not be evaluated.
    pub error: usize,
    /// Failing, erroring and muted resources, in that order.
    pub resources: Vec<ResourceResult>,
    /// How to fix a failure, from the rule.
    pub remediation: Remediation,
}

/// One control of the report, with its status and the policies that implement it.
#[derive(Debug, Clone, Serialize)]
pub struct ControlResult {
    /// The control's id.
    pub id: String,
    /// Its title: the catalogue's, else the title of its first policy.
    pub title: String,
    /// Its section, from the catalogue.
    pub section: Option<String>,
    /// Its profile, from the catalogue.
    pub profile: Option<String>,
    /// How the framework says it is assessed.
    pub assessment: Assessment,
    /// Its outcome in the scan.
    pub status: ControlStatus,
    /// Why it is manual, from the catalogue.
    pub why_manual: Option<String>,
    /// The policies mapped to it, most severe first; empty when none implements it.
    pub policies: Vec<PolicyResult>,
}

/// How many controls of the report have each status.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    /// Controls that pass.
    pub pass: usize,
    /// Controls that fail.
    pub fail: usize,
    /// Controls in error.
    pub error: usize,
    /// Manual controls without a policy.
    pub manual: usize,
    /// Controls whose policies found nothing in scope.
    pub not_applicable: usize,
    /// Automated controls without a policy.
    pub not_covered: usize,
}

/// The framework a report is about: its catalogue, or what the policies' mappings say.
#[derive(Debug, Clone, Serialize)]
pub struct FrameworkInfo {
    /// The catalogue's id, or the framework's name without a catalogue.
    pub id: String,
    /// The framework as policies name it in `compliance[].framework`.
    pub framework: String,
    /// The catalogue's version, or every version the mappings name, comma-separated.
    pub version: String,
    /// The full name; the framework's name without a catalogue.
    pub name: String,
    /// Where it is published; none without a catalogue.
    pub url: Option<String>,
}

/// The whole report, as rendered to HTML, JSON and CSV.
#[derive(Debug, Clone, Serialize)]
pub struct ComplianceReport {
    /// The framework reported on.
    pub framework: FrameworkInfo,
    /// The scan the results come from.
    pub scan: ScanRow,
    /// When the report was built (RFC 3339, UTC).
    pub generated_at: String,
    /// The version of Stance that built it.
    pub stance_version: String,
    /// Percentage of automated controls that pass, out of those that pass,
    /// fail, error or are not covered (not-applicable and manual controls
    /// are left out); `None` when there are none.
    pub score: Option<f64>,
    /// Controls by status.
    pub counts: Counts,
    /// Every control, in catalogue order (natural id order without a catalogue).
    pub controls: Vec<ControlResult>,
}

/// Why a compliance report could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A built-in catalogue does not parse (a build defect).
    #[error("{file}: {message}")]
    Catalogue {
        /// The catalogue's file name.
        file: String,
        /// The parser's message.
        message: String,
    },
    /// No catalogue and no policy of the scan names the framework (first
    /// payload); the second lists the catalogues' ids.
    #[error(
        "no framework {0:?}: frameworks with a catalogue are {1}; any framework named in policies' compliance mappings (e.g. nist-800-53, pci-dss, soc2) also works"
    )]
    UnknownFramework(String, String),
    /// The scan asked for (the payload) does not exist or did not complete.
    #[error("there is no complete scan #{0}; `stance scans` lists them")]
    NoScan(i64),
    /// The store holds no scan at all.
    #[error("no scans yet; run `stance scan` first")]
    NoScans,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The framework catalogues built into the binary.
pub fn catalogues() -> Result<Vec<Catalogue>, ReportError> {
    stance_builtin::frameworks()
        .iter()
        .map(|(file, text)| {
            serde_norway::from_str::<Catalogue>(text).map_err(|e| ReportError::Catalogue {
                file: (*file).to_string(),
                message: e.to_string(),
            })
        })
        .collect()
}

/// Natural order of control ids: `1.2` < `1.10` < `S3.1` < `S3.12`.
pub fn control_order(a: &str, b: &str) -> Ordering {
    let parts = |s: &str| -> Vec<(String, u64)> {
        s.split(['.', '-', '(', ')'])
            .map(|p| {
                let digits: String = p.chars().filter(char::is_ascii_digit).collect();
                let letters: String = p.chars().filter(|c| !c.is_ascii_digit()).collect();
                (letters, digits.parse().unwrap_or(0))
            })
            .collect()
    };
    parts(a).cmp(&parts(b))
}

struct MappedRule {
    rule_id: String,
    title: String,
    severity: Severity,
    remediation: Remediation,
    controls: Vec<String>,
}

/// Build the report of `framework` for a scan (the latest when `scan` is `None`).
pub fn build(
    store: &Store,
    framework: &str,
    scan: Option<i64>,
) -> Result<ComplianceReport, ReportError> {
    let scan_id = match scan {
        Some(id) => id,
        None => store.latest_scan_id()?.ok_or(ReportError::NoScans)?,
    };
    let scan_row = store.scan(scan_id)?.ok_or(ReportError::NoScan(scan_id))?;
    let catalogues = catalogues()?;
    let wanted = framework.to_ascii_lowercase();
    let catalogue = catalogues
        .iter()
        .find(|c| c.id == wanted || format!("{}-{}", c.framework, c.version) == wanted);
    let (framework_name, version) = match catalogue {
        Some(c) => (c.framework.clone(), Some(c.version.clone())),
        None => (wanted.clone(), None),
    };
    let rules = store.rules(scan_id)?;
    let mapped = mapped_rules(&rules, &framework_name, version.as_deref());
    if catalogue.is_none() && mapped.is_empty() {
        let known: Vec<String> = catalogues.iter().map(|c| c.id.clone()).collect();
        return Err(ReportError::UnknownFramework(
            framework.to_string(),
            known.join(", "),
        ));
    }
    let findings = store.findings(&FindingFilter {
        scan: Some(scan_id),
        rules: mapped.iter().map(|m| m.rule_id.clone()).collect(),
        ..Default::default()
    })?;
    let mut counts = Counts::default();
    let controls: Vec<ControlResult> = skeleton(catalogue, &mapped)
        .into_iter()
        .map(|c| control_result(c, &mapped, &findings, &mut counts))
        .collect();
    let judged = counts.pass + counts.fail + counts.error + counts.not_covered;
    let score = (judged > 0).then(|| 100.0 * counts.pass as f64 / judged as f64);
    Ok(ComplianceReport {
        framework: framework_info(catalogue, framework_name, &rules),
        scan: scan_row,
        generated_at: crate::model::now_rfc3339(),
        stance_version: env!("CARGO_PKG_VERSION").to_string(),
        score,
        counts,
        controls,
    })
}

/// The rules of a scan mapped to the framework (and version, when the
/// catalogue names one), with the controls they implement.
fn mapped_rules(rules: &[Rule], framework: &str, version: Option<&str>) -> Vec<MappedRule> {
    rules
        .iter()
        .filter_map(|r| {
            let controls: Vec<String> = r
                .compliance
                .iter()
                .filter(|c| {
                    c.framework.eq_ignore_ascii_case(framework)
                        && version.is_none_or(|v| c.version == v)
                })
                .map(|c| c.control.clone())
                .collect();
            (!controls.is_empty()).then(|| MappedRule {
                rule_id: r.id.clone(),
                title: r.title.clone(),
                severity: r.severity,
                remediation: r.remediation.clone(),
                controls,
            })
        })
        .collect()
}

/// The controls: from the catalogue, or from the mappings.
fn skeleton(catalogue: Option<&Catalogue>, mapped: &[MappedRule]) -> Vec<CatalogueControl> {
    if let Some(c) = catalogue {
        return c.controls.clone();
    }
    let mut ids: Vec<String> = mapped.iter().flat_map(|m| m.controls.clone()).collect();
    ids.sort_by(|a, b| control_order(a, b));
    ids.dedup();
    ids.into_iter()
        .map(|id| CatalogueControl {
            title: String::new(),
            id,
            section: None,
            profile: None,
            assessment: Assessment::Automated,
            why_manual: None,
        })
        .collect()
}

/// One control with the results of its policies, counted into `counts`.
fn control_result(
    c: CatalogueControl,
    mapped: &[MappedRule],
    findings: &[FindingRow],
    counts: &mut Counts,
) -> ControlResult {
    let mut policies: Vec<PolicyResult> = mapped
        .iter()
        .filter(|m| m.controls.contains(&c.id))
        .map(|m| policy_result(m, findings))
        .collect();
    policies.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule_id.cmp(&b.rule_id)));
    let status = control_status(c.assessment, &policies);
    match status {
        ControlStatus::Pass => counts.pass += 1,
        ControlStatus::Fail => counts.fail += 1,
        ControlStatus::Error => counts.error += 1,
        ControlStatus::Manual => counts.manual += 1,
        ControlStatus::NotApplicable => counts.not_applicable += 1,
        ControlStatus::NotCovered => counts.not_covered += 1,
    }
    let title = match c.title.is_empty() {
        true => policies
            .first()
            .map(|p| p.title.clone())
            .unwrap_or_default(),
        false => c.title,
    };
    ControlResult {
        id: c.id,
        title,
        section: c.section,
        profile: c.profile,
        assessment: c.assessment,
        status,
        why_manual: c.why_manual,
        policies,
    }
}

fn control_status(assessment: Assessment, policies: &[PolicyResult]) -> ControlStatus {
    if assessment == Assessment::Manual && policies.is_empty() {
        ControlStatus::Manual
    } else if policies.is_empty() {
        ControlStatus::NotCovered
    } else if policies.iter().any(|p| p.fail > 0) {
        ControlStatus::Fail
    } else if policies.iter().any(|p| p.error > 0) {
        ControlStatus::Error
    } else if policies.iter().any(|p| p.pass > 0 || p.muted > 0) {
        ControlStatus::Pass
    } else {
        ControlStatus::NotApplicable
    }
}

/// The results of one rule: counts, and the resources that need a look:
/// failures first, then errors, then failures a mute accepts. A muted
/// failure does not fail the control (as Security Hub leaves suppressed
/// findings out of a control's status), yet the report shows it with its
/// reason, so an auditor sees every accepted risk.
fn policy_result(m: &MappedRule, findings: &[FindingRow]) -> PolicyResult {
    let rows: Vec<&FindingRow> = findings.iter().filter(|f| f.rule_id == m.rule_id).collect();
    let count = |s: Status, muted: bool| {
        rows.iter()
            .filter(|f| f.status == s && f.muted_by.is_some() == muted)
            .count()
    };
    let mut resources: Vec<ResourceResult> = rows
        .iter()
        .filter(|f| matches!(f.status, Status::Fail | Status::Error))
        .map(|f| resource_result(f))
        .collect();
    resources.sort_by(|a, b| (attention(a), &a.id).cmp(&(attention(b), &b.id)));
    PolicyResult {
        rule_id: m.rule_id.clone(),
        title: m.title.clone(),
        severity: m.severity,
        pass: rows.iter().filter(|f| f.status == Status::Pass).count(),
        fail: count(Status::Fail, false),
        muted: count(Status::Fail, true),
        error: rows.iter().filter(|f| f.status == Status::Error).count(),
        resources,
        remediation: m.remediation.clone(),
    }
}

/// Where a resource goes in its policy's list: failures, errors, muted.
fn attention(r: &ResourceResult) -> u8 {
    match (r.status, r.muted_by.is_some()) {
        (Status::Fail, false) => 0,
        (Status::Fail, true) => 2,
        _ => 1,
    }
}

fn resource_result(f: &FindingRow) -> ResourceResult {
    ResourceResult {
        status: f.status,
        id: f.resource.id.clone(),
        name: f.resource.name.clone(),
        resource_type: f.resource.resource_type.clone(),
        account: f.resource.account.clone(),
        region: f.resource.region.clone(),
        message: f.message.clone(),
        evidence: f.evidence.clone(),
        muted_by: f.muted_by.clone(),
    }
}

/// The framework as the report names it: its catalogue, or the framework
/// of the mappings with every version they name.
fn framework_info(
    catalogue: Option<&Catalogue>,
    framework: String,
    rules: &[Rule],
) -> FrameworkInfo {
    if let Some(c) = catalogue {
        return FrameworkInfo {
            id: c.id.clone(),
            framework: c.framework.clone(),
            version: c.version.clone(),
            name: c.name.clone(),
            url: c.url.clone(),
        };
    }
    let mut versions: Vec<String> = rules
        .iter()
        .flat_map(|r| r.compliance.iter())
        .filter(|c| c.framework.eq_ignore_ascii_case(&framework))
        .map(|c| c.version.clone())
        .collect();
    versions.sort();
    versions.dedup();
    FrameworkInfo {
        id: framework.clone(),
        framework: framework.clone(),
        version: versions.join(", "),
        name: framework,
        url: None,
    }
}

/// The report as CSV: one row per (control, policy), with the failing resources.
pub fn write_csv(out: &mut dyn Write, r: &ComplianceReport) -> io::Result<()> {
    super::write_csv(
        out,
        &[
            "control",
            "title",
            "section",
            "assessment",
            "status",
            "policy",
            "severity",
            "pass",
            "fail",
            "error",
            "muted",
            "failing_resources",
        ],
        r.controls.iter().flat_map(csv_rows),
    )
}

fn csv_rows(c: &ControlResult) -> Vec<Vec<String>> {
    let base = vec![
        c.id.clone(),
        c.title.clone(),
        c.section.clone().unwrap_or_default(),
        format!("{:?}", c.assessment).to_lowercase(),
        c.status.as_str().to_string(),
    ];
    if c.policies.is_empty() {
        let mut row = base;
        row.extend(["", "", "0", "0", "0", "0", ""].map(String::from));
        return vec![row];
    }
    c.policies
        .iter()
        .map(|p| {
            let mut row = base.clone();
            let failing: Vec<&str> = p
                .resources
                .iter()
                .filter(|x| x.muted_by.is_none())
                .map(|x| x.id.as_str())
                .collect();
            row.extend([
                p.rule_id.clone(),
                p.severity.to_string(),
                p.pass.to_string(),
                p.fail.to_string(),
                p.error.to_string(),
                p.muted.to_string(),
                failing.join("; "),
            ]);
            row
        })
        .collect()
}

/// The report as a terminal table with a line of counts.
pub fn write_table(out: &mut dyn Write, r: &ComplianceReport) -> io::Result<()> {
    let out = &mut super::TerminalWriter::new(out);
    let mut t = super::table(&["CONTROL", "STATUS", "TITLE", "POLICIES", "FAILING"]);
    for c in &r.controls {
        let failing: usize = c.policies.iter().map(|p| p.fail).sum();
        t.add_row(vec![
            c.id.clone(),
            c.status.as_str().replace('_', " "),
            c.title.clone(),
            c.policies.len().to_string(),
            failing.to_string(),
        ]);
    }
    writeln!(out, "{t}")?;
    let muted: usize = r
        .controls
        .iter()
        .flat_map(|c| &c.policies)
        .map(|p| p.muted)
        .sum();
    if muted > 0 {
        writeln!(
            out,
            "{muted} muted failure(s) left out of the control statuses (accepted risks; `--format html` or `json` lists them with their reasons)"
        )?;
    }
    let s = &r.counts;
    writeln!(
        out,
        "{} {}: score {} · pass {} · fail {} · error {} · manual {} · not applicable {} · not covered {}",
        r.framework.name,
        r.framework.version,
        score_text(r.score),
        s.pass,
        s.fail,
        s.error,
        s.manual,
        s.not_applicable,
        s.not_covered
    )
}

/// A score as people read it: `83%`, or `n/a`.
pub fn score_text(score: Option<f64>) -> String {
    score.map_or("n/a".to_string(), |v| format!("{v:.0}%"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(pass: usize, fail: usize, muted: usize, error: usize) -> PolicyResult {
        PolicyResult {
            rule_id: "r".into(),
            title: "t".into(),
            severity: Severity::High,
            pass,
            fail,
            muted,
            error,
            resources: Vec::new(),
            remediation: Remediation::default(),
        }
    }

    #[test]
    fn a_muted_failure_does_not_fail_its_control_but_a_real_one_does() {
        let status = |p: PolicyResult| control_status(Assessment::Automated, &[p]);
        assert_eq!(status(policy(0, 0, 1, 0)), ControlStatus::Pass);
        assert_eq!(status(policy(3, 0, 2, 0)), ControlStatus::Pass);
        assert_eq!(status(policy(3, 1, 2, 0)), ControlStatus::Fail);
        assert_eq!(status(policy(0, 0, 1, 1)), ControlStatus::Error);
        assert_eq!(status(policy(0, 0, 0, 0)), ControlStatus::NotApplicable);
    }

    #[test]
    fn control_ids_sort_naturally() {
        let mut ids = vec![
            "1.10", "1.2", "S3.12", "S3.1", "2.1.1", "10.1", "AC-2(1)", "AC-2",
        ];
        ids.sort_by(|a, b| control_order(a, b));
        assert_eq!(
            ids,
            [
                "1.2", "1.10", "2.1.1", "10.1", "AC-2", "AC-2(1)", "S3.1", "S3.12"
            ]
        );
    }

    #[test]
    fn builtin_catalogues_parse() {
        let c = catalogues().unwrap();
        assert!(c.iter().any(|c| c.id == "cis-aws-v5"));
        for cat in &c {
            for control in &cat.controls {
                if control.assessment == Assessment::Manual {
                    assert!(
                        control.why_manual.is_some(),
                        "{} {} has no why_manual",
                        cat.id,
                        control.id
                    );
                }
            }
        }
    }
}
