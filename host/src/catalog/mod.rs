//! The catalog: which rules a run executes. It resolves every rule source
//! alike — the built-in policies and Sigma rules, YAML policy files and
//! directories, Sigma rule files and directories, plugin components,
//! `plugin.toml` manifests, plugin projects (`stance-plugin.toml`) and
//! installed packs through the project's lock — into [`PluginSource`]s for
//! the runtime, and says which paths to watch for a reload.
//!
//! It reads files and verifies installed packs; it never compiles or runs a
//! component (the runtime does), never writes to the store, and never
//! builds plugins (devkit does, reading projects through [`project`]).

mod packs;
pub mod plugins;
pub mod policies;
pub mod project;
pub mod sigma;
mod walk;

use std::path::PathBuf;

use stance_pack::PackSpec;

pub use packs::{LockOutcome, PackSources, pack_sources};
pub use plugins::plugin_source;
pub use policies::{policy_files, yaml_engine, yaml_engines};
pub use project::{Lang, MANIFEST, Project, ProjectError};
pub use sigma::{check_rules, engine_config, rule_files, sigma_engine};
pub use walk::read_rule_files;

use crate::pack::TrustConfig;
use crate::runtime::{Limits, PluginSource};

/// A rule source that cannot be used, naming the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A file or directory could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// What was read.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A path given on the command line does not exist.
    #[error("{path}: no such {what} or directory")]
    NotFound {
        /// The path given.
        path: PathBuf,
        /// What it was meant to be (`policy file`, `Sigma rule file`).
        what: &'static str,
    },
    /// A manifest or configuration file is invalid.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        message: String,
    },
    /// A plugin project's manifest is missing or invalid.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// A plugin project has no built component yet.
    #[error("{component}: not built yet; run `stance plugin build {project}`")]
    NotBuilt {
        /// Where the component should be.
        component: PathBuf,
        /// The project directory.
        project: PathBuf,
    },
}

/// The policy-world rules of a scan (besides packs).
#[derive(Debug, Clone)]
pub struct PolicySelection {
    /// Run the built-in AWS policies.
    pub builtin: bool,
    /// YAML policy files or directories.
    pub paths: Vec<PathBuf>,
    /// Policy plugins: components, manifests or project directories.
    pub plugins: Vec<PathBuf>,
}

impl Default for PolicySelection {
    fn default() -> Self {
        PolicySelection {
            builtin: true,
            paths: Vec::new(),
            plugins: Vec::new(),
        }
    }
}

/// The detector-world rules of a detection run (besides packs).
#[derive(Debug, Clone)]
pub struct DetectorSelection {
    /// Run the built-in Sigma rules.
    pub builtin: bool,
    /// Sigma rule files or directories.
    pub rule_paths: Vec<PathBuf>,
    /// The Sigma engine's configuration file.
    pub engine_config: Option<PathBuf>,
    /// Detector plugins: components, manifests or project directories.
    pub plugins: Vec<PathBuf>,
}

impl Default for DetectorSelection {
    fn default() -> Self {
        DetectorSelection {
            builtin: true,
            rule_paths: Vec::new(),
            engine_config: None,
            plugins: Vec::new(),
        }
    }
}

/// Everything a command asked to run: policies (scan), detectors
/// (detection), installed packs, and how packs are trusted.
#[derive(Debug, Clone)]
pub struct Selection {
    /// The policy-world rules, for a scan.
    pub policies: Option<PolicySelection>,
    /// The detector-world rules, for detection.
    pub detectors: Option<DetectorSelection>,
    /// Installed packs, `NAME[@RANGE]`.
    pub packs: Vec<PackSpec>,
    /// Where installed packs live (`Settings::pack_dir`).
    pub pack_dir: PathBuf,
    /// How packs are trusted.
    pub trust: TrustConfig,
    /// Default limits of every plugin (manifests may override them).
    pub limits: Limits,
}

