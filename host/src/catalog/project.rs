//! A plugin project: the directory holding `stance-plugin.toml` (name,
//! version, language, world, entry, tests, limits, `stateless`, settings). The catalog
//! reads it to run the project's built component; `stance plugin build`
//! (devkit) reads it to build one. Reading the manifest is all it does.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::runtime::{Limits, World};

/// The manifest's file name.
pub const MANIFEST: &str = "stance-plugin.toml";

/// Why a plugin project could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// The directory (the payload) holds no `stance-plugin.toml`.
    #[error(
        "{0}: no {MANIFEST} here; run `stance plugin new NAME` to start a plugin project, or give the project directory"
    )]
    NoManifest(PathBuf),
    /// The manifest exists but could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The manifest's path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The manifest is not valid TOML, has an unknown field, or a bad name,
    /// version, world or limit.
    #[error("{path}: {message}")]
    Invalid {
        /// The manifest's path.
        path: PathBuf,
        /// What is wrong, naming the field.
        message: String,
    },
}

/// The language a project is written in; it picks the toolchain.
///
/// `Rust` builds with cargo for `wasm32-wasip2`, `Python` with
/// componentize-py, `Js` with esbuild and componentize-js (`devkit::build`).
/// The variants carry no doc comments of their own: clap would show them in
/// the help of `--lang`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Lang {
    Rust,
    Python,
    Js,
}

impl Lang {
    /// The name in manifests, template paths and the SDK tree: `rust`, `python`, `js`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
        }
    }

    /// The entry a new project of this language starts from.
    pub fn default_entry(self) -> &'static str {
        match self {
            Lang::Rust => "src/lib.rs",
            Lang::Python => "app",
            Lang::Js => "src/index.js",
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    name: String,
    version: String,
    #[serde(default)]
    description: String,
    lang: Lang,
    #[serde(default = "policy_world")]
    world: String,
    #[serde(default)]
    entry: Option<String>,
    #[serde(default = "tests_dir")]
    tests: PathBuf,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    memory_mib: Option<u64>,
    #[serde(default)]
    max_output_mib: Option<u64>,
    #[serde(default)]
    stateless: bool,
    #[serde(default)]
    settings: Option<toml::Table>,
}

fn policy_world() -> String {
    "policy".into()
}

fn tests_dir() -> PathBuf {
    "tests".into()
}

/// A project as read from its manifest.
#[derive(Debug, Clone)]
pub struct Project {
    /// The project directory, canonicalised when it can be.
    pub dir: PathBuf,
    /// The plugin's name: lowercase letters, digits and `-`; it names the component file.
    pub name: String,
    /// The plugin's semantic version.
    pub version: String,
    /// A description for people; empty when the manifest has none.
    pub description: String,
    /// The language, which picks the toolchain.
    pub lang: Lang,
    /// The WIT world the plugin implements (`policy` unless the manifest says `detector`).
    pub world: World,
    /// Python module or JavaScript file the build starts from.
    pub entry: String,
    /// The directory of case files, `tests/` under the project unless the manifest says otherwise.
    pub tests: PathBuf,
    /// The manifest's `[settings]` table as JSON, handed to the plugin at load; `{}` when absent.
    pub settings: serde_json::Value,
    /// `stateless = true`: the plugin keeps nothing between batches that
    /// changes its results, so an instance may serve several batches of one
    /// scan (`runtime::Reuse`).
    pub stateless: bool,
    timeout_ms: Option<u64>,
    memory_mib: Option<u64>,
    max_output_mib: Option<u64>,
}

impl Project {
    /// Read `DIR/stance-plugin.toml`.
    pub fn open(dir: &Path) -> Result<Project, ProjectError> {
        let path = dir.join(MANIFEST);
        if !path.is_file() {
            return Err(ProjectError::NoManifest(dir.to_path_buf()));
        }
        let text = std::fs::read_to_string(&path).map_err(|source| ProjectError::Read {
            path: path.clone(),
            source,
        })?;
        let invalid = |message: String| ProjectError::Invalid {
            path: path.clone(),
            message,
        };
        let m: Manifest =
            toml::from_str(&text).map_err(|e| invalid(e.to_string().trim_end().to_string()))?;
        if !valid_name(&m.name) {
            return Err(invalid(format!(
                "name {:?}: use lowercase letters, digits and '-' (it names the component file)",
                m.name
            )));
        }
        if semver::Version::parse(&m.version).is_err() {
            return Err(invalid(format!(
                "version {:?} is not a semantic version such as 0.1.0",
                m.version
            )));
        }
        let world = match m.world.as_str() {
            "policy" => World::Policy,
            "detector" => World::Detector,
            other => {
                return Err(invalid(format!(
                    "world {other:?}: must be \"policy\" or \"detector\""
                )));
            }
        };
        // Each limit in its range (runtime::limits), never wrapped.
        Limits::default()
            .with(&[
                ("timeout_ms", m.timeout_ms),
                ("memory_mib", m.memory_mib),
                ("max_output_mib", m.max_output_mib),
            ])
            .map_err(|e| invalid(e.to_string()))?;
        let settings = match m.settings {
            Some(t) => serde_json::to_value(t).map_err(|e| invalid(format!("settings: {e}")))?,
            None => serde_json::json!({}),
        };
        Ok(Project {
            // Toolchains run inside the project: paths given to them must not
            // depend on the caller's working directory.
            dir: dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf()),
            entry: m
                .entry
                .unwrap_or_else(|| m.lang.default_entry().to_string()),
            name: m.name,
            version: m.version,
            description: m.description,
            lang: m.lang,
            world,
            tests: dir.join(m.tests),
            settings,
            stateless: m.stateless,
            timeout_ms: m.timeout_ms,
            memory_mib: m.memory_mib,
            max_output_mib: m.max_output_mib,
        })
    }

    /// Where `stance plugin build` writes the component.
    pub fn component_path(&self) -> PathBuf {
        self.dir.join("dist").join(format!("{}.wasm", self.name))
    }

    /// The manifest's limits over `defaults`.
    pub fn limits(&self, defaults: Limits) -> Limits {
        // `open` checked the ranges.
        defaults
            .with(&[
                ("timeout_ms", self.timeout_ms),
                ("memory_mib", self.memory_mib),
                ("max_output_mib", self.max_output_mib),
            ])
            .unwrap_or(defaults)
    }
}

/// Plugin names: what a file name, a crate and a package can all carry.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && !name.contains("--")
}
