//! Rules as plugins describe them: severity, the resource types they read,
//! compliance mappings and remediation; and the one definition of how a
//! resource-type pattern matches a type.

use serde::{Deserialize, Serialize};

use crate::Severity;

/// One rule source file (a YAML policy file, a Sigma rule file): where it
/// came from, for messages (a path, `builtin:…` or `pack:NAME@VERSION/FILE`),
/// and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Where the text came from.
    pub path: String,
    /// The file's text.
    pub text: String,
}

/// A control of a compliance framework that a rule maps to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplianceRef {
    /// The framework id, e.g. `cis-aws`.
    pub framework: String,
    /// The framework's version, e.g. `5.0.0`.
    pub version: String,
    /// The control id within the framework, e.g. `2.1.1`.
    pub control: String,
}

/// How to fix what a rule finds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Remediation {
    /// What to do, in prose.
    #[serde(default)]
    pub guidance: String,
    /// Where to do it in the console.
    #[serde(default)]
    pub console: Option<String>,
    /// A command that does it.
    #[serde(default)]
    pub cli: Option<String>,
    /// Links to the provider's documentation.
    #[serde(default)]
    pub references: Vec<String>,
}

/// A rule a plugin carries, as it described it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Unique across every plugin of a run.
    pub id: String,
    /// One line.
    pub title: String,
    /// What the rule checks and why.
    pub description: String,
    /// Severity of a failure (a finding may override it).
    pub severity: Severity,
    /// Resource types or patterns (`aws_ec2_*`) the rule reads.
    pub resource_types: Vec<String>,
    /// Controls the rule maps to.
    pub compliance: Vec<ComplianceRef>,
    /// How to fix a failure.
    pub remediation: Remediation,
    /// Free-form labels.
    pub tags: Vec<String>,
    /// Body paths the rule reads; empty means any.
    pub reads: Vec<String>,
}

impl Rule {
    /// Does the rule read assets of this type?
    pub fn applies_to(&self, resource_type: &str) -> bool {
        self.resource_types
            .iter()
            .any(|p| type_matches(p, resource_type))
    }
}

/// A resource-type pattern: an exact type, or a prefix ending in `*`
/// (`aws_ec2_*` matches `aws_ec2_instance`).
pub fn type_matches(pattern: &str, resource_type: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => resource_type.starts_with(prefix),
        None => pattern == resource_type,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_exactly_or_by_prefix() {
        assert!(type_matches("aws_ec2_*", "aws_ec2_instance"));
        assert!(type_matches("aws_s3_bucket", "aws_s3_bucket"));
        assert!(!type_matches("aws_s3_bucket", "aws_s3_bucket_policy"));
        assert!(!type_matches("aws_ec2_*", "aws_ecr_repository"));
    }
}
