//! YAML policies: the built-in AWS policies and policy files or
//! directories, handed to the built-in policy engine as its settings.

use std::path::PathBuf;
use std::sync::Arc;

use super::CatalogError;
use super::walk::read_rule_files;
use crate::model::SourceFile;
use crate::runtime::{Limits, PluginSource, builtin};

/// Policy files for the YAML engine: the built-in policies (unless
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
        files.extend(read_rule_files(path, &["frameworks"], "policy file")?);
    }
    Ok(files)
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
