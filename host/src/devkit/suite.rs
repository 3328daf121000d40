//! `stance plugin test`: run a plugin's case files against its built
//! component (or the YAML engine with a directory of policies), compare with
//! the expectations, and report per case, with coverage of the rules, as
//! text, JSON and JUnit XML.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::build::{self, BuildError, BuildOptions};
use super::project::{MANIFEST, Project};
use crate::catalog;
use crate::events::{self, LogFormat};
use crate::model::{Asset, Rule, Status};
use crate::runtime::{DetectorPlugin, DetectorState, Limits, Plugin, PluginSource, Runtime, World};
use crate::testing::{self, Case, EventCase};

#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error(
        "{0}: neither a plugin project ({MANIFEST}) nor a directory of YAML policies; give a project directory (stance plugin new NAME makes one)"
    )]
    NotASubject(PathBuf),
    #[error("{0}")]
    Build(#[from] BuildError),
    #[error("{0}")]
    Project(#[from] super::ProjectError),
    #[error("{path}: no component; run `stance plugin build {dir}` first, or drop --no-build")]
    NotBuilt { path: PathBuf, dir: String },
    #[error("{0}")]
    Load(String),
    #[error("{0}")]
    Cases(#[from] testing::CaseError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What a suite runs against.
#[derive(Debug, Clone)]
pub enum Subject {
    /// A plugin project, built by its toolchain.
    Project(Box<Project>),
    /// A directory of YAML policies run by the built-in engine, cases in
    /// `tests/`; the files as read when the subject was opened.
    Policies {
        dir: PathBuf,
        files: Vec<stance_policy_engine::SourceFile>,
    },
}

impl Subject {
    /// The project in `dir`, or `dir` as a directory of YAML policies.
    pub fn open(dir: &Path) -> Result<Subject, SuiteError> {
        if dir.join(MANIFEST).is_file() {
            return Ok(Subject::Project(Box::new(Project::open(dir)?)));
        }
        let files = if dir.is_dir() {
            catalog::policy_files(false, &[dir.to_path_buf()])
                .map_err(|e| SuiteError::Load(e.to_string()))?
        } else {
            Vec::new()
        };
        if files.is_empty() {
            return Err(SuiteError::NotASubject(dir.to_path_buf()));
        }
        Ok(Subject::Policies {
            dir: dir.to_path_buf(),
            files,
        })
    }

    pub fn world(&self) -> World {
        match self {
            Subject::Project(p) => p.world,
            Subject::Policies { .. } => World::Policy,
        }
    }

    pub fn tests_dir(&self) -> PathBuf {
        match self {
            Subject::Project(p) => p.tests.clone(),
            Subject::Policies { dir, .. } => dir.join("tests"),
        }
    }

    pub fn lang(&self) -> &'static str {
        match self {
            Subject::Project(p) => p.lang.as_str(),
            Subject::Policies { .. } => "yaml",
        }
    }

    /// The plugin to run (building a project first unless `no_build`).
    pub fn source(
        &self,
        rt: &Runtime,
        build_opts: &BuildOptions,
        no_build: bool,
        limits: Limits,
    ) -> Result<PluginSource, SuiteError> {
        match self {
            Subject::Project(p) => {
                let path = p.component_path();
                if !no_build {
                    build::build(p, build_opts, rt)?;
                }
                let bytes = std::fs::read(&path).map_err(|_| SuiteError::NotBuilt {
                    path: path.clone(),
                    dir: p.dir.display().to_string(),
                })?;
                Ok(PluginSource {
                    origin: path.display().to_string(),
                    bytes: bytes.into(),
                    settings: p.settings.clone(),
                    limits: p.limits(limits),
                })
            }
            Subject::Policies { files, .. } => Ok(catalog::yaml_engine(files, limits)),
        }
    }
}

/// A loaded plugin of either world.
pub enum Loaded {
    Policy(Plugin),
    Detector(DetectorPlugin),
}

impl Loaded {
    pub fn load(rt: &Runtime, world: World, src: PluginSource) -> Result<Loaded, String> {
        match world {
            World::Policy => Plugin::load(rt, src)
                .map(Loaded::Policy)
                .map_err(|e| e.to_string()),
            World::Detector => DetectorPlugin::load(rt, src)
                .map(Loaded::Detector)
                .map_err(|e| e.to_string()),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Loaded::Policy(p) => &p.name,
            Loaded::Detector(d) => &d.name,
        }
    }

    pub fn version(&self) -> &str {
        match self {
            Loaded::Policy(p) => &p.version,
            Loaded::Detector(d) => &d.version,
        }
    }

    pub fn rules(&self) -> &[Rule] {
        match self {
            Loaded::Policy(p) => &p.rules,
            Loaded::Detector(d) => &d.rules,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct SuiteOptions {
    /// Only cases whose `FILE::NAME` contains this text.
    pub filter: Option<String>,
    pub build: BuildOptions,
    /// Use the component as built; fail if there is none.
    pub no_build: bool,
    pub limits: Limits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Passed,
    Failed,
    /// The plugin could not be run on the case (it failed the batch, refused the settings, or the events did not parse).
    Error,
}

/// One case as it ran.
#[derive(Debug, Clone, Serialize)]
pub struct CaseReport {
    /// The case file, relative to the tests directory.
    pub file: String,
    pub name: String,
    pub outcome: Outcome,
    pub millis: f64,
    /// The comparison, one line each: ` ` agreed, `-` expected, `+` got.
    pub diff: Vec<String>,
    /// Why the case could not run.
    pub message: Option<String>,
}

impl CaseReport {
    pub fn id(&self) -> String {
        format!("{}::{}", self.file, self.name)
    }
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteReport {
    pub plugin: String,
    pub version: String,
    pub world: &'static str,
    pub lang: &'static str,
    pub component: String,
    pub tests_dir: String,
    pub cases: Vec<CaseReport>,
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    pub filtered_out: usize,
    /// Rules that no case names.
    pub rules_without_cases: Vec<String>,
    /// Rules whose cases never expect one of the two verdicts (policies:
    /// pass and fail; detectors: an alert and none).
    pub rules_one_sided: Vec<String>,
    pub seconds: f64,
}

impl SuiteReport {
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.errors == 0
    }
}

/// Run every case file of `subject`'s tests directory.
pub fn run(
    rt: &Runtime,
    subject: &Subject,
    opts: &SuiteOptions,
) -> Result<SuiteReport, SuiteError> {
    let started = Instant::now();
    let world = subject.world();
    let base = subject.source(rt, &opts.build, opts.no_build, opts.limits)?;
    let component = base.origin.clone();
    let mut plugins: HashMap<String, Result<Loaded, String>> = HashMap::new();
    let default = Loaded::load(rt, world, base.clone()).map_err(SuiteError::Load)?;
    let rules: Vec<Rule> = default.rules().to_vec();
    let (plugin, version) = (default.name().to_string(), default.version().to_string());
    plugins.insert(String::new(), Ok(default));

    let tests_dir = subject.tests_dir();
    let files = case_files(&tests_dir)?;
    let mut cases = Vec::new();
    let mut filtered_out = 0;
    // rule id -> the verdicts its cases expect (policies: pass/fail; detectors: alert/none)
    let mut covered: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    for path in &files {
        let rel = path
            .strip_prefix(&tests_dir)
            .unwrap_or(path)
            .display()
            .to_string();
        match world {
            World::Policy => {
                let file = testing::read(path)?;
                for case in &file.cases {
                    for e in &case.expect {
                        covered
                            .entry(e.rule.clone())
                            .or_default()
                            .insert(match e.status {
                                Status::Pass => "pass",
                                Status::Fail => "fail",
                                Status::Error => "error",
                            });
                    }
                    if !selected(opts, &rel, &case.name) {
                        filtered_out += 1;
                        continue;
                    }
                    let key = ensure(&mut plugins, rt, world, &base, &case.settings);
                    cases.push(run_policy_case(&rel, case, &plugins[&key]));
                }
            }
            World::Detector => {
                let file = testing::read_events(path)?;
                for case in &file.cases {
                    for e in &case.expect {
                        covered
                            .entry(e.rule.clone())
                            .or_default()
                            .insert(if e.count > 0 { "alert" } else { "none" });
                    }
                    if !selected(opts, &rel, &case.name) {
                        filtered_out += 1;
                        continue;
                    }
                    let key = ensure(&mut plugins, rt, world, &base, &case.settings);
                    cases.push(run_event_case(&rel, case, &plugins[&key]));
                }
            }
        }
    }

    let (want_a, want_b) = match world {
        World::Policy => ("pass", "fail"),
        World::Detector => ("alert", "none"),
    };
    let mut rules_without_cases = Vec::new();
    let mut rules_one_sided = Vec::new();
    for r in &rules {
        match covered.get(&r.id) {
            None => rules_without_cases.push(r.id.clone()),
            Some(v) if !(v.contains(want_a) && v.contains(want_b)) => {
                rules_one_sided.push(r.id.clone())
            }
            Some(_) => {}
        }
    }
    let count = |o: Outcome| cases.iter().filter(|c| c.outcome == o).count();
    Ok(SuiteReport {
        plugin,
        version,
        world: world.as_str(),
        lang: subject.lang(),
        component,
        tests_dir: tests_dir.display().to_string(),
        passed: count(Outcome::Passed),
        failed: count(Outcome::Failed),
        errors: count(Outcome::Error),
        cases,
        filtered_out,
        rules_without_cases,
        rules_one_sided,
        seconds: started.elapsed().as_secs_f64(),
    })
}

type Settings = Option<serde_json::Map<String, serde_json::Value>>;

/// The plugin loaded with a case's settings over its own (once per distinct
/// settings); the key it is kept under.
fn ensure(
    plugins: &mut HashMap<String, Result<Loaded, String>>,
    rt: &Runtime,
    world: World,
    base: &PluginSource,
    settings: &Settings,
) -> String {
    let key = settings
        .as_ref()
        .map(|s| serde_json::Value::Object(s.clone()).to_string())
        .unwrap_or_default();
    plugins.entry(key.clone()).or_insert_with(|| {
        let mut src = base.clone();
        if let (Some(extra), Some(obj)) = (settings, src.settings.as_object_mut()) {
            for (k, v) in extra {
                obj.insert(k.clone(), v.clone());
            }
        }
        Loaded::load(rt, world, src)
    });
    key
}

fn selected(opts: &SuiteOptions, file: &str, name: &str) -> bool {
    opts.filter
        .as_deref()
        .is_none_or(|f| format!("{file}::{name}").contains(f))
}

/// `*.yaml`, `*.yml` and `*.json` under `dir`, in path order.
fn case_files(dir: &Path) -> Result<Vec<PathBuf>, SuiteError> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|e| SuiteError::Io {
            path: dir.to_path_buf(),
            source: std::io::Error::other(e),
        })?;
        let p = entry.path();
        if entry.file_type().is_file()
            && p.extension()
                .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        {
            out.push(p.to_path_buf());
        }
    }
    Ok(out)
}

fn report(file: &str, name: &str, started: Instant) -> CaseReport {
    CaseReport {
        file: file.to_string(),
        name: name.to_string(),
        outcome: Outcome::Passed,
        millis: started.elapsed().as_secs_f64() * 1000.0,
        diff: Vec::new(),
        message: None,
    }
}

fn errored(mut r: CaseReport, message: String) -> CaseReport {
    r.outcome = Outcome::Error;
    r.message = Some(message);
    r
}

fn run_policy_case(file: &str, case: &Case, plugin: &Result<Loaded, String>) -> CaseReport {
    let started = Instant::now();
    let plugin = match plugin {
        Ok(Loaded::Policy(p)) => p,
        Ok(Loaded::Detector(_)) => unreachable_world(),
        Err(e) => return errored(report(file, &case.name, started), e.clone()),
    };
    let assets: Vec<Asset> = case.assets.iter().map(|a| a.to_asset()).collect();
    let batch: Vec<&Asset> = assets
        .iter()
        .filter(|a| plugin.wants(&a.resource_type))
        .collect();
    let result = plugin.evaluate(&batch);
    let mut r = report(file, &case.name, started);
    let findings = match result {
        Ok(f) => f,
        Err(e) => return errored(r, format!("the plugin failed on the case: {e}")),
    };
    for row in testing::compare(case, &findings) {
        let on = format!("{} on {}", row.rule, row.resource);
        let got = row.got.as_ref().map(|(s, m)| {
            if m.is_empty() {
                format!("{on}: {s}")
            } else {
                format!("{on}: {s} ({m})")
            }
        });
        match (row.ok(), &row.expected, got) {
            (true, Some(e), _) => r.diff.push(format!("  {on}: {e}")),
            (_, expected, got) => {
                if let Some(e) = expected {
                    r.diff.push(format!("- {on}: {e}"));
                }
                match got {
                    Some(g) => r.diff.push(format!("+ {g}")),
                    None => r.diff.push(format!("+ {on}: no finding")),
                }
                if !row.missing_evidence.is_empty() {
                    r.diff
                        .push(format!("- evidence: {}", row.missing_evidence.join(", ")));
                    r.diff.push(if row.evidence.is_empty() {
                        "+ evidence: (none)".to_string()
                    } else {
                        format!("+ evidence: {}", row.evidence.join(", "))
                    });
                }
                r.outcome = Outcome::Failed;
            }
        }
    }
    r.millis = started.elapsed().as_secs_f64() * 1000.0;
    r
}

fn run_event_case(file: &str, case: &EventCase, plugin: &Result<Loaded, String>) -> CaseReport {
    let started = Instant::now();
    let plugin = match plugin {
        Ok(Loaded::Detector(d)) => d,
        Ok(Loaded::Policy(_)) => unreachable_world(),
        Err(e) => return errored(report(file, &case.name, started), e.clone()),
    };
    let mut r = report(file, &case.name, started);
    let text = serde_json::Value::Array(case.events.clone()).to_string();
    let events = match events::read_bytes(text.as_bytes(), LogFormat::Auto) {
        Ok(e) => e,
        Err(e) => return errored(r, format!("the case's events cannot be read: {e}")),
    };
    let (_, result) = plugin.evaluate(&events, DetectorState::default());
    let alerts = match result {
        Ok(a) => a,
        Err(e) => return errored(r, format!("the plugin failed on the case: {e}")),
    };
    for e in &case.expect {
        let got: Vec<_> = alerts.iter().filter(|a| a.rule_id == e.rule).collect();
        let plural = |n: usize| if n == 1 { "alert" } else { "alerts" };
        if got.len() == e.count {
            r.diff
                .push(format!("  {}: {} {}", e.rule, e.count, plural(e.count)));
        } else {
            r.outcome = Outcome::Failed;
            r.diff
                .push(format!("- {}: {} {}", e.rule, e.count, plural(e.count)));
            let mut line = format!("+ {}: {} {}", e.rule, got.len(), plural(got.len()));
            if let Some(a) = got.first() {
                line.push_str(&format!(
                    " (first: {:?} on events {})",
                    a.message,
                    a.event_ids.join(", ")
                ));
            }
            r.diff.push(line);
        }
    }
    r.millis = started.elapsed().as_secs_f64() * 1000.0;
    r
}

/// Plugins are loaded for the subject's world only.
fn unreachable_world() -> ! {
    unreachable!("a plugin of the other world was loaded for this suite")
}

/// The report as JUnit XML (one testsuite; a testcase per case).
pub fn junit_xml(r: &SuiteReport) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"stance plugin test\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.3}\">\n",
        r.cases.len(),
        r.failed,
        r.errors,
        r.seconds
    ));
    out.push_str(&format!(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\" time=\"{:.3}\">\n",
        xml(&format!("{} {}", r.plugin, r.version)),
        r.cases.len(),
        r.failed,
        r.errors,
        r.seconds
    ));
    out.push_str(&format!(
        "    <properties><property name=\"world\" value=\"{}\"/><property name=\"lang\" value=\"{}\"/><property name=\"component\" value=\"{}\"/><property name=\"rules_without_cases\" value=\"{}\"/></properties>\n",
        r.world,
        r.lang,
        xml(&r.component),
        xml(&r.rules_without_cases.join(","))
    ));
    for c in &r.cases {
        out.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            xml(&c.file),
            xml(&c.name),
            c.millis / 1000.0
        ));
        match c.outcome {
            Outcome::Passed => out.push_str("/>\n"),
            Outcome::Failed => out.push_str(&format!(
                ">\n      <failure message=\"expectations not met\" type=\"mismatch\">{}</failure>\n    </testcase>\n",
                xml(&c.diff.join("\n"))
            )),
            Outcome::Error => out.push_str(&format!(
                ">\n      <error message=\"{}\" type=\"plugin\"/>\n    </testcase>\n",
                xml(c.message.as_deref().unwrap_or(""))
            )),
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// Text for XML: escaped, and without the control characters XML 1.0 cannot carry.
fn xml(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| {
            if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect();
    crate::report::html::esc(&clean)
}
