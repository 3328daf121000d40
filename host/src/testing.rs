//! Policy test cases (`docs/test-cases.md`): reading case files and
//! checking a plugin's findings against their expectations. The runner that
//! drives plugins lives with its caller; this module only knows the format
//! and the comparison.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use crate::collect::snapshot::default_name;
use crate::model::{Asset, Finding, Status};

/// `collected_at` of case assets that do not give their own.
pub const DEFAULT_COLLECTED_AT: &str = "2026-11-01T00:00:00Z";

#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    pub cases: Vec<Case>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    pub assets: Vec<CaseAsset>,
    pub expect: Vec<Expectation>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseAsset {
    pub id: String,
    pub resource_type: String,
    #[serde(default = "aws")]
    pub provider: String,
    pub account: String,
    pub region: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub collected_at: Option<String>,
    pub body: serde_json::Map<String, serde_json::Value>,
}

fn aws() -> String {
    "aws".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    pub rule: String,
    pub resource: String,
    pub status: Status,
    #[serde(default)]
    pub evidence_paths: Vec<String>,
}

impl CaseAsset {
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

/// Compare findings with a case's expectations. For every rule named in
/// `expect`, that rule's findings on the case's assets must be exactly the
/// expected ones. Returns one line per mismatch; empty means the case passes.
pub fn check(case: &Case, findings: &[Finding]) -> Vec<String> {
    let rules: BTreeSet<&str> = case.expect.iter().map(|e| e.rule.as_str()).collect();
    let mut problems = Vec::new();
    let mut matched = BTreeSet::new();
    for e in &case.expect {
        match findings
            .iter()
            .find(|f| f.rule_id == e.rule && f.asset_id == e.resource)
        {
            None => problems.push(format!(
                "expected {} on {} to be {}, but the rule reported nothing",
                e.rule, e.resource, e.status
            )),
            Some(f) => {
                matched.insert((f.rule_id.as_str(), f.asset_id.as_str()));
                if f.status != e.status {
                    let why = if f.message.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", f.message)
                    };
                    problems.push(format!(
                        "expected {} on {} to be {}, got {}{why}",
                        e.rule, e.resource, e.status, f.status
                    ));
                }
                for path in &e.evidence_paths {
                    if !f.evidence.iter().any(|ev| &ev.path == path) {
                        let got: Vec<&str> = f.evidence.iter().map(|ev| ev.path.as_str()).collect();
                        problems.push(format!(
                            "expected evidence {path} for {} on {}; evidence was {got:?}",
                            e.rule, e.resource
                        ));
                    }
                }
            }
        }
    }
    for f in findings {
        if rules.contains(f.rule_id.as_str())
            && !matched.contains(&(f.rule_id.as_str(), f.asset_id.as_str()))
        {
            problems.push(format!(
                "unexpected {} result of {} on {}",
                f.status, f.rule_id, f.asset_id
            ));
        }
    }
    problems
}
