//! The declarative policy language of Stance: YAML policy files, their
//! expression language, and evaluation with evidence.
//!
//! This crate is pure computation, with no I/O: the `yaml-policy` plugin runs
//! it inside the wasm sandbox, and the host links it natively only to
//! validate and list policies (and to measure the sandbox's cost). The
//! language is specified in `docs/policy-language.md`.

#![warn(missing_docs)]

mod error;
mod eval;
mod lexer;
mod parser;
mod policy;
mod reads;

use std::collections::HashMap;

use serde_json::{Map, Value};

pub use error::{LoadError, LoadErrors, SyntaxError};
pub use eval::{Evidence, MAX_EVAL_STEPS, MAX_EVIDENCE, deep_eq};
pub use parser::MAX_DEPTH as MAX_EXPRESSION_DEPTH;
pub use policy::Policy;
pub use stance_model::{ComplianceRef, Remediation, Severity, SourceFile, Status, type_matches};

use eval::{Evaluator, Scope};
use policy::Piece;

/// The asset an expression is evaluated against.
pub struct AssetInput<'a> {
    /// Stable id (the ARN for AWS): `asset.id`.
    pub id: &'a str,
    /// `aws_s3_bucket` style: selects the policies and is `asset.type`.
    pub resource_type: &'a str,
    /// `asset.provider` (`aws`).
    pub provider: &'a str,
    /// `asset.account`.
    pub account: &'a str,
    /// `asset.region`.
    pub region: &'a str,
    /// `asset.name`.
    pub name: &'a str,
    /// `asset.tags`, key and value.
    pub tags: &'a [(String, String)],
    /// RFC 3339 time of collection: what `days_since` counts to.
    pub collected_at: &'a str,
    /// The asset's body: `resource`.
    pub body: &'a Value,
}

/// The verdict of one policy on one asset.
#[derive(Debug, Clone)]
pub struct Outcome<'p> {
    /// The policy that judged.
    pub policy: &'p Policy,
    /// `pass`, `fail`, or `error` when the expression could not be evaluated.
    pub status: Status,
    /// Empty on pass; the rendered `check.message` on fail (or a default);
    /// the reason and the expression at fault on error.
    pub message: String,
    /// On fail, the values that decided it (at most `MAX_EVIDENCE`).
    pub evidence: Vec<Evidence>,
}

/// A validated set of enabled policies, indexed by the resource types they read.
pub struct PolicySet {
    policies: Vec<Policy>,
    /// Enabled policies by exact resource type.
    exact: HashMap<String, Vec<usize>>,
    /// Enabled policies whose resource type is a pattern (`aws_s3_*`, `*`).
    patterns: Vec<usize>,
}

impl PolicySet {
    /// Load policy files. Every problem in every file is reported, not just the first.
    pub fn load(files: &[SourceFile]) -> Result<PolicySet, LoadErrors> {
        let mut policies: Vec<Policy> = Vec::new();
        let mut errors = Vec::new();
        for file in files {
            match policy::load_file(&file.path, &file.text) {
                Ok(ps) => policies.extend(ps),
                Err(es) => errors.extend(es),
            }
        }
        let mut seen: HashMap<&str, &str> = HashMap::new();
        for p in &policies {
            if let Some(first) = seen.insert(&p.id, &p.file) {
                errors.push(LoadError {
                    file: p.file.clone(),
                    line: 0,
                    column: 0,
                    policy_id: Some(p.id.clone()),
                    message: format!("duplicate policy id; it is already defined in {first}"),
                });
            }
        }
        if !errors.is_empty() {
            return Err(LoadErrors(errors));
        }
        Ok(Self::from_policies(policies))
    }

    /// Indexes the enabled policies by resource type.
    fn from_policies(policies: Vec<Policy>) -> PolicySet {
        let mut exact: HashMap<String, Vec<usize>> = HashMap::new();
        let mut patterns = Vec::new();
        for (i, p) in policies.iter().enumerate() {
            if !p.enabled {
                continue;
            }
            if p.resource_type.ends_with('*') {
                patterns.push(i);
            } else {
                exact.entry(p.resource_type.clone()).or_default().push(i);
            }
        }
        PolicySet {
            policies,
            exact,
            patterns,
        }
    }