/// The detectors a selection resolves to, with what the native check of
/// the Sigma rules found.
#[derive(Debug, Default)]
pub struct DetectorSources {
    /// The Sigma engine with its rules (when there are any), then the other detectors.
    pub sources: Vec<PluginSource>,
    /// Sigma rules that load.
    pub sigma_rules: usize,
    /// Sigma rules that do not load, and why.
    pub rule_errors: Vec<String>,
}

/// A selection resolved into plugin sources.
#[derive(Debug, Default)]
pub struct Resolved {
    /// Policy-world plugins: the YAML engine with every policy file first.
    pub policies: Vec<PluginSource>,
    /// Detector-world plugins, when the selection asked for detection.
    pub detectors: Option<DetectorSources>,
    /// `name@version` of every pack loaded, with its archive digest.
    pub packs: Vec<(String, String)>,
    /// What loading packs did to `stance.lock`.
    pub lock: LockOutcome,
}

impl Selection {
    /// Read every source the selection names and verify its packs.
    pub fn resolve(&self) -> anyhow::Result<Resolved> {
        let packs = pack_sources(&self.packs, &self.pack_dir, &self.trust, self.limits)?;
        let policies = match &self.policies {
            Some(p) => self.policy_sources(p, &packs)?,
            None => Vec::new(),
        };
        let detectors = match &self.detectors {
            Some(d) => Some(self.detector_sources(d, &packs)?),
            None => None,
        };
        Ok(Resolved {
            policies,
            detectors,
            packs: packs.packs,
            lock: packs.lock,
        })
    }

    fn policy_sources(
        &self,
        sel: &PolicySelection,
        packs: &PackSources,
    ) -> Result<Vec<PluginSource>, CatalogError> {
        let mut sources = Vec::new();
        let mut files = policy_files(sel.builtin, &sel.paths)?;
        files.extend(packs.policies.iter().cloned());
        if !files.is_empty() {
            sources.extend(yaml_engines(&files, self.limits));
        }
        for path in &sel.plugins {
            sources.push(plugin_source(path, self.limits)?);
        }
        sources.extend(packs.plugins.iter().cloned());
        Ok(sources)
    }

    fn detector_sources(
        &self,
        sel: &DetectorSelection,
        packs: &PackSources,
    ) -> Result<DetectorSources, CatalogError> {
        let mut out = DetectorSources::default();
        if sel.builtin || !sel.rule_paths.is_empty() || !packs.rules.is_empty() {
            let mut files = rule_files(sel.builtin, &sel.rule_paths)?;
            files.extend(packs.rules.iter().cloned());
            let config = engine_config(sel.engine_config.as_deref())?;
            let (engine, errors) = check_rules(&files, &config);
            out.sigma_rules = engine.rules().count();
            for e in &errors {
                tracing::warn!("Sigma rule not loaded: {e}");
            }
            out.rule_errors = errors.iter().map(ToString::to_string).collect();
            if !files.is_empty() {
                out.sources.push(sigma_engine(&files, &config, self.limits));
            }
        }
        for path in &sel.plugins {
            out.sources.push(plugin_source(path, self.limits)?);
        }
        out.sources.extend(packs.detectors.iter().cloned());
        Ok(out)
    }

    /// Files and directories whose change means the selection must be
    /// resolved again (`stance watch`). A plugin project changes when its
    /// component or manifest does, not while its sources are edited (the
    /// build replaces the component).
    pub fn watched_paths(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let plugin = |p: &PathBuf| -> Vec<PathBuf> {
            if p.join(MANIFEST).is_file() {
                vec![p.join("dist"), p.join(MANIFEST)]
            } else {
                vec![p.clone()]
            }
        };
        if let Some(s) = &self.policies {
            out.extend(s.paths.iter().cloned());
            out.extend(s.plugins.iter().flat_map(plugin));
        }
        if let Some(d) = &self.detectors {
            out.extend(d.rule_paths.iter().cloned());
            out.extend(d.plugins.iter().flat_map(plugin));
            out.extend(d.engine_config.iter().cloned());
        }
        if !self.packs.is_empty() {
            out.push(self.pack_dir.clone());
            out.push(crate::pack::lock_path(&self.trust.project));
        }
        out
    }
}
