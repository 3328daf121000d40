//! Test cases (`docs/test-cases.md`): reading case files of assets (policy
//! plugins) and of events (detectors), and comparing what a plugin reported
//! with their expectations. The runner that drives plugins lives in
//! `devkit::suite`; this module only knows the format and the comparison.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use crate::collect::snapshot::default_name;
use crate::model::{Asset, Finding, Status};

/// `collected_at` of case assets that do not give their own.
pub const DEFAULT_COLLECTED_AT: &str = "2026-11-01T00:00:00Z";

/// Why a case file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The case file, as displayed.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not YAML or JSON of the case format (unknown fields included).
    #[error("{file}: {message}")]
    Parse {
        /// The case file, as displayed.
        file: String,
        /// The parser's message, with its line and column.
        message: String,
    },
}

/// A case file of a policy plugin: assets in, findings expected.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// The cases, in file order.
    pub cases: Vec<Case>,
}

/// One case of a policy plugin: assets evaluated together, and the findings expected.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the case checks, for people; it names the case in reports and `--filter`.
    pub name: String,
    /// Settings for this case, over the plugin's own.
    #[serde(default)]
    pub settings: Option<serde_json::Map<String, serde_json::Value>>,
    /// The input assets, in the snapshot format with defaults ([`CaseAsset`]).
    pub assets: Vec<CaseAsset>,
    /// The findings expected; for each rule named here, exactly these.
    pub expect: Vec<Expectation>,
}

/// A case file of a detector: events in, alert counts per rule out.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventCaseFile {
    /// The cases, in file order.
    pub cases: Vec<EventCase>,
}

/// One case of a detector: raw records in one batch on an empty state, and
/// the alert counts expected.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventCase {
    /// What the case checks, for people; it names the case in reports and `--filter`.
    pub name: String,
    /// Settings for this case, over the plugin's own.
    #[serde(default)]
    pub settings: Option<serde_json::Map<String, serde_json::Value>>,
    /// Raw records as the log source writes them (CloudTrail by default).
    pub events: Vec<serde_json::Value>,
    /// Alert counts expected per rule; rules not named are not checked.
    pub expect: Vec<AlertExpectation>,
}

/// How many alerts one rule of a detector must report over a case's events.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertExpectation {
    /// The rule's id.
    pub rule: String,
    /// How many alerts the rule reports over the case's events.
    pub count: usize,
}

/// One (rule, resource) of a policy case: what was expected, what came.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The rule's id.
    pub rule: String,
    /// The asset's id.
    pub resource: String,
    /// The status expected; `None` for a finding the case did not expect.
    pub expected: Option<Status>,
    /// Status and message of the finding, when the rule reported one.
    pub got: Option<(Status, String)>,
    /// Expected evidence paths the finding lacks.
    pub missing_evidence: Vec<String>,
    /// The finding's evidence paths.
    pub evidence: Vec<String>,
}

impl Row {
    /// Whether the rule reported the expected status with every expected
    /// evidence path; false for an unexpected finding.
    pub fn ok(&self) -> bool {
        self.missing_evidence.is_empty()
            && match (&self.expected, &self.got) {
                (Some(e), Some((g, _))) => e == g,
                _ => false,
            }
    }
}

/// An asset of a case: the snapshot format, with defaults for what a case
/// rarely cares about.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseAsset {
    /// The asset's id (an ARN for AWS resources).
    pub id: String,
    /// Its resource type, such as `aws_s3_bucket`.
    pub resource_type: String,
    /// Its provider; `aws` when not given.
    #[serde(default = "aws")]
    pub provider: String,
    /// Its account id.
    pub account: String,
    /// Its region (`global` for global resources).
    pub region: String,
    /// Its name; the id's last segment when not given.
    #[serde(default)]
    pub name: Option<String>,
    /// Its tags; none when not given.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// When it was collected (RFC 3339); [`DEFAULT_COLLECTED_AT`] when not given.
    #[serde(default)]
    pub collected_at: Option<String>,
    /// The resource's configuration, as the collector records it.
    pub body: serde_json::Map<String, serde_json::Value>,
}

fn aws() -> String {
    "aws".into()
}

/// A finding a case expects.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// The rule's id.
    pub rule: String,
    /// The asset's id.
    pub resource: String,
    /// The status the rule must report on it.
    pub status: Status,
    /// Paths that must appear in the finding's evidence; none when not given.
    #[serde(default)]
    pub evidence_paths: Vec<String>,
}

