//! The data model every stage of Stance shares: assets, collections
//! ([`Snapshot`], [`Scope`]), rules, findings and their enumerations
//! (DESIGN.md, "Data model"). Plain data; no I/O here. A crate of its own so
//! that the host and the collectors (`stance-aws`) build against it in parallel.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "info" | "informational" => Ok(Severity::Info),
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            _ => Err(format!(
                "unknown severity {s:?}; use critical, high, medium, low or info"
            )),
        }
    }
}

/// The outcome of a rule on an asset. `Error` means the rule could not
/// decide, or its plugin failed on the batch; it is never counted as a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Error => "error",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "pass" => Ok(Status::Pass),
            "fail" => Ok(Status::Fail),
            "error" => Ok(Status::Error),
            _ => Err(format!("unknown status {s:?}; use pass, fail or error")),
        }
    }
}

/// Where a failing finding stands compared with earlier scans of the same scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lifecycle {
    New,
    Recurring,
    Reopened,
    Resolved,
}

impl Lifecycle {
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::New => "new",
            Lifecycle::Recurring => "recurring",
            Lifecycle::Reopened => "reopened",
            Lifecycle::Resolved => "resolved",
        }
    }
}

impl FromStr for Lifecycle {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "new" => Ok(Lifecycle::New),
            "recurring" => Ok(Lifecycle::Recurring),
            "reopened" => Ok(Lifecycle::Reopened),
            "resolved" => Ok(Lifecycle::Resolved),
            _ => Err(format!(
                "unknown lifecycle {s:?}; use new, recurring, reopened or resolved"
            )),
        }
    }
}

/// A field of an asset's body that the collector could not read. Rules that
/// read it report `error` on the asset instead of judging a `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gap {
    /// Top-level body field, e.g. `encryption`.
    pub field: String,
    /// The API operation that failed, e.g. `GetBucketEncryption`.
    pub operation: String,
    pub error: String,
}

/// Something a collector could not collect: a whole resource type in an
/// account and region (`resource_types` non-empty), or an operation whose
/// failure only left gaps in some assets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionError {
    pub provider: String,
    pub account: String,
    pub region: String,
    pub service: String,
    pub operation: String,
    /// `access-denied`, `region-disabled`, `throttled`, `unsupported`,
    /// `timeout`, `network`, `not-built` or `other`.
    pub kind: String,
    pub message: String,
    #[serde(default)]
    pub resource_types: Vec<String>,
}

/// A finding imported from another source (Security Hub, Inspector2), stored
/// beside Stance's own under that source's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportedFinding {
    /// `securityhub` or `inspector2`.
    pub source: String,
    /// The source's own id of the finding.
    pub id: String,
    /// The control, check or vulnerability id (`S3.8`, `CVE-2024-6387`).
    pub rule_id: String,
    pub title: String,
    pub severity: Severity,
    pub status: Status,
    pub resource_id: String,
    pub resource_type: String,
    pub account: String,
    pub region: String,
    pub message: String,
    #[serde(default)]
    pub compliance: Vec<ComplianceRef>,
    #[serde(default)]
    pub remediation: Remediation,
    /// Source-specific detail (for vulnerabilities: CVE, CVSS, package, versions).
    #[serde(default)]
    pub details: serde_json::Value,
    #[serde(default)]
    pub first_seen: Option<String>,
    #[serde(default)]
    pub last_seen: Option<String>,
}

/// One cloud resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Asset {
    pub id: String,
    pub resource_type: String,
    pub provider: String,
    pub account: String,
    pub region: String,
    pub name: String,
    pub tags: Vec<(String, String)>,
    pub collected_at: String,
    /// The body as JSON text (always an object).
    pub body: String,
    /// Fields the collector could not read.
    pub gaps: Vec<Gap>,
}

/// The accounts and regions a collection covered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    #[serde(default)]
    pub accounts: Vec<String>,
    #[serde(default)]
    pub regions: Vec<String>,
}

impl Scope {
    /// A stable key: findings' lifecycle compares scans with the same key.
    pub fn key(&self, provider: &str) -> String {
        let accounts: BTreeSet<&str> = self.accounts.iter().map(String::as_str).collect();
        let regions: BTreeSet<&str> = self.regions.iter().map(String::as_str).collect();
        format!(
            "{provider}:{}:{}",
            accounts.into_iter().collect::<Vec<_>>().join(","),
            regions.into_iter().collect::<Vec<_>>().join(",")
        )
    }
}

/// A collection of assets, with what could not be collected.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub provider: String,
    pub collected_at: Option<String>,
    pub scope: Scope,
    pub assets: Vec<Asset>,
    pub errors: Vec<CollectionError>,
    /// Findings of other sources collected with the assets.
    pub findings: Vec<ImportedFinding>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplianceRef {
    pub framework: String,
    pub version: String,
    pub control: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remediation {
    pub guidance: String,
    pub console: Option<String>,
    pub cli: Option<String>,
    pub references: Vec<String>,
}

/// A rule a plugin carries, as it described it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub resource_types: Vec<String>,
    pub compliance: Vec<ComplianceRef>,
    pub remediation: Remediation,
    pub tags: Vec<String>,
    /// Body paths the rule reads; empty means any.
    pub reads: Vec<String>,
}

impl Rule {
    pub fn applies_to(&self, resource_type: &str) -> bool {
        self.resource_types
            .iter()
            .any(|p| stance_policy_engine::type_matches(p, resource_type))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub path: String,
    pub actual: serde_json::Value,
    pub expected: String,
}

/// The verdict of one rule on one asset in one scan.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub fingerprint: String,
    pub rule_id: String,
    pub plugin: String,
    pub plugin_version: String,
    pub asset_id: String,
    pub resource_type: String,
    pub account: String,
    pub region: String,
    pub severity: Severity,
    pub status: Status,
    pub message: String,
    pub evidence: Vec<Evidence>,
}

/// The deterministic identity of a (rule, resource) pair across scans.
pub fn fingerprint(rule_id: &str, asset_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(rule_id.as_bytes());
    h.update([0]);
    h.update(asset_id.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// Now, as an RFC 3339 UTC timestamp with second precision.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
