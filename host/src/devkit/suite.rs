//! `stance plugin test`: run a plugin's case files against its built
//! component (or the YAML engine with a directory of policies), compare with
//! the expectations, and report per case, with coverage of the rules, as
//! text, JSON and JUnit XML.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::build::{self, BuildError, BuildOptions};
use super::cases::{self as testing, Case, EventCase};
use crate::catalog;
use crate::catalog::{MANIFEST, Project};
use crate::events::{self, LogFormat};
use crate::intake::walk;
use crate::model::{Asset, Rule};
use crate::runtime::{
    DetectorPlugin, DetectorState, Limits, LoadedPlugin, PluginSource, PolicyPlugin, Runtime, World,
};

/// Why `stance plugin test` (or `stance plugin bench`) could not run; a
/// failing case is not an error but an [`Outcome`].
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// The directory (the payload) is neither a project nor a directory of YAML policies.
    #[error(
        "{0}: neither a plugin project ({MANIFEST}) nor a directory of YAML policies; give a project directory (stance plugin new NAME makes one)"
    )]
    NotASubject(PathBuf),
    /// Building the project failed.
    #[error("{0}")]
    Build(#[from] BuildError),
    /// The project's manifest could not be read.
    #[error("{0}")]
    Project(#[from] super::ProjectError),
    /// `--no-build` was given and there is no built component.
    #[error("{path}: no component; run `stance plugin build {dir}` first, or drop --no-build")]
    NotBuilt {
        /// Where the component should be.
        path: PathBuf,
        /// The project directory, as displayed in the remedy.
        dir: String,
    },
    /// The plugin (or the policies) did not load, or a benchmark could not run it; the message says why.
    #[error("{0}")]
    Load(String),
    /// A case file could not be read.
    #[error("{0}")]
    Cases(#[from] testing::CaseError),
    /// Walking the tests directory or writing a report failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The I/O error.
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
        /// The directory given.
        dir: PathBuf,
        /// The policy files under it, with their text.
        files: Vec<crate::model::SourceFile>,
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

    /// The world the cases are for: the project's, or `policy` for YAML policies.
    pub fn world(&self) -> World {
        match self {
            Subject::Project(p) => p.world,
            Subject::Policies { .. } => World::Policy,
        }
    }

    /// Where the case files are: the project's tests directory, or `DIR/tests`.
    pub fn tests_dir(&self) -> PathBuf {
        match self {
            Subject::Project(p) => p.tests.clone(),
            Subject::Policies { dir, .. } => dir.join("tests"),
        }
    }

    /// The language: the project's (`rust`, `python`, `js`), or `yaml`.
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
                    reuse: crate::runtime::Reuse::stateless(p.stateless),
                })
            }
            Subject::Policies { files, .. } => Ok(catalog::yaml_engine(files, limits)),
        }
    }
}

/// A loaded plugin of either world.
pub enum Loaded {
    /// A plugin of the `policy` world.
    Policy(PolicyPlugin),
    /// A plugin of the `detector` world.
    Detector(DetectorPlugin),
}

impl Loaded {
    /// Load `src` as a plugin of `world`; the error is the loader's message.
    pub fn load(rt: &Runtime, world: World, src: PluginSource) -> Result<Loaded, String> {
        match world {
            World::Policy => PolicyPlugin::load(rt, src)
                .map(Loaded::Policy)
                .map_err(|e| e.to_string()),
            World::Detector => DetectorPlugin::load(rt, src)
                .map(Loaded::Detector)
                .map_err(|e| e.to_string()),
        }
    }

    /// The plugin, whatever its world.
    pub fn core(&self) -> &LoadedPlugin {
        match self {
            Loaded::Policy(p) => p,
            Loaded::Detector(d) => d,
        }
    }
}

/// How a suite runs.
#[derive(Debug, Clone, Default)]
pub struct SuiteOptions {
    /// Only cases whose `FILE::NAME` contains this text.
    pub filter: Option<String>,
    /// How to build the project first.
    pub build: BuildOptions,
    /// Use the component as built; fail if there is none.
    pub no_build: bool,
    /// Limits of each plugin call, under the project manifest's own.
    pub limits: Limits,
}

/// How one case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The plugin reported what the case expects.
    Passed,
    /// The plugin ran but reported something else.
    Failed,
    /// The plugin could not be run on the case (it failed the batch, refused the settings, or the events did not parse).
    Error,
}

/// One case as it ran.
#[derive(Debug, Clone, Serialize)]
pub struct CaseReport {
    /// The case file, relative to the tests directory.
    pub file: String,
    /// The case's name.
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
    /// How long it took, in milliseconds.
    pub millis: f64,
    /// The comparison, one line each: ` ` agreed, `-` expected, `+` got.
    pub diff: Vec<String>,
    /// Why the case could not run.
    pub message: Option<String>,
}

