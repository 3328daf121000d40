//! The Sigma engine (`stance-sigma-engine`) as a Stance detector plugin.
//!
//! Sigma rules arrive as settings (`rules: [{path, text}]`, as the YAML
//! policy plugin receives its policies), with an optional engine `config`
//! (field mappings per log source, placeholders). Every call runs on a fresh
//! instance, so the engine is loaded from the settings on each call; the
//! correlation windows live in the host-kept `state` store, which survives
//! batches, runs and reloads. It also exports the optional `prefilter`
//! interface: each rule's cheap test, derived by the engine, so that the host
//! hands it only the events some rule can match.

use serde::Deserialize;
use serde_json::Value;
use stance_sigma_engine::{
    Engine, EngineConfig, Event as SigmaEvent, Level, LogSource, Match, Prefilter,
    RuleInfo as SigmaRule, RuleKind, StateStore,
};

wit_bindgen::generate!({
    world: "detector-prefiltered",
    path: "../../../wit",
});

use exports::stance::plugin::detector_plugin::Guest;
use exports::stance::plugin::prefilter::{
    FieldEquals, Guest as PrefilterGuest, Requirement, RulePrefilter,
};
use stance::plugin::host::{self, Level as LogLevel};
use stance::plugin::state;
use stance::plugin::types::{
    Alert, Event, Evidence, PluginError, PluginInfo, RuleInfo, SettingInfo, Severity,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default)]
    rules: Vec<RuleFile>,
    #[serde(default)]
    config: Option<EngineConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    path: String,
    text: String,
}

fn error(message: impl Into<String>) -> PluginError {
    PluginError {
        rule_id: None,
        message: message.into(),
    }
}

/// The engine from the settings; rules that do not load are logged (the host
/// checks them natively too and reports them to the user).
fn load(log_errors: bool) -> Result<Engine, PluginError> {
    let settings: Settings = serde_json::from_str(&host::settings())
        .map_err(|e| error(format!("invalid settings: {e}")))?;
    let sources: Vec<(&str, &str)> = settings
        .rules
        .iter()
        .map(|f| (f.path.as_str(), f.text.as_str()))
        .collect();
    let (engine, errors) = Engine::load(&sources, settings.config.unwrap_or_default());
    if log_errors {
        for e in &errors {
            host::log(LogLevel::Warn, &format!("rule not loaded: {e}"));
        }
    }
    Ok(engine)
}

fn severity(level: Level) -> Severity {
    match level {
        Level::Informational => Severity::Info,
        Level::Low => Severity::Low,
        Level::Medium => Severity::Medium,
        Level::High => Severity::High,
        Level::Critical => Severity::Critical,
    }
}

/// Whether a rule's log source fits a mapping's: every field the rule names is named alike.
fn fits(rule: &LogSource, source: &LogSource) -> bool {
    let same = |r: &Option<String>, s: &Option<String>| match r {
        None => true,
        Some(r) => s.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(r)),
    };
    same(&rule.category, &source.category)
        && same(&rule.product, &source.product)
        && same(&rule.service, &source.service)
}

/// The event sources a rule reads (the host's `resource-types` slot): the
/// mapped sources whose log source fits, else `*`.
fn sources_of(engine: &Engine, rule: &SigmaRule) -> Vec<String> {
    let mut out: Vec<String> = engine
        .config()
        .sources
        .iter()
        .filter(|s| fits(&rule.meta.logsource, &s.logsource))
        .map(|s| s.source.clone())
        .collect();
    if out.is_empty() || engine.config().match_unknown_sources {
        out.push("*".to_string());
    }
    out.dedup();
    out
}

fn rule_info(engine: &Engine, r: &SigmaRule) -> RuleInfo {
    let mut tags = r.meta.tags.clone();
    match r.kind {
        RuleKind::Detection => tags.push("sigma:detection".into()),
        RuleKind::Correlation(t) => tags.push(format!(
            "sigma:correlation:{}",
            serde_json::to_value(t)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        )),
    }
    if !r.emits {
        tags.push("sigma:no-alerts".into());
    }
    RuleInfo {
        id: r.id.clone(),
        title: r.meta.title.clone(),
        description: r.meta.description.clone().unwrap_or_default(),
        severity: severity(r.level),
        resource_types: sources_of(engine, r),
        compliance: Vec::new(),
        remediation: stance::plugin::types::Remediation {
            guidance: r.meta.falsepositives.join("; "),
            console: None,
            cli: None,
            references: r.meta.references.clone(),
        },
        tags,
        reads: Vec::new(),
    }
}

/// The WIT `state` import as the engine's store.
struct HostState;

impl StateStore for HostState {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        state::get(key)
    }
    fn set(&mut self, key: &str, value: Vec<u8>) -> Result<(), String> {
        state::set(key, &value)
    }
    fn delete(&mut self, key: &str) {
        state::delete(key)
    }
    fn keys(&self, prefix: &str) -> Vec<String> {
        state::keys(prefix)
    }
}

/// A JSON field of an event body as evidence text, if present.
fn field<'a>(body: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(body, |v, k| v.get(k))
}

