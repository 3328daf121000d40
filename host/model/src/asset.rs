//! What collection produces: assets (one cloud resource each) with the
//! fields that could not be read, the scope a collection covered, what could
//! not be collected, and findings imported from other tools.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::{ComplianceRef, Remediation, Severity, Status};

/// A field of an asset's body that the collector could not read. Rules that
/// read it report `error` on the asset instead of judging a `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gap {
    /// Top-level body field, e.g. `encryption`.
    pub field: String,
    /// The API operation that failed, e.g. `GetBucketEncryption`.
    pub operation: String,
    /// Why it failed, as the provider said.
    pub error: String,
}

/// Something a collector could not collect: a whole resource type in an
/// account and region (`resource_types` non-empty), or an operation whose
/// failure only left gaps in some assets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionError {
    /// `aws`.
    pub provider: String,
    /// The account the call was made in.
    pub account: String,
    /// The region, or `global`.
    pub region: String,
    /// The service, as Stance names it (`s3`, `iam`, …).
    pub service: String,
    /// The API operation, or `*` for the whole service.
    pub operation: String,
    /// `access-denied`, `region-disabled`, `throttled`, `unsupported`,
    /// `timeout`, `network`, `not-built` or `other`.
    pub kind: String,
    /// The provider's message.
    pub message: String,
    /// The resource types left uncollected (empty when only gaps resulted).
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
    /// The source's title of the finding.
    pub title: String,
    /// The source's severity, mapped onto Stance's.
    pub severity: Severity,
    /// The source's verdict, mapped onto Stance's.
    pub status: Status,
    /// The resource the finding is about (an ARN).
    pub resource_id: String,
    /// The resource's type, as Stance names types.
    pub resource_type: String,
    /// The account of the resource.
    pub account: String,
    /// The region of the resource.
    pub region: String,
    /// The source's description.
    pub message: String,
    /// Controls the finding maps to.
    #[serde(default)]
    pub compliance: Vec<ComplianceRef>,
    /// How to fix it, as the source says.
    #[serde(default)]
    pub remediation: Remediation,
    /// Source-specific detail (for vulnerabilities: CVE, CVSS, package, versions).
    #[serde(default)]
    pub details: serde_json::Value,
    /// When the source first saw it (RFC 3339).
    #[serde(default)]
    pub first_seen: Option<String>,
    /// When the source last saw it (RFC 3339).
    #[serde(default)]
    pub last_seen: Option<String>,
}

/// One cloud resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Asset {
    /// A stable id: the ARN for AWS.
    pub id: String,
    /// The resource type, `aws_s3_bucket` style.
    pub resource_type: String,
    /// `aws`.
    pub provider: String,
    /// The account that owns the resource.
    pub account: String,
    /// The resource's region, or `global`.
    pub region: String,
    /// A human name (bucket name, role name, …).
    pub name: String,
    /// Tags, in the provider's order.
    pub tags: Vec<(String, String)>,
    /// When the resource was read (RFC 3339).
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
    /// Account ids.
    #[serde(default)]
    pub accounts: Vec<String>,
    /// Region names.
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
    /// `aws`.
    pub provider: String,
    /// When the collection ran, if known.
    pub collected_at: Option<String>,
    /// The accounts and regions covered.
    pub scope: Scope,
    /// The assets.
    pub assets: Vec<Asset>,
    /// What could not be collected.
    pub errors: Vec<CollectionError>,
    /// Findings of other sources collected with the assets.
    pub findings: Vec<ImportedFinding>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_keys_ignore_order_and_repeats() {
        let a = Scope {
            accounts: vec!["2".into(), "1".into(), "2".into()],
            regions: vec!["us-east-1".into(), "eu-west-1".into()],
        };
        assert_eq!(a.key("aws"), "aws:1,2:eu-west-1,us-east-1");
    }
}
