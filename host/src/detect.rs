//! The detection pipeline (DESIGN.md, "The pipeline", events half): read
//! events from the inputs as a stream, hand them in batches to every
//! detector plugin in order, store the alerts and the detectors' state in
//! one transaction, and report. A batch that fails in a plugin fails alone:
//! it is recorded (plugin, cause), the plugin's state stays as it was before
//! the batch, and the run goes on.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use stance_sigma_engine::{Engine, EngineConfig, LoadError};

use crate::catalog;
use crate::events::{Alert, Event, Inputs, TimeRange};
use crate::runtime::{
    DetectorPlugin, DetectorState, FailureRecord, Limits, PluginSource, Runtime, StateQuota,
    builtin,
};
use crate::store::{RunTotals, Store};

/// A Sigma rule source: where it came from and its YAML text.
#[derive(Debug, Clone)]
pub struct RuleFile {
    pub path: String,
    pub text: String,
}

/// The built-in Sigma pack (unless excluded) and every `*.yml`/`*.yaml`
/// under the given paths (directories recursively, `tests/` left out).
pub fn rule_files(builtin_rules: bool, paths: &[PathBuf]) -> anyhow::Result<Vec<RuleFile>> {
    let mut files = Vec::new();
    if builtin_rules {
        files.extend(builtin::sigma_rules().iter().map(|(p, t)| RuleFile {
            path: (*p).to_string(),
            text: (*t).to_string(),
        }));
    }
    for path in paths {
        let mut found = Vec::new();
        if path.is_dir() {
            walk(path, &mut found).with_context(|| format!("reading {}", path.display()))?;
            found.sort();
        } else if path.is_file() {
            found.push(path.clone());
        } else {
            bail!("{}: no such Sigma rule file or directory", path.display());
        }
        for f in found {
            let text =
                std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
            files.push(RuleFile {
                path: f.display().to_string(),
                text,
            });
        }
    }
    Ok(files)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "tests") {
                walk(&path, out)?;
            }
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(path);
        }
    }
    Ok(())
}

/// The engine configuration from a YAML or JSON file (`EngineConfig`: field
/// mappings per source, placeholders), or the default.
pub fn engine_config(path: Option<&Path>) -> anyhow::Result<EngineConfig> {
    let Some(path) = path else {
        return Ok(EngineConfig::default());
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_norway::from_str(&text)
        .with_context(|| format!("{}: invalid engine configuration", path.display()))
}

/// Load the rules natively: what loads, and why the rest does not.
pub fn check_rules(files: &[RuleFile], config: &EngineConfig) -> (Engine, Vec<LoadError>) {
    let sources: Vec<(&str, &str)> = files
        .iter()
        .map(|f| (f.path.as_str(), f.text.as_str()))
        .collect();
    Engine::load(&sources, config.clone())
}

/// The built-in Sigma engine plugin with the rules and engine configuration as settings.
pub fn sigma_plugin(files: &[RuleFile], config: &EngineConfig, limits: Limits) -> PluginSource {
    let rules: Vec<serde_json::Value> = files
        .iter()
        .map(|f| serde_json::json!({"path": f.path, "text": f.text}))
        .collect();
    let mut settings = serde_json::json!({ "rules": rules });
    if *config != EngineConfig::default() {
        settings["config"] = serde_json::to_value(config).unwrap_or_default();
    }
    PluginSource {
        origin: builtin::SIGMA_ORIGIN.to_string(),
        bytes: Arc::from(builtin::SIGMA_WASM),
        settings,
        limits,
    }
}

pub struct DetectOptions {
    pub builtin_rules: bool,
    pub rule_paths: Vec<PathBuf>,
    pub engine_config: Option<PathBuf>,
    /// Extra detector components or manifests.
    pub plugins: Vec<PathBuf>,
    /// Sigma rules of installed packs (`pack:NAME@VERSION/FILE`).
    pub pack_rules: Vec<RuleFile>,
    /// Detector plugins of installed packs, with the packs' settings.
    pub pack_detectors: Vec<PluginSource>,
    pub limits: Limits,
    pub quota: StateQuota,
    pub batch_size: usize,
    pub range: TimeRange,
}

/// A detector as it ran.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DetectorSummary {
    pub name: String,
    pub version: String,
    pub origin: String,
    pub digest: String,
    pub rules: usize,
    pub cache: &'static str,
    pub load_ms: f64,
}

