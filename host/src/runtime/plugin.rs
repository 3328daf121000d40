//! A plugin's life in the runtime: load (check it is a component of a
//! known world and a compatible WIT version, compile through the cache,
//! describe, validate settings), then calls, each on a fresh store with
//! limits, whose failures are classified instead of propagated.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use wasmtime::{Engine, Store, Trap};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use super::bindings::policy::stance::plugin::types as wit;
use super::bindings::policy::{Policy as PolicyInstance, PolicyPre};
use super::cache::CacheOutcome;
use super::engine::{Runtime, deadline_ticks};
use super::host_api::{STDERR_CAPTURE, StoreData};
use super::limits::Limits;
use super::load::{Prepared, described, prepare};
pub use super::load::{check_settings, compatible};
use crate::model::{self, Asset, Evidence, Finding, Rule, Severity, Status};

/// Which WIT world a component implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum World {
    Policy,
    Detector,
}

impl World {
    pub fn as_str(self) -> &'static str {
        match self {
            World::Policy => "policy",
            World::Detector => "detector",
        }
    }
}

/// What to load: the component's bytes, where they came from, its settings and limits.
#[derive(Clone)]
pub struct PluginSource {
    /// A path, or `builtin:NAME` for plugins embedded in the binary.
    pub origin: String,
    pub bytes: Arc<[u8]>,
    /// A JSON object; `{}` when the plugin has no settings.
    pub settings: serde_json::Value,
    pub limits: Limits,
}

impl fmt::Debug for PluginSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginSource")
            .field("origin", &self.origin)
            .field("bytes", &self.bytes.len())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// A setting a plugin declares.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SettingSpec {
    pub name: String,
    pub description: String,
    pub required: bool,
    pub kind: String,
}

/// Why a call into a plugin failed. The scan goes on; the batch's results
/// are recorded as `error` with this cause.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PluginFailure {
    #[error("timed out after {} ms", .0.as_millis())]
    Timeout(std::time::Duration),
    #[error("exceeded its memory limit of {} MiB", .0 >> 20)]
    MemoryLimit(usize),
    #[error("overflowed its stack")]
    StackOverflow,
    #[error("panicked: {0}")]
    Panic(String),
    #[error("trapped: {0}")]
    Trap(String),
    #[error("returned {size} bytes, over the output limit of {limit} bytes")]
    OutputTooLarge { size: usize, limit: usize },
    #[error("returned invalid results: {0}")]
    InvalidOutput(String),
    #[error("reported an error{}: {message}", .rule_id.as_ref().map(|r| format!(" in rule {r}")).unwrap_or_default())]
    PluginError {
        rule_id: Option<String>,
        message: String,
    },
    #[error("could not be instantiated: {0}")]
    Instantiate(String),
}