impl CaseAsset {
    /// The asset a plugin sees, defaults filled in.
    pub fn to_asset(&self) -> Asset {
        Asset {
            id: self.id.clone(),
            resource_type: self.resource_type.clone(),
            provider: self.provider.clone(),
            account: self.account.clone(),
            region: self.region.clone(),
            name: self.name.clone().unwrap_or_else(|| default_name(&self.id)),
            tags: self.tags.clone().into_iter().collect(),
            collected_at: self
                .collected_at
                .clone()
                .unwrap_or_else(|| DEFAULT_COLLECTED_AT.to_string()),
            body: serde_json::Value::Object(self.body.clone()).to_string(),
            gaps: Vec::new(),
        }
    }
}

/// Read a case file (YAML or JSON).
pub fn read(path: &Path) -> Result<CaseFile, CaseError> {
    read_as(path)
}

/// Read a detector's case file (YAML or JSON).
pub fn read_events(path: &Path) -> Result<EventCaseFile, CaseError> {
    read_as(path)
}

fn read_as<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, CaseError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| CaseError::Read {
        file: file.clone(),
        source,
    })?;
    serde_norway::from_str(&text).map_err(|e| CaseError::Parse {
        file,
        message: e.to_string(),
    })
}

/// Every (rule, resource) a case's expectations and the findings of its
/// rules name, in expectation order, then unexpected findings. For every
/// rule named in `expect`, the findings that rule produced on the case's
/// assets must be exactly the expected ones; other rules are ignored.
pub fn compare(case: &Case, findings: &[Finding]) -> Vec<Row> {
    let rules: BTreeSet<&str> = case.expect.iter().map(|e| e.rule.as_str()).collect();
    let mut rows = Vec::new();
    let mut matched = BTreeSet::new();
    for e in &case.expect {
        let f = findings
            .iter()
            .find(|f| f.rule_id == e.rule && f.asset_id == e.resource);
        if let Some(f) = f {
            matched.insert((f.rule_id.as_str(), f.asset_id.as_str()));
        }
        let evidence: Vec<String> = f
            .map(|f| f.evidence.iter().map(|ev| ev.path.clone()).collect())
            .unwrap_or_default();
        let missing_evidence = match f {
            Some(_) => e
                .evidence_paths
                .iter()
                .filter(|p| !evidence.contains(p))
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        rows.push(Row {
            rule: e.rule.clone(),
            resource: e.resource.clone(),
            expected: Some(e.status),
            got: f.map(|f| (f.status, f.message.clone())),
            missing_evidence,
            evidence,
        });
    }
    for f in findings {
        if rules.contains(f.rule_id.as_str())
            && !matched.contains(&(f.rule_id.as_str(), f.asset_id.as_str()))
        {
            rows.push(Row {
                rule: f.rule_id.clone(),
                resource: f.asset_id.clone(),
                expected: None,
                got: Some((f.status, f.message.clone())),
                missing_evidence: Vec::new(),
                evidence: f.evidence.iter().map(|ev| ev.path.clone()).collect(),
            });
        }
    }
    rows
}

/// Compare findings with a case's expectations ([`compare`]). Returns one
/// line per mismatch; empty means the case passes.
pub fn check(case: &Case, findings: &[Finding]) -> Vec<String> {
    let mut problems = Vec::new();
    for row in compare(case, findings) {
        let (rule, resource) = (&row.rule, &row.resource);
        match (&row.expected, &row.got) {
            (Some(e), None) => problems.push(format!(
                "expected {rule} on {resource} to be {e}, but the rule reported nothing"
            )),
            (Some(e), Some((g, message))) if e != g => {
                let why = if message.is_empty() {
                    String::new()
                } else {
                    format!(" ({message})")
                };
                problems.push(format!(
                    "expected {rule} on {resource} to be {e}, got {g}{why}"
                ));
            }
            (None, Some((g, _))) => {
                problems.push(format!("unexpected {g} result of {rule} on {resource}"))
            }
            _ => {}
        }
        for path in &row.missing_evidence {
            problems.push(format!(
                "expected evidence {path} for {rule} on {resource}; evidence was {:?}",
                row.evidence
            ));
        }
    }
    problems
}