/// What a run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DetectReport {
    pub run_id: i64,
    pub inputs: Vec<String>,
    pub totals: RunTotals,
    pub detectors: Vec<DetectorSummary>,
    pub failures: Vec<FailureRecord>,
    pub elapsed_ms: f64,
    /// Alerts of this run that no earlier run raised (what routing sends).
    #[serde(skip)]
    pub new_alerts: Vec<Alert>,
}

impl DetectReport {
    pub fn has_errors(&self) -> bool {
        self.totals.has_errors()
    }
}

struct Running<'a> {
    plugin: &'a DetectorPlugin,
    state: Option<DetectorState>,
}

/// The detectors of a run, loaded and checked: the Sigma engine with its
/// rules (built-in, files, packs) and every other detector plugin.
pub struct DetectorSet {
    pub plugins: Vec<DetectorPlugin>,
    /// Sigma rules loaded plus the rules of the other plugins.
    pub rules: usize,
    /// Sigma rules that did not load, and why.
    pub rule_errors: Vec<String>,
}

/// Load the detectors `opts` names. Names must be unique: they key the state.
pub fn load_detectors(rt: &Runtime, opts: &DetectOptions) -> anyhow::Result<DetectorSet> {
    let mut rules = 0;
    let mut rule_errors = Vec::new();
    let mut sources = Vec::new();
    if opts.builtin_rules || !opts.rule_paths.is_empty() || !opts.pack_rules.is_empty() {
        let mut files = rule_files(opts.builtin_rules, &opts.rule_paths)?;
        files.extend(opts.pack_rules.iter().cloned());
        let config = engine_config(opts.engine_config.as_deref())?;
        let (engine, errors) = check_rules(&files, &config);
        rules += engine.rules().count();
        rule_errors = errors.iter().map(ToString::to_string).collect();
        for e in &errors {
            tracing::warn!("Sigma rule not loaded: {e}");
        }
        if !files.is_empty() {
            sources.push(sigma_plugin(&files, &config, opts.limits));
        }
    }
    for p in &opts.plugins {
        sources.push(catalog::plugin_source(p, opts.limits)?);
    }
    sources.extend(opts.pack_detectors.iter().cloned());
    if sources.is_empty() {
        bail!(if opts.builtin_rules {
            "no detection rules to run: this build has no built-in Sigma pack (policies/cloudtrail); pass --rules PATH or --plugin PATH"
        } else {
            "no detection rules to run: the built-in pack is excluded and no --rules or --plugin was given"
        });
    }
    let mut plugins: Vec<DetectorPlugin> = Vec::new();
    for src in sources {
        let plugin = DetectorPlugin::load(rt, src)?;
        if plugins.iter().any(|d| d.name == plugin.name) {
            bail!(
                "{}: a detector named {} is already loaded; detector names key their state and must be unique",
                plugin.origin,
                plugin.name
            );
        }
        if !plugin.origin.starts_with("builtin:") {
            rules += plugin.rules.len();
        }
        plugins.push(plugin);
    }
    Ok(DetectorSet {
        plugins,
        rules,
        rule_errors,
    })
}

/// Run detection over `inputs` and store the run.
pub fn run(
    rt: &Runtime,
    store: &mut Store,
    inputs: &Inputs,
    labels: &[String],
    opts: &DetectOptions,
) -> anyhow::Result<DetectReport> {
    let set = load_detectors(rt, opts)?;
    run_with(store, inputs, labels, opts, &set)
}

