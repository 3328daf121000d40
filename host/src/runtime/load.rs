//! Loading a plugin, for either world: the checks before and after
//! `describe` (a component of the expected world and a compatible WIT
//! version, importing only what is granted, compiled through the cache,
//! linked; then the rules and settings it declares), and the errors that
//! refuse a plugin ([`PluginLoadError`]). Calls live in `plugin`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use wasmtime::Engine;
use wasmtime::component::Component;

use super::WIT_VERSION;
use super::bindings::policy::stance::plugin::types as wit;
use super::cache::{CacheOutcome, digest};
use super::convert::severity;
use super::engine::Runtime;
use super::failure::PluginFailure;
use super::host_api::CallData;
use super::source::{PluginSource, SettingSpec, World};
use crate::model::{self, Rule};

/// The component layer's preamble (`\0asm` + version 0x0d + layer 1).
const COMPONENT_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
const CORE_MODULE_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

/// Why a plugin was refused at load; each message names the plugin's origin
/// and, where there is one, the remedy.
#[derive(Debug, thiserror::Error)]
pub enum PluginLoadError {
    /// The bytes are not a wasm component (a core module, another encoding, or not wasm).
    #[error(
        "{origin}: not a WebAssembly component ({detail}); build plugins for the component model (cargo build --target wasm32-wasip2, componentize-py, componentize-js)"
    )]
    NotAComponent {
        /// The plugin's origin: a path, or `builtin:NAME`.
        origin: String,
        /// What the header says instead.
        detail: String,
    },
    /// wasmtime could not compile (or load the cached artifact of) the component.
    #[error("{origin}: cannot compile the component: {message}")]
    Compile {
        /// The plugin's origin: a path, or `builtin:NAME`.
        origin: String,
        /// wasmtime's message.
        message: String,
    },
    /// The component exports neither plugin interface.
    #[error(
        "{origin}: exports no Stance plugin interface (it exports: {found}); a plugin exports stance:plugin/policy-plugin or stance:plugin/detector-plugin"
    )]
    NotAPlugin {
        /// The plugin's origin: a path, or `builtin:NAME`.
        origin: String,
        /// What it exports, comma-separated, or `nothing`.
        found: String,
    },
    /// The component was built for a WIT version this host is not compatible with.
    #[error(
        "{origin}: built for stance:plugin@{found}, but this Stance speaks stance:plugin@{expected}; rebuild the plugin against the wit/ of this Stance version"
    )]
    IncompatibleWit {
        /// The plugin's origin: a path, or `builtin:NAME`.
        origin: String,
        /// The version the component exports.
        found: String,
        /// The version this host speaks ([`WIT_VERSION`]).
        expected: String,
    },
    /// The component imports interfaces the host does not grant.
    #[error(
        "{origin}: imports {imports}, which Stance does not provide; plugins may import only stance:plugin/host, stance:plugin/state and WASI"
    )]
    UnknownImports {
        /// The plugin's origin: a path, or `builtin:NAME`.
        origin: String,
        /// The refused imports, comma-separated.
        imports: String,
    },
    /// The component implements the other world than the command runs.
    #[error("{origin}: is a {found} plugin, but this command runs {expected} plugins")]
    WrongWorld {
        /// The plugin's origin: a path, or `builtin:NAME`.
        origin: String,
        /// The world the component implements.
        found: &'static str,
        /// The world the command runs.
        expected: &'static str,
    },
    /// The component's imports could not be linked to the host's.
    #[error("{origin}: cannot link the component's imports: {message}")]
    Link {
        /// The plugin's origin: a path, or `builtin:NAME`.
        origin: String,
        /// wasmtime's message.
        message: String,
    },
    /// The `describe` call failed: it trapped, panicked, timed out or broke a limit.
    #[error("{origin}: describe {failure}")]
    Describe {
        /// The plugin's origin: a path, or `builtin:NAME`.
        origin: String,
        /// How the call failed.
        failure: PluginFailure,
    },
    /// The settings are not an object, do not match what the plugin
    /// declares, or the plugin refused them in `describe`.
    #[error("{origin}: {who} refused its settings: {message}")]
    Settings {
        /// The plugin's origin: a path, or `builtin:NAME`.
        origin: String,
        /// `plugin NAME`, or `the plugin` when it failed before naming itself.
        who: String,
        /// What is wrong with them.
        message: String,
    },
    /// `describe` answered with an empty name or version, or invalid rules or settings.
    #[error("{origin}: describes itself wrongly: {message}")]
    InvalidInfo {
        /// The plugin's origin: a path, or `builtin:NAME`.
        origin: String,
        /// What is wrong.
        message: String,
    },
}

/// A component checked and compiled for one world, not yet described.
pub(crate) struct Prepared {
    pub digest: String,
    pub compile: CacheOutcome,
    pub world: World,
    pub wit_version: String,
    pub instance_pre: wasmtime::component::InstancePre<CallData>,
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

/// What a plugin's `describe` declared, checked against its settings.
pub(crate) struct Described {
    pub name: String,
    pub version: String,
    pub description: String,
    pub rules: Vec<Rule>,
    pub settings_spec: Vec<SettingSpec>,
    pub rule_index: HashMap<String, usize>,
}

/// Check the outcome of a `describe` call (the call itself, the plugin's
/// answer, its rules and settings declaration, and `settings` against it).
pub(crate) fn described(
    origin: &str,
    settings: &serde_json::Value,
    outcome: Result<Result<wit::PluginInfo, wit::PluginError>, PluginFailure>,
) -> Result<Described, PluginLoadError> {
    let info = outcome
        .map_err(|failure| PluginLoadError::Describe {
            origin: origin.to_string(),
            failure,
        })?
        .map_err(|e| PluginLoadError::Settings {
            origin: origin.to_string(),
            who: "the plugin".into(),
            message: e.message,
        })?;
    let (rules, settings_spec) = validate_info(&info, origin)?;
    check_settings(settings, &settings_spec).map_err(|message| PluginLoadError::Settings {
        origin: origin.to_string(),
        who: format!("plugin {}", info.name),
        message,
    })?;
    let rule_index = rules
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.clone(), i))
        .collect();
    Ok(Described {
        name: info.name,
        version: info.version,
        description: info.description,
        rules,
        settings_spec,
        rule_index,
    })
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