    /// Every loaded policy, enabled or not, in load order.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// Indexes of the enabled policies that apply to `resource_type`, in load order.
    fn applicable(&self, resource_type: &str) -> Vec<usize> {
        let mut out: Vec<usize> = self.exact.get(resource_type).cloned().unwrap_or_default();
        out.extend(
            self.patterns
                .iter()
                .copied()
                .filter(|&i| self.policies[i].applies_to(resource_type)),
        );
        out.sort_unstable();
        out
    }

    /// Evaluate every applicable enabled policy on one asset.
    pub fn evaluate<'p>(&'p self, asset: &AssetInput<'_>) -> Vec<Outcome<'p>> {
        let applicable = self.applicable(asset.resource_type);
        if applicable.is_empty() {
            return Vec::new();
        }
        let tags: Map<String, Value> = asset
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let asset_value = serde_json::json!({
            "id": asset.id,
            "type": asset.resource_type,
            "provider": asset.provider,
            "account": asset.account,
            "region": asset.region,
            "name": asset.name,
            "tags": tags,
        });
        let scope = Scope {
            resource: asset.body,
            asset: &asset_value,
            collected_at: chrono::DateTime::parse_from_rfc3339(asset.collected_at)
                .ok()
                .map(|t| t.timestamp()),
        };
        applicable
            .into_iter()
            .map(|i| evaluate_one(&self.policies[i], &scope, asset))
            .collect()
    }
}

/// One policy on one asset.
fn evaluate_one<'p>(policy: &'p Policy, scope: &Scope<'_>, asset: &AssetInput<'_>) -> Outcome<'p> {
    // Evaluate fast without evidence; trace again only when the result needs
    // explaining (not when the step budget ran out: it would again).
    let quick = Evaluator::new(scope, &policy.expression, false).check(&policy.expr);
    let result = match quick {
        Ok((true, _)) => quick,
        Err(e) if e.exhausted => Err(e),
        _ => Evaluator::new(scope, &policy.expression, true).check(&policy.expr),
    };
    match result {
        Ok((true, _)) => Outcome {
            policy,
            status: Status::Pass,
            message: String::new(),
            evidence: Vec::new(),
        },
        Ok((false, evidence)) => Outcome {
            policy,
            status: Status::Fail,
            message: render_message(policy, scope, asset),
            evidence,
        },
        Err(e) => {
            let at = policy
                .expression
                .get(e.span.start..e.span.end)
                .unwrap_or_default();
            Outcome {
                policy,
                status: Status::Error,
                message: format!("{} (in `{at}`)", e.message),
                evidence: Vec::new(),
            }
        }
    }
}

/// The finding message: `check.message` with its `{{path}}` placeholders
/// filled (`?` where one cannot be read), or a default naming the asset.
fn render_message(policy: &Policy, scope: &Scope<'_>, asset: &AssetInput<'_>) -> String {
    let Some(pieces) = &policy.message else {
        return format!("{}: failed on {}", policy.name, asset.id);
    };
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Path(expr) => match Evaluator::new(scope, "", false).value(expr) {
                Ok(Value::String(s)) => out.push_str(&s),
                Ok(v) => out.push_str(&v.to_string()),
                Err(_) => out.push('?'),
            },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    //! What needs the set's private index; the language itself is tested
    //! through the public API in `tests/language.rs`.

    use super::*;

    #[test]
    fn resource_type_patterns_select_policies() {
        let files = [
            SourceFile { path: "a.yaml".into(), text: "id: a\nname: A\nseverity: low\nresource_type: aws_s3_bucket\ncheck: {expression: 'true'}\n".into() },
            SourceFile { path: "b.yaml".into(), text: "id: b\nname: B\nseverity: low\nresource_type: aws_s3_*\ncheck: {expression: 'true'}\n".into() },
            SourceFile { path: "c.yaml".into(), text: "id: c\nname: C\nseverity: low\nresource_type: '*'\ncheck: {expression: 'true'}\nenabled: false\n".into() },
        ];
        let set = PolicySet::load(&files).unwrap();
        assert_eq!(set.applicable("aws_s3_bucket"), vec![0, 1]);
        assert_eq!(
            set.applicable("aws_s3_account_public_access_block"),
            vec![1]
        );
        assert!(set.applicable("aws_ec2_instance").is_empty());
    }
}
