//! Policy plugins (the `policy` world): assets in, findings out. A batch
//! runs on a fresh instance ([`PolicyPlugin::evaluate`]), or on an instance
//! kept for the scan when the plugin declares itself stateless
//! ([`PolicyPlugin::session`], `reuse`); either way what comes back is
//! checked against the batch and the plugin's declared rules before it
//! becomes the host's findings.

use std::collections::{HashMap, HashSet};
use std::ops::Deref;

use super::bindings::policy::PolicyPre;
use super::bindings::policy::stance::plugin::types as wit;
use super::convert;
use super::engine::Runtime;
use super::failure::PluginFailure;
use super::host_api::CallData;
use super::load::PluginLoadError;
use super::plugin::LoadedPlugin;
use super::reuse::Session;
use super::source::{PluginSource, Reuse, World};
use crate::model::{self, Asset, Finding, Severity, Status};

/// A loaded, validated policy plugin, ready to evaluate batches. Its
/// identity and rules are those of the [`LoadedPlugin`] it derefs to.
pub struct PolicyPlugin {
    core: LoadedPlugin,
    pub(crate) pre: PolicyPre<CallData>,
    reuse: Reuse,
}

impl Deref for PolicyPlugin {
    type Target = LoadedPlugin;
    fn deref(&self) -> &LoadedPlugin {
        &self.core
    }
}

impl std::fmt::Debug for PolicyPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.core.fmt(f)
    }
}

impl PolicyPlugin {
    /// Load a policy plugin: every check of the WIT contract and the runtime.
    pub fn load(rt: &Runtime, src: PluginSource) -> Result<PolicyPlugin, PluginLoadError> {
        let reuse = src.reuse;
        let (core, pre) =
            LoadedPlugin::load(rt, &src, World::Policy, PolicyPre::new, |spec, pre| {
                spec.run(
                    None,
                    |store| pre.instantiate(store),
                    |store, instance| instance.stance_plugin_policy_plugin().call_describe(store),
                )
                .1
            })?;
        Ok(PolicyPlugin { core, pre, reuse })
    }

    /// How long its instances live: what its source declared.
    pub fn reuse(&self) -> Reuse {
        self.reuse
    }

    /// The instances of one scan's calls ([`Session`]): kept per thread when
    /// the plugin declares itself stateless, fresh per call otherwise.
    /// Dropping the session drops its instances.
    pub fn session(&self) -> Session<'_> {
        Session::new(self)
    }

    /// Does any rule of the plugin read assets of this type?
    pub fn wants(&self, resource_type: &str) -> bool {
        self.rules.iter().any(|r| r.applies_to(resource_type))
    }

    /// Evaluate one batch on a fresh instance, validating what comes back.
    pub fn evaluate(&self, batch: &[&Asset]) -> Result<Vec<Finding>, PluginFailure> {
        let input: Vec<wit::Asset> = batch.iter().map(|a| convert::asset(a)).collect();
        let (_, result) = self.call_spec().run(
            None,
            |store| self.pre.instantiate(store),
            |store, instance| {
                instance
                    .stance_plugin_policy_plugin()
                    .call_evaluate(store, &input)
            },
        );
        self.validate(batch, result?)
    }

    /// Check what a call returned and turn it into the host's findings: the
    /// plugin's own error, or every record checked against the batch.
    pub(crate) fn validate(
        &self,
        batch: &[&Asset],
        returned: Result<Vec<wit::Finding>, wit::PluginError>,
    ) -> Result<Vec<Finding>, PluginFailure> {
        let findings = returned.map_err(|e| PluginFailure::PluginError {
            rule_id: e.rule_id,
            message: e.message,
        })?;
        self.validate_records(batch, findings)
    }

    /// Check every returned record and turn it into the host's model.
    fn validate_records(
        &self,
        batch: &[&Asset],
        findings: Vec<wit::Finding>,
    ) -> Result<Vec<Finding>, PluginFailure> {
        let size: usize = findings
            .iter()
            .map(|f| {
                f.rule_id.len()
                    + f.asset_id.len()
                    + f.message.len()
                    + convert::evidence_size(&f.evidence)
            })
            .sum();
        self.check_output(size)?;
        let assets: HashMap<&str, &Asset> = batch.iter().map(|a| (a.id.as_str(), *a)).collect();
        let mut seen = HashSet::with_capacity(findings.len());
        let mut out = Vec::with_capacity(findings.len());
        for (n, f) in findings.into_iter().enumerate() {
            let (rule_severity, asset) = self.check_finding(n, &f, &assets, &mut seen)?;
            // Passes carry no evidence: nothing to check, nothing to name.
            let evidence = match f.evidence.is_empty() {
                true => Vec::new(),
                false => convert::evidence(&format!("finding #{n}"), f.evidence)?,
            };
            out.push(Finding {
                fingerprint: model::fingerprint(&f.rule_id, &asset.id),
                plugin: self.name.clone(),
                plugin_version: self.version.clone(),
                resource_type: asset.resource_type.clone(),
                account: asset.account.clone(),
                region: asset.region.clone(),
                severity: f.severity.map_or(rule_severity, convert::severity),
                status: match f.status {
                    wit::Status::Pass => Status::Pass,
                    wit::Status::Fail => Status::Fail,
                    wit::Status::Error => Status::Error,
                },
                evidence,
                rule_id: f.rule_id,
                asset_id: f.asset_id,
                message: f.message,
            });
        }
        Ok(out)
    }

    /// A finding names a declared rule, an asset of the batch whose type the
    /// rule reads, and is the only one for that pair: the rule's severity
    /// and the asset.
    fn check_finding<'s, 'a>(
        &'s self,
        n: usize,
        f: &wit::Finding,
        assets: &HashMap<&str, &'a Asset>,
        seen: &mut HashSet<(&'s str, &'a str)>,
    ) -> Result<(Severity, &'a Asset), PluginFailure> {
        let bad = |why: String| PluginFailure::InvalidOutput(format!("finding #{n}: {why}"));
        let rule = self.rule(&f.rule_id).ok_or_else(|| {
            bad(format!(
                "rule {:?} is not one the plugin declares",
                f.rule_id
            ))
        })?;
        let asset = *assets
            .get(f.asset_id.as_str())
            .ok_or_else(|| bad(format!("asset {:?} is not in the batch", f.asset_id)))?;
        if !rule.applies_to(&asset.resource_type) {
            return Err(bad(format!(
                "rule {} does not declare resource type {} of asset {}",
                rule.id, asset.resource_type, asset.id
            )));
        }
        if !seen.insert((rule.id.as_str(), asset.id.as_str())) {
            return Err(bad(format!(
                "a second result for rule {} on asset {}",
                f.rule_id, f.asset_id
            )));
        }
        Ok((rule.severity, asset))
    }
}