impl PluginFailure {
    /// A short stable name of the kind of failure, for storage and filters.
    pub fn kind(&self) -> &'static str {
        match self {
            PluginFailure::Timeout(_) => "timeout",
            PluginFailure::MemoryLimit(_) => "memory-limit",
            PluginFailure::StackOverflow => "stack-overflow",
            PluginFailure::Panic(_) => "panic",
            PluginFailure::Trap(_) => "trap",
            PluginFailure::OutputTooLarge { .. } => "output-too-large",
            PluginFailure::InvalidOutput(_) => "invalid-output",
            PluginFailure::PluginError { .. } => "plugin-error",
            PluginFailure::Instantiate(_) => "instantiate",
        }
    }

    /// The rule the failure is attributed to, when known.
    pub fn rule_id(&self) -> Option<&str> {
        match self {
            PluginFailure::PluginError { rule_id, .. } => rule_id.as_deref(),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PluginLoadError {
    #[error(
        "{origin}: not a WebAssembly component ({detail}); build plugins for the component model (cargo build --target wasm32-wasip2, componentize-py, componentize-js)"
    )]
    NotAComponent { origin: String, detail: String },
    #[error("{origin}: cannot compile the component: {message}")]
    Compile { origin: String, message: String },
    #[error(
        "{origin}: exports no Stance plugin interface (it exports: {found}); a plugin exports stance:plugin/policy-plugin or stance:plugin/detector-plugin"
    )]
    NotAPlugin { origin: String, found: String },
    #[error(
        "{origin}: built for stance:plugin@{found}, but this Stance speaks stance:plugin@{expected}; rebuild the plugin against the wit/ of this Stance version"
    )]
    IncompatibleWit {
        origin: String,
        found: String,
        expected: String,
    },
    #[error(
        "{origin}: imports {imports}, which Stance does not provide; plugins may import only stance:plugin/host, stance:plugin/state and WASI"
    )]
    UnknownImports { origin: String, imports: String },
    #[error("{origin}: is a {found} plugin, but this command runs {expected} plugins")]
    WrongWorld {
        origin: String,
        found: &'static str,
        expected: &'static str,
    },
    #[error("{origin}: cannot link the component's imports: {message}")]
    Link { origin: String, message: String },
    #[error("{origin}: describe {failure}")]
    Describe {
        origin: String,
        failure: PluginFailure,
    },
    #[error("{origin}: {who} refused its settings: {message}")]
    Settings {
        origin: String,
        /// `plugin NAME`, or `the plugin` when it failed before naming itself.
        who: String,
        message: String,
    },
    #[error("{origin}: describes itself wrongly: {message}")]
    InvalidInfo { origin: String, message: String },
}

