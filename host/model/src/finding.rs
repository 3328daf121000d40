//! What evaluation produces: findings (one verdict of one rule on one asset)
//! with their evidence and deterministic identity, and the record of a
//! plugin batch that failed.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Severity, Status};

/// One value a rule looked at, and what it expected there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The body path, e.g. `versioning.status`.
    pub path: String,
    /// The value found there.
    pub actual: serde_json::Value,
    /// What the rule wanted, in words or as an expression.
    pub expected: String,
}

/// The verdict of one rule on one asset in one scan.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// [`fingerprint`] of (rule, asset): the same across scans.
    pub fingerprint: String,
    /// The rule that decided.
    pub rule_id: String,
    /// The plugin that carries the rule.
    pub plugin: String,
    /// The plugin's version.
    pub plugin_version: String,
    /// The asset judged.
    pub asset_id: String,
    /// The asset's resource type.
    pub resource_type: String,
    /// The asset's account.
    pub account: String,
    /// The asset's region.
    pub region: String,
    /// The rule's severity, or the plugin's override for this asset.
    pub severity: Severity,
    /// The verdict.
    pub status: Status,
    /// One line saying why.
    pub message: String,
    /// What the rule looked at.
    pub evidence: Vec<Evidence>,
}

/// The mute that covers a failing finding: an accepted risk, with why and
/// until when. A muted finding keeps its status (`fail`); reports show it
/// apart, `--fail-on` ignores it, and OCSF and ASFF mark it suppressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MuteRef {
    /// The mute's id, as in the mute file.
    pub id: String,
    /// Why the risk is accepted.
    pub reason: String,
    /// Who owns the decision, when the mute names someone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The day the mute stops applying (`YYYY-MM-DD`, UTC; it covers findings
    /// of scans before that day); `None` for a permanent mute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// The deterministic identity of a (rule, resource) pair across scans.
pub fn fingerprint(rule_id: &str, asset_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(rule_id.as_bytes());
    h.update([0]);
    h.update(asset_id.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// A plugin batch that failed (trap, timeout, limit, invalid output or an
/// error the plugin reported), as a scan or a detection run records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureRecord {
    /// The plugin's name.
    pub plugin: String,
    /// The plugin's version.
    pub plugin_version: String,
    /// The rule the failure is attributed to, when the plugin said.
    pub rule_id: Option<String>,
    /// The batch number within the run.
    pub batch: usize,
    /// Assets (or events) in the batch.
    pub assets: usize,
    /// A short stable name: `timeout`, `memory-limit`, `trap`, …
    pub kind: String,
    /// The whole cause, for people.
    pub cause: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_separate_rule_from_resource() {
        assert_eq!(fingerprint("a", "b"), fingerprint("a", "b"));
        assert_ne!(fingerprint("ab", "c"), fingerprint("a", "bc"));
        assert_eq!(fingerprint("a", "b").len(), 32);
    }
}