/// Context fields shown with a single-event alert (CloudTrail names; absent ones are skipped).
const CONTEXT: &[&str] = &[
    "eventSource",
    "eventName",
    "userIdentity.arn",
    "sourceIPAddress",
    "errorCode",
];

fn alert(m: Match, events: &[SigmaEvent]) -> Alert {
    let mut evidence = Vec::new();
    let message = match m.kind {
        RuleKind::Detection => {
            let ev = m
                .event_ids
                .first()
                .and_then(|id| events.iter().find(|e| &e.id == id));
            let mut parts = Vec::new();
            if let Some(ev) = ev {
                for path in CONTEXT {
                    if let Some(v) = field(&ev.body, path).filter(|v| !v.is_null()) {
                        evidence.push(Evidence {
                            path: (*path).to_string(),
                            actual: v.to_string(),
                            expected: "context of the matched event".to_string(),
                        });
                        if let Some(s) = v.as_str() {
                            parts.push(format!("{path}={s}"));
                        }
                    }
                }
            }
            if parts.is_empty() {
                format!("{} (event {})", m.title, m.event_ids.join(", "))
            } else {
                format!("{}: {}", m.title, parts.join(" "))
            }
        }
        RuleKind::Correlation(t) => {
            let kind = serde_json::to_value(t)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            for (k, v) in &m.group {
                evidence.push(Evidence {
                    path: k.clone(),
                    actual: serde_json::to_string(v).unwrap_or_else(|_| "null".into()),
                    expected: "group-by".to_string(),
                });
            }
            if let Some(value) = m.value {
                evidence.push(Evidence {
                    path: kind.clone(),
                    actual: serde_json::to_string(&value).unwrap_or_else(|_| "null".into()),
                    expected: "met the correlation condition".to_string(),
                });
            }
            format!(
                "{}: {kind} {} over {} event(s){} from {} to {}",
                m.title,
                m.value.map(|v| v.to_string()).unwrap_or_default(),
                m.event_ids.len(),
                m.group_key
                    .as_deref()
                    .map(|g| format!(" for {g}"))
                    .unwrap_or_default(),
                m.window_start,
                m.window_end
            )
        }
    };
    Alert {
        rule_id: m.rule_id,
        severity: severity(m.level),
        title: m.title,
        message,
        event_ids: m.event_ids,
        group_key: m.group_key,
        window_start: m.window_start,
        window_end: m.window_end,
        evidence,
    }
}

struct Sigma;

impl Guest for Sigma {
    fn describe() -> Result<PluginInfo, PluginError> {
        let engine = load(true)?;
        let rules: Vec<RuleInfo> = engine.rules().map(|r| rule_info(&engine, r)).collect();
        Ok(PluginInfo {
            name: "sigma".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            description: "Evaluates Sigma detection and correlation rules (specification v2) over events".to_string(),
            rules,
            settings: vec![
                SettingInfo {
                    name: "rules".into(),
                    description: "Sigma rule files: [{path, text}] with the YAML text of each".into(),
                    required: true,
                    kind: "array".into(),
                },
                SettingInfo {
                    name: "config".into(),
                    description: "engine configuration: sources (field mappings per log source), placeholders, match_unknown_sources, state_prefix".into(),
                    required: false,
                    kind: "object".into(),
                },
            ],
        })
    }

    fn evaluate(batch: Vec<Event>) -> Result<Vec<Alert>, PluginError> {
        let engine = load(false)?;
        let mut events = Vec::with_capacity(batch.len());
        for e in batch {
            let ev = SigmaEvent::from_json(e.id, e.source, e.time, &e.body)
                .map_err(|err| error(format!("event body is not JSON: {err}")))?;
            events.push(ev);
        }
        let eval = engine.evaluate_detailed(&events, &mut HostState);
        for issue in &eval.issues {
            if let stance_sigma_engine::EvalIssue::State { .. } = issue {
                // Losing correlation state silently would hide detections:
                // fail the batch; the host keeps the state as it was before it.
                return Err(error(issue.to_string()));
            }
            host::log(LogLevel::Warn, &issue.to_string());
        }
        Ok(eval
            .matches
            .into_iter()
            .map(|m| alert(m, &events))
            .collect())
    }
}

/// Each rule's prefilter (the engine derives them: `Engine::prefilters`).
impl PrefilterGuest for Sigma {
    fn prefilters() -> Result<Vec<RulePrefilter>, PluginError> {
        let engine = load(false)?;
        Ok(engine
            .prefilters()
            .into_iter()
            .map(|(rule_id, p)| RulePrefilter {
                rule_id,
                requirement: match p {
                    Prefilter::Any => Requirement::Any,
                    Prefilter::AllOf(fields) => Requirement::AllOf(
                        fields
                            .into_iter()
                            .map(|f| FieldEquals {
                                path: f.path,
                                values: f.values,
                            })
                            .collect(),
                    ),
                    Prefilter::Rules(ids) => Requirement::Rules(ids),
                },
            })
            .collect())
    }
}

export!(Sigma);
