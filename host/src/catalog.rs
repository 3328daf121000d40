//! Which plugins and policies a command runs: the built-in policy engine and
//! pack, local policy directories, and plugin files with their manifests
//! (`plugin.toml`: path, limits, settings). It resolves sources; loading and
//! running them is the runtime's job.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use stance_policy_engine::SourceFile;

use crate::runtime::{Limits, PluginSource, builtin};

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Manifest { path: PathBuf, message: String },
    #[error("{0}")]
    Project(String),
    #[error("{path}: not a policy file or directory (expected .yaml/.yml files)")]
    NotPolicies { path: PathBuf },
}

/// Policy files to hand to the YAML engine: the built-in pack (unless
/// excluded) and every `*.yaml`/`*.yml` under the given paths, except
/// test cases in `tests/` and framework catalogues in `frameworks/`.
pub fn policy_files(builtin: bool, paths: &[PathBuf]) -> Result<Vec<SourceFile>, CatalogError> {
    let mut files: Vec<SourceFile> = Vec::new();
    if builtin {
        files.extend(builtin::policies().iter().map(|(path, text)| SourceFile {
            path: (*path).to_string(),
            text: (*text).to_string(),
        }));
    }
    for path in paths {
        let mut found = Vec::new();
        if path.is_dir() {
            walk_yaml(path, &mut found).map_err(|source| CatalogError::Read {
                path: path.clone(),
                source,
            })?;
            found.sort();
        } else if path.is_file() {
            found.push(path.clone());
        } else {
            return Err(CatalogError::NotPolicies { path: path.clone() });
        }
        for f in found {
            let text = std::fs::read_to_string(&f).map_err(|source| CatalogError::Read {
                path: f.clone(),
                source,
            })?;
            files.push(SourceFile {
                path: f.display().to_string(),
                text,
            });
        }
    }
    Ok(files)
}

fn walk_yaml(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            if path
                .file_name()
                .is_some_and(|n| n != "tests" && n != "frameworks")
            {
                walk_yaml(&path, out)?;
            }
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    Ok(())
}

/// The built-in YAML policy engine with the given policy files as settings.
///
/// Every batch runs on a fresh instance that parses its settings again, so
/// valid policies travel as JSON (transcoded here; ten times faster to parse
/// than YAML). When any file has a problem, the files are passed as written,
/// so that the engine reports each problem at its line and column.
pub fn yaml_engine(files: &[SourceFile], limits: Limits) -> PluginSource {
    let valid = stance_policy_engine::PolicySet::load(files).is_ok();
    let policies: Vec<serde_json::Value> = files
        .iter()
        .map(|f| {
            let json = valid
                .then(|| serde_norway::from_str::<serde_json::Value>(&f.text).ok())
                .flatten()
                .filter(|v| v.is_object() || v.is_array());
            let text = json.map_or_else(|| f.text.clone(), |v| v.to_string());
            serde_json::json!({"path": f.path, "text": text})
        })
        .collect();
    PluginSource {
        origin: builtin::YAML_POLICY_ORIGIN.to_string(),
        bytes: Arc::from(builtin::YAML_POLICY_WASM),
        settings: serde_json::json!({ "policies": policies }),
        limits,
    }
}

/// A plugin manifest, `plugin.toml`, beside or pointing at a component.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    /// The component, relative to the manifest.
    path: PathBuf,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    memory_mib: Option<usize>,
    #[serde(default)]
    max_output_mib: Option<usize>,
    #[serde(default)]
    settings: Option<toml::Table>,
}

/// A plugin given on the command line: a `.wasm` component (no settings,
/// default limits) or a `.toml` manifest.
pub fn plugin_source(path: &Path, defaults: Limits) -> Result<PluginSource, CatalogError> {
    if path.is_dir() {
        return project_source(path, defaults);
    }
    let is_manifest = path.extension().is_some_and(|e| e == "toml");
    if !is_manifest {
        let bytes = std::fs::read(path).map_err(|source| CatalogError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        return Ok(PluginSource {
            origin: path.display().to_string(),
            bytes: Arc::from(bytes),
            settings: serde_json::json!({}),
            limits: defaults,
        });
    }
    let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let manifest: Manifest = toml::from_str(&text).map_err(|e| CatalogError::Manifest {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_string(),
    })?;
    let component = path
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(&manifest.path);
    let bytes = std::fs::read(&component).map_err(|source| CatalogError::Read {
        path: component.clone(),
        source,
    })?;
    let positive = |name: &str, v: Option<u64>| -> Result<Option<u64>, CatalogError> {
        match v {
            Some(0) => Err(CatalogError::Manifest {
                path: path.to_path_buf(),
                message: format!("{name} must be greater than 0"),
            }),
            v => Ok(v),
        }
    };
    let mut limits = defaults;
    if let Some(ms) = positive("timeout_ms", manifest.timeout_ms)? {
        limits.timeout = Duration::from_millis(ms);
    }
    if let Some(mib) = positive("memory_mib", manifest.memory_mib.map(|v| v as u64))? {
        limits.memory_bytes = (mib as usize) << 20;
    }
    if let Some(mib) = positive("max_output_mib", manifest.max_output_mib.map(|v| v as u64))? {
        limits.output_bytes = (mib as usize) << 20;
    }
    let settings = match manifest.settings {
        Some(table) => serde_json::to_value(table).map_err(|e| CatalogError::Manifest {
            path: path.to_path_buf(),
            message: format!("settings: {e}"),
        })?,
        None => serde_json::json!({}),
    };
    Ok(PluginSource {
        origin: component.display().to_string(),
        bytes: Arc::from(bytes),
        settings,
        limits,
    })
}

/// A plugin project directory (`stance-plugin.toml`): its built component,
/// settings and limits.
fn project_source(dir: &Path, defaults: Limits) -> Result<PluginSource, CatalogError> {
    let project =
        crate::devkit::Project::open(dir).map_err(|e| CatalogError::Project(e.to_string()))?;
    let component = project.component_path();
    let bytes = std::fs::read(&component).map_err(|_| {
        CatalogError::Project(format!(
            "{}: not built yet; run `stance plugin build {}`",
            component.display(),
            dir.display()
        ))
    })?;
    Ok(PluginSource {
        origin: component.display().to_string(),
        bytes: Arc::from(bytes),
        settings: project.settings.clone(),
        limits: project.limits(defaults),
    })
}
