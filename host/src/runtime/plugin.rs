//! A plugin's life in the runtime: load (check it is a component of a
//! known world and a compatible WIT version, compile through the cache,
//! describe, validate settings), then calls, each on a fresh store with
//! limits, whose failures are classified instead of propagated.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use wasmtime::component::Component;
use wasmtime::{Engine, Store, Trap};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use super::WIT_VERSION;
use super::bindings::policy::stance::plugin::types as wit;
use super::bindings::policy::{Policy as PolicyInstance, PolicyPre};
use super::cache::{CacheOutcome, digest};
use super::engine::{Runtime, deadline_ticks};
use super::host_api::{STDERR_CAPTURE, StoreData};
use super::limits::Limits;
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

/// The component layer's preamble (`\0asm` + version 0x0d + layer 1).
const COMPONENT_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
const CORE_MODULE_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

/// A component checked and compiled for one world, not yet described.
pub(crate) struct Prepared {
    pub digest: String,
    pub compile: CacheOutcome,
    pub world: World,
    pub wit_version: String,
    pub instance_pre: wasmtime::component::InstancePre<StoreData>,
    pub settings: serde_json::Value,
    pub settings_json: Arc<str>,
}

/// The checks every plugin goes through before `describe`: a component, of
/// the `expected` world, of a compatible WIT version, importing only what is
/// granted, linked, with object settings.
pub(crate) fn prepare(
    rt: &Runtime,
    src: &PluginSource,
    expected: World,
) -> Result<Prepared, PluginLoadError> {
    let origin = src.origin.clone();
    let header = src.bytes.get(..8).unwrap_or(&[]);
    if header != COMPONENT_HEADER {
        let detail = if header == CORE_MODULE_HEADER {
            "it is a core wasm module".to_string()
        } else if header.starts_with(b"\0asm") {
            "unknown wasm encoding".to_string()
        } else {
            "no wasm header".to_string()
        };
        return Err(PluginLoadError::NotAComponent { origin, detail });
    }
    let digest = digest(&src.bytes);
    let (component, compile) = rt
        .cache
        .load(&rt.engine, &src.bytes, &digest)
        .map_err(|e| PluginLoadError::Compile {
            origin: origin.clone(),
            message: format!("{e:#}"),
        })?;
    let (world, wit_version) = inspect(&rt.engine, &component, &origin)?;
    if world != expected {
        return Err(PluginLoadError::WrongWorld {
            origin,
            found: world.as_str(),
            expected: expected.as_str(),
        });
    }
    let instance_pre =
        rt.linker
            .instantiate_pre(&component)
            .map_err(|e| PluginLoadError::Link {
                origin: origin.clone(),
                message: format!("{e:#}"),
            })?;
    let settings = match &src.settings {
        serde_json::Value::Object(_) => src.settings.clone(),
        serde_json::Value::Null => serde_json::json!({}),
        other => {
            return Err(PluginLoadError::Settings {
                origin,
                who: "the plugin".into(),
                message: format!("settings must be an object, not {other}"),
            });
        }
    };
    let settings_json: Arc<str> = Arc::from(settings.to_string());
    Ok(Prepared {
        digest,
        compile,
        world,
        wit_version,
        instance_pre,
        settings,
        settings_json,
    })
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
        let info = call(
            &rt.engine,
            &pre,
            &provisional,
            &settings_json,
            &src.limits,
            |store, instance| instance.stance_plugin_policy_plugin().call_describe(store),
        )
        .map_err(|failure| PluginLoadError::Describe {
            origin: origin.clone(),
            failure,
        })?;
        let info = match info {
            Ok(info) => info,
            Err(e) => {
                return Err(PluginLoadError::Settings {
                    origin,
                    who: "the plugin".into(),
                    message: e.message,
                });
            }
        };
        let (rules, settings_spec) = validate_info(&info, &origin)?;
        check_settings(&settings, &settings_spec).map_err(|message| PluginLoadError::Settings {
            origin: origin.clone(),
            who: format!("plugin {}", info.name),
            message,
        })?;
        let rule_index = rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        Ok(Plugin {
            name_arc: Arc::from(info.name.as_str()),
            name: info.name,
            version: info.version,
            description: info.description,
            world,
            wit_version,
            digest,
            origin,
            rules,
            settings_spec,
            limits: src.limits,
            compile,
            rule_index,
            engine: rt.engine.clone(),
            pre,
            settings_json,
        })
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

/// Find the world and WIT version from the component's exports, and refuse imports we do not grant.
fn inspect(
    engine: &Engine,
    component: &Component,
    origin: &str,
) -> Result<(World, String), PluginLoadError> {
    let ty = component.component_type();
    let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
    let mut found = None;
    for name in &exports {
        let Some(rest) = name.strip_prefix("stance:plugin/") else {
            continue;
        };
        let (iface, version) = rest.split_once('@').unwrap_or((rest, "unversioned"));
        let world = match iface {
            "policy-plugin" => World::Policy,
            "detector-plugin" => World::Detector,
            _ => continue,
        };
        found = Some((world, version.to_string()));
    }
    let Some((world, version)) = found else {
        return Err(PluginLoadError::NotAPlugin {
            origin: origin.to_string(),
            found: if exports.is_empty() {
                "nothing".into()
            } else {
                exports.join(", ")
            },
        });
    };
    if !compatible(&version, WIT_VERSION) {
        return Err(PluginLoadError::IncompatibleWit {
            origin: origin.to_string(),
            found: version,
            expected: WIT_VERSION.to_string(),
        });
    }
    let allowed = |name: &str| {
        name.starts_with("wasi:")
            || name.starts_with("stance:plugin/host@")
            || name.starts_with("stance:plugin/types@")
            || (world == World::Detector && name.starts_with("stance:plugin/state@"))
    };
    let unknown: Vec<String> = ty
        .imports(engine)
        .map(|(n, _)| n.to_string())
        .filter(|n| !allowed(n))
        .collect();
    if !unknown.is_empty() {
        return Err(PluginLoadError::UnknownImports {
            origin: origin.to_string(),
            imports: unknown.join(", "),
        });
    }
    Ok((world, version))
}

/// Semver compatibility: same major, and for 0.x the same minor.
pub fn compatible(found: &str, host: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64)> {
        let core = v.split(['-', '+']).next()?;
        let mut parts = core.split('.');
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    };
    match (parse(found), parse(host)) {
        (Some((0, a)), Some((0, b))) => a == b,
        (Some((a, _)), Some((b, _))) => a == b,
        _ => false,
    }
}

