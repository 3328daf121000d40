//! Plugins given by path: a `.wasm` component (no settings, default
//! limits, a fresh instance per call), a `plugin.toml` manifest beside or
//! pointing at one (path, limits, `stateless`, settings), or a plugin project directory (`stance-plugin.toml`)
//! whose built component runs with the project's settings and limits.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::CatalogError;
use super::project::Project;
use crate::runtime::{Limits, PluginSource, Reuse};

/// A plugin manifest, `plugin.toml`, beside or pointing at a component.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    /// The component, relative to the manifest.
    path: PathBuf,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    memory_mib: Option<u64>,
    #[serde(default)]
    max_output_mib: Option<u64>,
    /// The plugin keeps nothing between batches that changes its results,
    /// so an instance may serve several batches of one scan (`Reuse`).
    #[serde(default)]
    stateless: bool,
    #[serde(default)]
    settings: Option<toml::Table>,
}

/// A plugin given on the command line: a project directory, a `.wasm`
/// component or a `.toml` manifest.
pub fn plugin_source(path: &Path, defaults: Limits) -> Result<PluginSource, CatalogError> {
    if path.is_dir() {
        return project_source(path, defaults);
    }
    if path.extension().is_some_and(|e| e == "toml") {
        return manifest_source(path, defaults);
    }
    Ok(PluginSource {
        origin: path.display().to_string(),
        bytes: Arc::from(read(path)?),
        settings: serde_json::json!({}),
        limits: defaults,
        reuse: Reuse::PerCall,
    })
}

fn read(path: &Path) -> Result<Vec<u8>, CatalogError> {
    std::fs::read(path).map_err(|source| CatalogError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// A `plugin.toml`: the component it names, its limits over `defaults`, its settings.
fn manifest_source(path: &Path, defaults: Limits) -> Result<PluginSource, CatalogError> {
    let invalid = |message: String| CatalogError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let text = String::from_utf8(read(path)?)
        .map_err(|_| invalid("the manifest is not UTF-8 text".into()))?;
    let manifest: Manifest =
        toml::from_str(&text).map_err(|e| invalid(e.to_string().trim_end().to_string()))?;
    let component = path
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(&manifest.path);
    // Each limit in its range (runtime::limits), never wrapped.
    let limits = defaults
        .with(&[
            ("timeout_ms", manifest.timeout_ms),
            ("memory_mib", manifest.memory_mib),
            ("max_output_mib", manifest.max_output_mib),
        ])
        .map_err(|e| invalid(e.to_string()))?;
    let settings = match manifest.settings {
        Some(table) => {
            serde_json::to_value(table).map_err(|e| invalid(format!("settings: {e}")))?
        }
        None => serde_json::json!({}),
    };
    Ok(PluginSource {
        origin: component.display().to_string(),
        bytes: Arc::from(read(&component)?),
        settings,
        limits,
        reuse: Reuse::stateless(manifest.stateless),
    })
}

/// A plugin project directory (`stance-plugin.toml`): its built component,
/// settings and limits.
fn project_source(dir: &Path, defaults: Limits) -> Result<PluginSource, CatalogError> {
    let project = Project::open(dir)?;
    let component = project.component_path();
    let bytes = std::fs::read(&component).map_err(|_| CatalogError::NotBuilt {
        component: component.clone(),
        project: dir.to_path_buf(),
    })?;
    Ok(PluginSource {
        origin: component.display().to_string(),
        bytes: Arc::from(bytes),
        settings: project.settings.clone(),
        limits: project.limits(defaults),
        reuse: Reuse::stateless(project.stateless),
    })
}
