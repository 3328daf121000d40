//! Compliance reports: a framework's controls, each with the status of the
//! policies mapped to it in one scan, the failing resources with their
//! evidence, remediation, and a score. The catalogues of controls live in
//! `policies/frameworks/`; frameworks without one are built from the
//! mappings in the policies themselves.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Evidence, Remediation, Severity, Status};
use crate::store::{FindingFilter, ScanRow, Store, StoreError};

/// A framework catalogue file (`policies/frameworks/*.yaml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    /// What `stance report --framework` takes, e.g. `cis-aws-v5`.
    pub id: String,
    /// The value of `compliance[].framework` in policies.
    pub framework: String,
    pub version: String,
    pub name: String,
    #[serde(default)]
    pub url: Option<String>,
    pub controls: Vec<CatalogueControl>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogueControl {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub section: Option<String>,
    #[serde(default)]
    pub profile: Option<String>,
    pub assessment: Assessment,
    #[serde(default)]
    pub why_manual: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Assessment {
    Automated,
    Manual,
}

/// A control's outcome in a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlStatus {
    Pass,
    Fail,
    Error,
    Manual,
    /// Automated, and its policies found nothing in scope to judge.
    NotApplicable,
    /// Automated, but no policy implements it.
    NotCovered,
}

impl ControlStatus {
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

#[derive(Debug, Clone, Serialize)]
pub struct ResourceResult {
    pub status: Status,
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    pub account: String,
    pub region: String,
    pub message: String,
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PolicyResult {
    pub rule_id: String,
    pub title: String,
    pub severity: Severity,
    pub pass: usize,
    pub fail: usize,
    pub error: usize,
    /// Failing and erroring resources, worst first.
    pub resources: Vec<ResourceResult>,
    pub remediation: Remediation,
}

#[derive(Debug, Clone, Serialize)]
pub struct ControlResult {
    pub id: String,
    pub title: String,
    pub section: Option<String>,
    pub profile: Option<String>,
    pub assessment: Assessment,
    pub status: ControlStatus,
    pub why_manual: Option<String>,
    pub policies: Vec<PolicyResult>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub pass: usize,
    pub fail: usize,
    pub error: usize,
    pub manual: usize,
    pub not_applicable: usize,
    pub not_covered: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct FrameworkInfo {
    pub id: String,
    pub framework: String,
    pub version: String,
    pub name: String,
    pub url: Option<String>,
}

/// The whole report, as rendered to HTML, JSON and CSV.
#[derive(Debug, Clone, Serialize)]
pub struct ComplianceReport {
    pub framework: FrameworkInfo,
    pub scan: ScanRow,
    pub generated_at: String,
    pub stance_version: String,
    /// Percentage of automated controls that pass, out of those that pass,
    /// fail, error or are not covered (not-applicable and manual controls
    /// are left out); `None` when there are none.
    pub score: Option<f64>,
    pub counts: Counts,
    pub controls: Vec<ControlResult>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{file}: {message}")]
    Catalogue { file: String, message: String },
    #[error(
        "no framework {0:?}: frameworks with a catalogue are {1}; any framework named in policies' compliance mappings (e.g. nist-800-53, pci-dss, soc2) also works"
    )]
    UnknownFramework(String, String),
    #[error("there is no complete scan #{0}; `stance scans` lists them")]
    NoScan(i64),
    #[error("no scans yet; run `stance scan` first")]
    NoScans,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The framework catalogues built into the binary.
pub fn catalogues() -> Result<Vec<Catalogue>, ReportError> {
    crate::runtime::builtin::frameworks()
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

    // Rules of this scan mapped to the framework, with the controls they implement.
    let rules = store.rules(scan_id)?;
    let (framework_name, version) = match catalogue {
        Some(c) => (c.framework.clone(), Some(c.version.clone())),
        None => (wanted.clone(), None),
    };
    let mapped: Vec<MappedRule> = rules
        .into_iter()
        .filter_map(|r| {
            let controls: Vec<String> = r
                .compliance
                .iter()
                .filter(|c| {
                    c.framework.eq_ignore_ascii_case(&framework_name)
                        && version.as_ref().is_none_or(|v| &c.version == v)
                })
                .map(|c| c.control.clone())
                .collect();
            (!controls.is_empty()).then_some(MappedRule {
                rule_id: r.id,
                title: r.title,
                severity: r.severity,
                remediation: r.remediation,
                controls,
            })
        })
        .collect();
    if catalogue.is_none() && mapped.is_empty() {
        let known: Vec<String> = catalogues.iter().map(|c| c.id.clone()).collect();
        return Err(ReportError::UnknownFramework(
            framework.to_string(),
            known.join(", "),
        ));
    }

    // Results of those rules, by rule.
    let findings = store.findings(&FindingFilter {
        scan: Some(scan_id),
        rules: mapped.iter().map(|m| m.rule_id.clone()).collect(),
        ..Default::default()
    })?;
    let mut by_rule: BTreeMap<&str, Vec<&crate::store::FindingRow>> = BTreeMap::new();
    for f in &findings {
        by_rule.entry(f.rule_id.as_str()).or_default().push(f);
    }
    let policy_result = |m: &MappedRule| -> PolicyResult {
        let rows = by_rule.get(m.rule_id.as_str()).cloned().unwrap_or_default();
        let count = |s: Status| rows.iter().filter(|f| f.status == s).count();
        let mut resources: Vec<ResourceResult> = rows
            .iter()
            .filter(|f| matches!(f.status, Status::Fail | Status::Error))
            .map(|f| ResourceResult {
                status: f.status,
                id: f.resource.id.clone(),
                name: f.resource.name.clone(),
                resource_type: f.resource.resource_type.clone(),
                account: f.resource.account.clone(),
                region: f.resource.region.clone(),
                message: f.message.clone(),
                evidence: f.evidence.clone(),
            })
            .collect();
        resources.sort_by(|a, b| {
            (a.status != Status::Fail, &a.id).cmp(&(b.status != Status::Fail, &b.id))
        });
        PolicyResult {
            rule_id: m.rule_id.clone(),
            title: m.title.clone(),
            severity: m.severity,
            pass: count(Status::Pass),
            fail: count(Status::Fail),
            error: count(Status::Error),
            resources,
            remediation: m.remediation.clone(),
        }
    };

    // The controls: from the catalogue, or from the mappings.
    let skeleton: Vec<CatalogueControl> = match catalogue {
        Some(c) => c.controls.clone(),
        None => {
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
    };
    let mut counts = Counts::default();
    let mut controls = Vec::with_capacity(skeleton.len());
    for c in skeleton {
        let mut policies: Vec<PolicyResult> = mapped
            .iter()
            .filter(|m| m.controls.contains(&c.id))
            .map(&policy_result)
            .collect();
        policies.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule_id.cmp(&b.rule_id)));
        let status = if c.assessment == Assessment::Manual && policies.is_empty() {
            ControlStatus::Manual
        } else if policies.is_empty() {
            ControlStatus::NotCovered
        } else if policies.iter().any(|p| p.fail > 0) {
            ControlStatus::Fail
        } else if policies.iter().any(|p| p.error > 0) {
            ControlStatus::Error
        } else if policies.iter().any(|p| p.pass > 0) {
            ControlStatus::Pass
        } else {
            ControlStatus::NotApplicable
        };
        match status {
            ControlStatus::Pass => counts.pass += 1,
            ControlStatus::Fail => counts.fail += 1,
            ControlStatus::Error => counts.error += 1,
            ControlStatus::Manual => counts.manual += 1,
            ControlStatus::NotApplicable => counts.not_applicable += 1,
            ControlStatus::NotCovered => counts.not_covered += 1,
        }
        let title = if c.title.is_empty() {
            policies
                .first()
                .map(|p| p.title.clone())
                .unwrap_or_default()
        } else {
            c.title
        };
        controls.push(ControlResult {
            id: c.id,
            title,
            section: c.section,
            profile: c.profile,
            assessment: c.assessment,
            status,
            why_manual: c.why_manual,
            policies,
        });
    }
    let judged = counts.pass + counts.fail + counts.error + counts.not_covered;
    let score = (judged > 0).then(|| 100.0 * counts.pass as f64 / judged as f64);
    let info = match catalogue {
        Some(c) => FrameworkInfo {
            id: c.id.clone(),
            framework: c.framework.clone(),
            version: c.version.clone(),
            name: c.name.clone(),
            url: c.url.clone(),
        },
        None => {
            let versions: Vec<String> = {
                let mut v: Vec<String> = store
                    .rules(scan_id)?
                    .iter()
                    .flat_map(|r| r.compliance.iter())
                    .filter(|c| c.framework.eq_ignore_ascii_case(&framework_name))
                    .map(|c| c.version.clone())
                    .collect();
                v.sort();
                v.dedup();
                v
            };
            FrameworkInfo {
                id: framework_name.clone(),
                framework: framework_name.clone(),
                version: versions.join(", "),
                name: framework_name,
                url: None,
            }
        }
    };
    Ok(ComplianceReport {
        framework: info,
        scan: scan_row,
        generated_at: crate::model::now_rfc3339(),
        stance_version: env!("CARGO_PKG_VERSION").to_string(),
        score,
        counts,
        controls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