pub(crate) fn validate_info(
    info: &wit::PluginInfo,
    origin: &str,
) -> Result<(Vec<Rule>, Vec<SettingSpec>), PluginLoadError> {
    let bad = |message: String| PluginLoadError::InvalidInfo {
        origin: origin.to_string(),
        message,
    };
    if info.name.trim().is_empty() {
        return Err(bad("the plugin name is empty".into()));
    }
    if info.version.trim().is_empty() {
        return Err(bad("the plugin version is empty".into()));
    }
    let mut ids = HashSet::new();
    let mut rules = Vec::with_capacity(info.rules.len());
    for r in &info.rules {
        if r.id.trim().is_empty() {
            return Err(bad("a rule has an empty id".into()));
        }
        if !ids.insert(r.id.as_str()) {
            return Err(bad(format!("rule id {} appears twice", r.id)));
        }
        if r.resource_types.is_empty() {
            return Err(bad(format!("rule {} lists no resource types", r.id)));
        }
        rules.push(Rule {
            id: r.id.clone(),
            title: r.title.clone(),
            description: r.description.clone(),
            severity: severity(r.severity),
            resource_types: r.resource_types.clone(),
            compliance: r
                .compliance
                .iter()
                .map(|c| model::ComplianceRef {
                    framework: c.framework.clone(),
                    version: c.version.clone(),
                    control: c.control.clone(),
                })
                .collect(),
            remediation: model::Remediation {
                guidance: r.remediation.guidance.clone(),
                console: r.remediation.console.clone(),
                cli: r.remediation.cli.clone(),
                references: r.remediation.references.clone(),
            },
            tags: r.tags.clone(),
            reads: r.reads.clone(),
        });
    }
    let mut settings = Vec::with_capacity(info.settings.len());
    for s in &info.settings {
        if !matches!(
            s.kind.as_str(),
            "string" | "number" | "boolean" | "array" | "object" | "any"
        ) {
            return Err(bad(format!(
                "setting {} has kind {:?}; kinds are string, number, boolean, array, object, any",
                s.name, s.kind
            )));
        }
        settings.push(SettingSpec {
            name: s.name.clone(),
            description: s.description.clone(),
            required: s.required,
            kind: s.kind.clone(),
        });
    }
    Ok((rules, settings))
}

/// Settings must match what the plugin declares: no unknown keys, every
/// required key present, every value of the declared JSON kind.
pub fn check_settings(settings: &serde_json::Value, spec: &[SettingSpec]) -> Result<(), String> {
    let Some(map) = settings.as_object() else {
        return Err("settings must be an object".into());
    };
    for key in map.keys() {
        if !spec.iter().any(|s| &s.name == key) {
            let known: Vec<&str> = spec.iter().map(|s| s.name.as_str()).collect();
            return Err(if known.is_empty() {
                format!("unknown setting `{key}`; the plugin takes no settings")
            } else {
                format!("unknown setting `{key}`; it accepts {}", known.join(", "))
            });
        }
    }
    for s in spec {
        match map.get(&s.name) {
            None if s.required => {
                return Err(format!(
                    "setting `{}` is required: {}",
                    s.name, s.description
                ));
            }
            None => {}
            Some(v) => {
                let ok = match s.kind.as_str() {
                    "string" => v.is_string(),
                    "number" => v.is_number(),
                    "boolean" => v.is_boolean(),
                    "array" => v.is_array(),
                    "object" => v.is_object(),
                    _ => true,
                };
                if !ok {
                    return Err(format!(
                        "setting `{}` must be of kind {}, not {}",
                        s.name, s.kind, v
                    ));
                }
            }
        }
    }
    Ok(())
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
