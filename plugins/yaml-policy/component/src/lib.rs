//! The declarative policy engine as a Stance plugin: YAML policies arrive as
//! settings, are parsed by `stance-policy-engine` inside the sandbox, and
//! every applicable policy yields one finding per asset.
//!
//! The plugin is stateless (the host may keep an instance for several
//! batches of one scan): the only thing an instance keeps is the policy set
//! it parsed from its settings on its first batch, and settings never
//! change for an instance.

use std::cell::OnceCell;
use std::rc::Rc;

use serde::Deserialize;
use stance_policy_engine::{AssetInput, Outcome, PolicySet, SourceFile, Status as EngineStatus};
use stance_sdk::prelude::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default)]
    policies: Vec<PolicyFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    path: String,
    text: String,
}

fn load() -> Result<PolicySet, PluginError> {
    let settings: Settings = stance_sdk::settings::get()?;
    let files: Vec<SourceFile> = settings
        .policies
        .into_iter()
        .map(|f| SourceFile {
            path: f.path,
            text: f.text,
        })
        .collect();
    PolicySet::load(&files).map_err(|e| PluginError::new(e.to_string()))
}

thread_local! {
    /// The policies this instance parsed, on its first `evaluate`.
    static POLICIES: OnceCell<Rc<PolicySet>> = const { OnceCell::new() };
}

/// The instance's policy set: parsed on the first call, kept for the next.
fn policies() -> Result<Rc<PolicySet>, PluginError> {
    POLICIES.with(|cell| {
        if let Some(set) = cell.get() {
            return Ok(set.clone());
        }
        let set = Rc::new(load()?);
        // Single-threaded: the cell was empty a moment ago.
        let _ = cell.set(set.clone());
        Ok(set)
    })
}

fn severity(s: stance_policy_engine::Severity) -> Severity {
    use stance_policy_engine::Severity as S;
    match s {
        S::Info => Severity::Info,
        S::Low => Severity::Low,
        S::Medium => Severity::Medium,
        S::High => Severity::High,
        S::Critical => Severity::Critical,
    }
}

struct YamlPolicy;

impl Policy for YamlPolicy {
    fn describe() -> Result<PluginInfo, PluginError> {
        let set = load()?;
        let mut info = PluginInfo::new("yaml-policy", env!("CARGO_PKG_VERSION"))
            .description("Evaluates declarative YAML policies (docs/policy-language.md)")
            .setting(
                "policies",
                "array",
                true,
                "policy files: [{path, text}] with the YAML text of each",
            );
        for p in set.policies().iter().filter(|p| p.enabled) {
            info.rules.push(RuleInfo {
                id: p.id.clone(),
                title: p.name.clone(),
                description: p.description.clone(),
                severity: severity(p.severity),
                resource_types: vec![p.resource_type.clone()],
                compliance: p
                    .compliance
                    .iter()
                    .map(|c| ComplianceRef {
                        framework: c.framework.clone(),
                        version: c.version.clone(),
                        control: c.control.clone(),
                    })
                    .collect(),
                remediation: Remediation {
                    guidance: p.remediation.guidance.clone(),
                    console: p.remediation.console.clone(),
                    cli: p.remediation.cli.clone(),
                    references: p.remediation.references.clone(),
                },
                tags: p.tags.clone(),
                reads: p.reads(),
            });
        }
        Ok(info)
    }

    fn evaluate(batch: Vec<Asset>) -> Result<Vec<Finding>, PluginError> {
        let set = policies()?;
        let mut findings = Vec::with_capacity(batch.len() * 4);
        for asset in &batch {
            let body = asset.body_json()?;
            let tags: Vec<(String, String)> = asset
                .tags
                .iter()
                .map(|t| (t.key.clone(), t.value.clone()))
                .collect();
            let input = AssetInput {
                id: &asset.id,
                resource_type: &asset.resource_type,
                provider: &asset.provider,
                account: &asset.account,
                region: &asset.region,
                name: &asset.name,
                tags: &tags,
                collected_at: &asset.collected_at,
                body: &body,
            };
            findings.extend(set.evaluate(&input).into_iter().map(|o| finding(asset, o)));
        }
        Ok(findings)
    }
}

fn finding(asset: &Asset, outcome: Outcome<'_>) -> Finding {
    let id = &outcome.policy.id;
    let mut f = match outcome.status {
        EngineStatus::Pass => Finding::pass(id, asset),
        EngineStatus::Fail => Finding::fail(id, asset, outcome.message),
        EngineStatus::Error => Finding::error(id, asset, outcome.message),
    };
    for e in outcome.evidence {
        f = f.with_evidence(&e.path, &e.actual, &e.expected);
    }
    f
}

stance_sdk::export_policy!(YamlPolicy);
