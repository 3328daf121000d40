//! Sigma rules: the built-in CloudTrail rules and rule files or
//! directories, the engine configuration (field mappings, placeholders),
//! the native check of what loads, and the built-in Sigma engine component
//! with the rules as its settings.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use stance_sigma_engine::{Engine, EngineConfig, LoadError};

use super::CatalogError;
use super::walk::read_rule_files;
use crate::model::SourceFile;
use crate::runtime::{Limits, PluginSource, Reuse, builtin};

/// The built-in Sigma rules (unless excluded) and every `*.yml`/`*.yaml`
/// under the given paths (directories recursively, `tests/` left out).
pub fn rule_files(builtin_rules: bool, paths: &[PathBuf]) -> Result<Vec<SourceFile>, CatalogError> {
    let mut files = Vec::new();
    if builtin_rules {
        files.extend(builtin::sigma_rules().iter().map(|(p, t)| SourceFile {
            path: (*p).to_string(),
            text: (*t).to_string(),
        }));
    }
    for path in paths {
        files.extend(read_rule_files(path, &[], "Sigma rule file")?);
    }
    Ok(files)
}

/// The engine configuration from a YAML or JSON file (`EngineConfig`: field
/// mappings per source, placeholders), or the default.
pub fn engine_config(path: Option<&Path>) -> Result<EngineConfig, CatalogError> {
    let Some(path) = path else {
        return Ok(EngineConfig::default());
    };
    let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_norway::from_str(&text).map_err(|e| CatalogError::Invalid {
        path: path.to_path_buf(),
        message: format!("invalid engine configuration: {e}"),
    })
}

/// Load the rules natively: what loads, and why the rest does not.
pub fn check_rules(files: &[SourceFile], config: &EngineConfig) -> (Engine, Vec<LoadError>) {
    let sources: Vec<(&str, &str)> = files
        .iter()
        .map(|f| (f.path.as_str(), f.text.as_str()))
        .collect();
    Engine::load(&sources, config.clone())
}

/// The built-in Sigma engine component with the rules and engine configuration as settings.
pub fn sigma_engine(files: &[SourceFile], config: &EngineConfig, limits: Limits) -> PluginSource {
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
        reuse: Reuse::PerCall,
    }
}