impl CaseReport {
    /// `FILE::NAME`, what `--filter` matches.
    pub fn id(&self) -> String {
        format!("{}::{}", self.file, self.name)
    }
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteReport {
    /// The plugin's name, as its `describe` gave it.
    pub plugin: String,
    /// The plugin's version, as its `describe` gave it.
    pub version: String,
    /// The world: `policy` or `detector`.
    pub world: &'static str,
    /// The language ([`Subject::lang`]).
    pub lang: &'static str,
    /// Where the plugin came from: the component's path, or the built-in engine's origin.
    pub component: String,
    /// The tests directory, as displayed.
    pub tests_dir: String,
    /// Every case run, in file and case order.
    pub cases: Vec<CaseReport>,
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed.
    pub failed: usize,
    /// Cases that could not run.
    pub errors: usize,
    /// Cases skipped by `filter`.
    pub filtered_out: usize,
    /// Rules that no case names.
    pub rules_without_cases: Vec<String>,
    /// Rules whose cases never expect one of the two verdicts (policies:
    /// pass and fail; detectors: an alert and none).
    pub rules_one_sided: Vec<String>,
    /// Wall time of the whole run, build included, in seconds.
    pub seconds: f64,
}

impl SuiteReport {
    /// No case failed or errored (cases filtered out do not count).
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
    let default = Loaded::load(rt, world, base.clone()).map_err(SuiteError::Load)?;
    let rules: Vec<Rule> = default.core().rules.clone();
    let (plugin, version) = (default.core().name.clone(), default.core().version.clone());
    let tests_dir = subject.tests_dir();
    let mut runner = Runner {
        rt,
        world,
        base,
        opts,
        plugins: HashMap::from([(String::new(), Ok(default))]),
        cases: Vec::new(),
        filtered_out: 0,
        covered: BTreeMap::new(),
    };
    for path in &case_files(&tests_dir)? {
        let rel = path
            .strip_prefix(&tests_dir)
            .unwrap_or(path)
            .display()
            .to_string();
        runner.file(path, &rel)?;
    }
    let (rules_without_cases, rules_one_sided) = rule_coverage(world, &rules, &runner.covered);
    let cases = runner.cases;
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
        filtered_out: runner.filtered_out,
        rules_without_cases,
        rules_one_sided,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// A suite in progress: the plugin loaded once per distinct case settings,
/// the cases run so far, and what the cases expect of each rule.
struct Runner<'a> {
    rt: &'a Runtime,
    world: World,
    base: PluginSource,
    opts: &'a SuiteOptions,
    plugins: HashMap<String, Result<Loaded, String>>,
    cases: Vec<CaseReport>,
    filtered_out: usize,
    /// rule id -> the verdicts its cases expect (policies: pass/fail; detectors: alert/none)
    covered: BTreeMap<String, BTreeSet<&'static str>>,
}

impl Runner<'_> {
    /// Run the cases of one file (`rel` names it in reports).
    fn file(&mut self, path: &Path, rel: &str) -> Result<(), SuiteError> {
        match self.world {
            World::Policy => {
                for case in &testing::read(path)?.cases {
                    for e in &case.expect {
                        self.expects(&e.rule, e.status.as_str());
                    }
                    if let Some(key) = self.select(rel, &case.name, &case.settings) {
                        self.cases
                            .push(run_policy_case(rel, case, &self.plugins[&key]));
                    }
                }
            }
            World::Detector => {
                for case in &testing::read_events(path)?.cases {
                    for e in &case.expect {
                        self.expects(&e.rule, if e.count > 0 { "alert" } else { "none" });
                    }
                    if let Some(key) = self.select(rel, &case.name, &case.settings) {
                        self.cases
                            .push(run_event_case(rel, case, &self.plugins[&key]));
                    }
                }
            }
        }
        Ok(())
    }

    fn expects(&mut self, rule: &str, verdict: &'static str) {
        self.covered
            .entry(rule.to_string())
            .or_default()
            .insert(verdict);
    }

    /// The key of the plugin loaded with the case's settings, unless the
    /// filter leaves the case out.
    fn select(&mut self, rel: &str, name: &str, settings: &Settings) -> Option<String> {
        if !selected(self.opts, rel, name) {
            self.filtered_out += 1;
            return None;
        }
        Some(ensure(
            &mut self.plugins,
            self.rt,
            self.world,
            &self.base,
            settings,
        ))
    }
}

/// Rules with no case at all, and rules whose cases never show both
/// verdicts (pass and fail; alert and none).
fn rule_coverage(
    world: World,
    rules: &[Rule],
    covered: &BTreeMap<String, BTreeSet<&'static str>>,
) -> (Vec<String>, Vec<String>) {
    let (want_a, want_b) = match world {
        World::Policy => ("pass", "fail"),
        World::Detector => ("alert", "none"),
    };
    let mut without = Vec::new();
    let mut one_sided = Vec::new();
    for r in rules {
        match covered.get(&r.id) {
            None => without.push(r.id.clone()),
            Some(v) if !(v.contains(want_a) && v.contains(want_b)) => one_sided.push(r.id.clone()),
            Some(_) => {}
        }
    }
    (without, one_sided)
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
    let filter = walk::Filter {
        enter: &|_| true,
        want: &|p| is_case_file(p),
    };
    walk::walk(dir, &filter, &mut Default::default())
        .map(|w| w.files)
        .map_err(|source| SuiteError::Io {
            path: dir.to_path_buf(),
            source,
        })
}

/// A case file by its extension: `*.yaml`, `*.yml`, `*.json`.
pub(crate) fn is_case_file(p: &Path) -> bool {
    p.extension()
        .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
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