/// Run detection with detectors already loaded (each starts from the state
/// the store keeps for it).
pub fn run_with(
    store: &mut Store,
    inputs: &Inputs,
    labels: &[String],
    opts: &DetectOptions,
    set: &DetectorSet,
) -> anyhow::Result<DetectReport> {
    let start = Instant::now();
    let mut totals = RunTotals {
        rules: set.rules,
        rule_errors: set.rule_errors.clone(),
        ..RunTotals::default()
    };
    let mut detectors: Vec<Running> = Vec::new();
    let mut summaries = Vec::new();
    for plugin in &set.plugins {
        let entries = store.detector_state(&plugin.name)?;
        summaries.push(DetectorSummary {
            name: plugin.name.clone(),
            version: plugin.version.clone(),
            origin: plugin.origin.clone(),
            digest: plugin.digest.clone(),
            rules: plugin.rules.len(),
            cache: plugin.compile.label(),
            load_ms: plugin.compile.duration().as_secs_f64() * 1000.0,
        });
        detectors.push(Running {
            state: Some(DetectorState::new(entries, opts.quota)),
            plugin,
        });
    }

    let now = chrono::Utc::now();
    let suppressions: Vec<crate::store::Suppression> = store
        .suppressions()?
        .into_iter()
        .filter(|s| s.active(&now))
        .collect();
    let started_at = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut writer = store.begin_detection(&started_at, labels)?;
    let mut failures: Vec<FailureRecord> = Vec::new();
    let mut new_alerts: Vec<Alert> = Vec::new();
    let batch_size = opts.batch_size.max(1);
    let mut batch: Vec<Event> = Vec::with_capacity(batch_size);
    let mut batch_no = 0usize;

    let mut flush = |batch: &mut Vec<Event>,
                     totals: &mut RunTotals,
                     writer: &mut crate::store::DetectionWriter<'_>|
     -> anyhow::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        for d in detectors.iter_mut() {
            let state = d.state.take().unwrap_or_default();
            let (mut state, result) = d.plugin.evaluate(batch, state);
            match result {
                Ok(alerts) => {
                    let alerts: Vec<(Alert, Option<i64>)> = alerts
                        .into_iter()
                        .map(|a| {
                            let by = suppressions.iter().find(|s| s.covers(&a)).map(|s| s.id);
                            (a, by)
                        })
                        .collect();
                    let fresh = writer.add_alerts(&alerts)?;
                    for ((a, suppressed_by), new) in alerts.into_iter().zip(fresh) {
                        if suppressed_by.is_some() {
                            if new {
                                totals.suppressed += 1;
                            } else {
                                totals.duplicates += 1;
                            }
                        } else if new {
                            totals.alerts += 1;
                            *totals
                                .by_severity
                                .entry(a.severity.as_str().to_string())
                                .or_default() += 1;
                            new_alerts.push(a);
                        } else {
                            totals.duplicates += 1;
                        }
                    }
                }
                Err(failure) => {
                    tracing::warn!(plugin = %d.plugin.name, batch = batch_no, "plugin {} {failure}", d.plugin.name);
                    let record = FailureRecord {
                        plugin: d.plugin.name.clone(),
                        plugin_version: d.plugin.version.clone(),
                        rule_id: failure.rule_id().map(str::to_string),
                        batch: batch_no,
                        assets: batch.len(),
                        kind: failure.kind().to_string(),
                        cause: failure.to_string(),
                    };
                    writer.add_failure(&record)?;
                    failures.push(record);
                    totals.failed_batches += 1;
                }
            }
            writer.save_state(&d.plugin.name, &state.take_changes())?;
            d.state = Some(state);
        }
        totals.batches += 1;
        batch_no += 1;
        batch.clear();
        Ok(())
    };

    let stats = inputs.read(opts.range, &mut |event| {
        batch.push(event);
        if batch.len() >= batch_size {
            flush(&mut batch, &mut totals, &mut writer)?;
        }
        Ok(())
    })?;
    flush(&mut batch, &mut totals, &mut writer)?;

    totals.files = stats.files;
    totals.events = stats.events;
    totals.out_of_range = stats.out_of_range;
    totals.input_errors = stats.errors.iter().map(ToString::to_string).collect();
    for d in &detectors {
        if let Some(s) = &d.state {
            totals.state_keys.insert(d.plugin.name.clone(), s.len());
        }
    }
    let run_id = writer.run_id();
    let finished_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    writer.finish(&finished_at, &totals)?;
    Ok(DetectReport {
        run_id,
        inputs: labels.to_vec(),
        totals,
        detectors: summaries,
        failures,
        elapsed_ms: start.elapsed().as_secs_f64() * 1000.0,
        new_alerts,
    })
}