/// A loaded, validated policy plugin, ready to evaluate batches.
pub struct Plugin {
    pub name: String,
    pub version: String,
    pub description: String,
    pub world: World,
    pub wit_version: String,
    pub digest: String,
    pub origin: String,
    pub rules: Vec<Rule>,
    pub settings_spec: Vec<SettingSpec>,
    pub limits: Limits,
    pub compile: CacheOutcome,
    rule_index: HashMap<String, usize>,
    engine: Engine,
    pre: PolicyPre<StoreData>,
    settings_json: Arc<str>,
    name_arc: Arc<str>,
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Plugin {
    /// Load a policy plugin: every check of the design's "The WIT contract" and "The runtime".
    pub fn load(rt: &Runtime, src: PluginSource) -> Result<Plugin, PluginLoadError> {
        let origin = src.origin.clone();
        let Prepared {
            digest,
            compile,
            world,
            wit_version,
            instance_pre,
            settings,
            settings_json,
        } = prepare(rt, &src, World::Policy)?;
        let pre = PolicyPre::new(instance_pre).map_err(|e| PluginLoadError::Link {
            origin: origin.clone(),
            message: format!("{e:#}"),
        })?;
        let provisional: Arc<str> = Arc::from(origin.as_str());
        let outcome = call(
            &rt.engine,
            &pre,
            &provisional,
            &settings_json,
            &src.limits,
            |store, instance| instance.stance_plugin_policy_plugin().call_describe(store),
        );
        let d = described(&origin, &settings, outcome)?;
        Ok(Plugin {
            name_arc: Arc::from(d.name.as_str()),
            name: d.name,
            version: d.version,
            description: d.description,
            world,
            wit_version,
            digest,
            origin,
            rules: d.rules,
            settings_spec: d.settings_spec,
            limits: src.limits,
            compile,
            rule_index: d.rule_index,
            engine: rt.engine.clone(),
            pre,
            settings_json,
        })
    }

    /// The settings the plugin runs with, as JSON text.
    pub fn settings_json(&self) -> &str {
        &self.settings_json
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rule_index.get(id).map(|&i| &self.rules[i])
    }

    /// Does any rule of the plugin read assets of this type?
    pub fn wants(&self, resource_type: &str) -> bool {
        self.rules.iter().any(|r| r.applies_to(resource_type))
    }

    /// Evaluate one batch on a fresh instance, validating what comes back.
    pub fn evaluate(&self, batch: &[&Asset]) -> Result<Vec<Finding>, PluginFailure> {
        let input: Vec<wit::Asset> = batch.iter().map(|a| to_wit(a)).collect();
        let result = call(
            &self.engine,
            &self.pre,
            &self.name_arc,
            &self.settings_json,
            &self.limits,
            |store, instance| {
                instance
                    .stance_plugin_policy_plugin()
                    .call_evaluate(store, &input)
            },
        )?;
        let findings = result.map_err(|e| PluginFailure::PluginError {
            rule_id: e.rule_id,
            message: e.message,
        })?;
        self.validate(batch, findings)
    }

    /// Check every returned record and turn it into the host's model.
    fn validate(
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
                    + f.evidence
                        .iter()
                        .map(|e| e.path.len() + e.actual.len() + e.expected.len())
                        .sum::<usize>()
            })
            .sum();
        if size > self.limits.output_bytes {
            return Err(PluginFailure::OutputTooLarge {
                size,
                limit: self.limits.output_bytes,
            });
        }
        let assets: HashMap<&str, &Asset> = batch.iter().map(|a| (a.id.as_str(), *a)).collect();
        let mut seen = HashSet::with_capacity(findings.len());
        let mut out = Vec::with_capacity(findings.len());
        for (n, f) in findings.into_iter().enumerate() {
            let bad = |why: String| PluginFailure::InvalidOutput(format!("finding #{n}: {why}"));
            let rule = self.rule(&f.rule_id).ok_or_else(|| {
                bad(format!(
                    "rule {:?} is not one the plugin declares",
                    f.rule_id
                ))
            })?;
            let asset = assets
                .get(f.asset_id.as_str())
                .ok_or_else(|| bad(format!("asset {:?} is not in the batch", f.asset_id)))?;
            if !rule.applies_to(&asset.resource_type) {
                return Err(bad(format!(
                    "rule {} does not declare resource type {} of asset {}",
                    rule.id, asset.resource_type, asset.id
                )));
            }
            if !seen.insert((f.rule_id.clone(), f.asset_id.clone())) {
                return Err(bad(format!(
                    "a second result for rule {} on asset {}",
                    f.rule_id, f.asset_id
                )));
            }
            let mut evidence = Vec::with_capacity(f.evidence.len());
            for e in f.evidence {
                let actual = serde_json::from_str(&e.actual).map_err(|_| {
                    bad(format!(
                        "evidence {:?} has an actual value that is not JSON",
                        e.path
                    ))
                })?;
                evidence.push(Evidence {
                    path: e.path,
                    actual,
                    expected: e.expected,
                });
            }
            out.push(Finding {
                fingerprint: model::fingerprint(&rule.id, &asset.id),
                rule_id: f.rule_id,
                plugin: self.name.clone(),
                plugin_version: self.version.clone(),
                asset_id: f.asset_id,
                resource_type: asset.resource_type.clone(),
                account: asset.account.clone(),
                region: asset.region.clone(),
                severity: f.severity.map(severity).unwrap_or(rule.severity),
                status: match f.status {
                    wit::Status::Pass => Status::Pass,
                    wit::Status::Fail => Status::Fail,
                    wit::Status::Error => Status::Error,
                },
                message: f.message,
                evidence,
            });
        }
        Ok(out)
    }
}

/// Run `f` on a fresh instance in a fresh store with the plugin's limits.
fn call<R>(
    engine: &Engine,
    pre: &PolicyPre<StoreData>,
    name: &Arc<str>,
    settings: &Arc<str>,
    limits: &Limits,
    f: impl FnOnce(&mut Store<StoreData>, &PolicyInstance) -> wasmtime::Result<R>,
) -> Result<R, PluginFailure> {
    let stderr = MemoryOutputPipe::new(STDERR_CAPTURE);
    let data = StoreData::new(
        name.clone(),
        settings.clone(),
        limits.memory_bytes,
        stderr.clone(),
    );
    let mut store = Store::new(engine, data);
    store.limiter(|d| &mut d.limiter);
    store.set_epoch_deadline(deadline_ticks(limits.timeout));
    store.epoch_deadline_trap();
    let instance = pre
        .instantiate(&mut store)
        .map_err(|e| classify(e, store.data().limiter.hit, &stderr, limits, true))?;
    f(&mut store, &instance)
        .map_err(|e| classify(e, store.data().limiter.hit, &stderr, limits, false))
}

pub(crate) fn classify(
    err: wasmtime::Error,
    memory_hit: bool,
    stderr: &MemoryOutputPipe,
    limits: &Limits,
    instantiating: bool,
) -> PluginFailure {
    let output = String::from_utf8_lossy(&stderr.contents()).into_owned();
    if memory_hit {
        return PluginFailure::MemoryLimit(limits.memory_bytes);
    }
    match err.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => PluginFailure::Timeout(limits.timeout),
        Some(Trap::StackOverflow) => PluginFailure::StackOverflow,
        Some(trap) => match panic_message(&output) {
            Some(message) => PluginFailure::Panic(message),
            None => {
                let tail = last_line(&output);
                PluginFailure::Trap(if tail.is_empty() {
                    trap.to_string()
                } else {
                    format!("{trap} ({tail})")
                })
            }
        },
        None if instantiating => PluginFailure::Instantiate(format!("{err:#}")),
        None => PluginFailure::InvalidOutput(format!("{err:#}")),
    }
}

/// The message of a Rust panic printed to stderr, if there is one.
fn panic_message(output: &str) -> Option<String> {
    let start = output.find("panicked at ")?;
    let rest = &output[start + "panicked at ".len()..];
    let (location, message) = rest.split_once('\n').unwrap_or((rest, ""));
    let message: Vec<&str> = message
        .lines()
        .take_while(|l| !l.starts_with("note:"))
        .collect();
    Some(format!(
        "{} at {}",
        message.join(" ").trim(),
        location.trim_end_matches(':')
    ))
}

fn last_line(output: &str) -> &str {
    output
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
}

pub(crate) fn severity(s: wit::Severity) -> Severity {
    match s {
        wit::Severity::Info => Severity::Info,
        wit::Severity::Low => Severity::Low,
        wit::Severity::Medium => Severity::Medium,
        wit::Severity::High => Severity::High,
        wit::Severity::Critical => Severity::Critical,
    }
}

fn to_wit(a: &Asset) -> wit::Asset {
    wit::Asset {
        id: a.id.clone(),
        resource_type: a.resource_type.clone(),
        provider: a.provider.clone(),
        account: a.account.clone(),
        region: a.region.clone(),
        name: a.name.clone(),
        tags: a
            .tags
            .iter()
            .map(|(k, v)| wit::Tag {
                key: k.clone(),
                value: v.clone(),
            })
            .collect(),
        collected_at: a.collected_at.clone(),
        body: a.body.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wit_versions_are_semver_compatible() {
        assert!(compatible("0.1.0", "0.1.0"));
        assert!(compatible("0.1.7", "0.1.0"));
        assert!(!compatible("0.2.0", "0.1.0"));
        assert!(compatible("1.4.0", "1.0.0"));
        assert!(!compatible("2.0.0", "1.0.0"));
        assert!(!compatible("unversioned", "0.1.0"));
    }

    #[test]
    fn panic_messages_are_extracted() {
        let out = "\nthread '<unnamed>' panicked at src/lib.rs:12:9:\nboom here\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(panic_message(out).unwrap(), "boom here at src/lib.rs:12:9");
    }

    #[test]
    fn settings_are_checked_against_the_declaration() {
        let spec = vec![SettingSpec {
            name: "tags".into(),
            description: "tags".into(),
            required: true,
            kind: "array".into(),
        }];
        assert!(check_settings(&serde_json::json!({"tags": []}), &spec).is_ok());
        assert!(
            check_settings(&serde_json::json!({}), &spec)
                .unwrap_err()
                .contains("required")
        );
        assert!(
            check_settings(&serde_json::json!({"tags": "x"}), &spec)
                .unwrap_err()
                .contains("kind array")
        );
        assert!(
            check_settings(&serde_json::json!({"tags": [], "x": 1}), &spec)
                .unwrap_err()
                .contains("unknown setting `x`")
        );
    }
}
