//! YAML policies: the built-in AWS policies and policy files or
//! directories, handed to the built-in policy engine as its settings (one
//! engine instance for the built-in policies, one for the files given by
//! path, one per pack, so that a failure in one never costs the others).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::CatalogError;
use super::walk::read_rule_files;
use crate::model::SourceFile;
use crate::runtime::builtin::{self, YAML_POLICY_ORIGIN};
use crate::runtime::{Limits, PluginSource, Reuse};

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
/// Each instance parses its settings once (an instance serves the batches
/// of one scan on one thread: the engine declares itself stateless), and
/// valid policies travel as JSON (transcoded here; ten times faster to parse
/// than YAML). When any file has a problem, the files are passed as written,
/// so that the engine reports each problem at its line and column: the
/// engine is the same crate natively and in the plugin, with the same
/// limits, so what `stance policies validate` accepts the plugin loads.
pub fn yaml_engine(files: &[SourceFile], limits: Limits) -> PluginSource {
    let valid = stance_policy_engine::PolicySet::load(files).is_ok();
    engine_source(YAML_POLICY_ORIGIN.to_string(), files, valid, limits)
}

/// The built-in YAML policy engine once per group of policy files: the
/// built-in policies (origin `builtin:yaml-policy`), the policy files given
/// by path (`builtin:yaml-policy (policy files)`) and each pack's policies
/// (`builtin:yaml-policy (pack:NAME@VERSION)`). A policy that makes the
/// plugin fail where the engine's own limits cannot see it (a trap, the
/// deadline, the memory limit) then costs its own group's results for that
/// batch, never the built-in policies' or another pack's. An invalid set is
/// one instance, as written, which refuses it naming every problem.
pub fn yaml_engines(files: &[SourceFile], limits: Limits) -> Vec<PluginSource> {
    if stance_policy_engine::PolicySet::load(files).is_err() {
        return vec![engine_source(
            YAML_POLICY_ORIGIN.to_string(),
            files,
            false,
            limits,
        )];
    }
    let builtin: HashMap<&str, &str> = builtin::policies().iter().copied().collect();
    let mut groups: Vec<(String, Vec<SourceFile>)> = Vec::new();
    for file in files {
        let origin = group_origin(file, &builtin);
        match groups.iter_mut().find(|(o, _)| *o == origin) {
            Some((_, members)) => members.push(file.clone()),
            None => groups.push((origin, vec![file.clone()])),
        }
    }
    groups
        .into_iter()
        .map(|(origin, members)| engine_source(origin, &members, true, limits))
        .collect()
}

/// Which engine instance a policy file runs in (see `yaml_engines`).
fn group_origin(file: &SourceFile, builtin: &HashMap<&str, &str>) -> String {
    if builtin.get(file.path.as_str()) == Some(&file.text.as_str()) {
        return YAML_POLICY_ORIGIN.to_string();
    }
    match file.path.strip_prefix("pack:") {
        Some(rest) => {
            let pack = rest.split('/').next().unwrap_or(rest);
            format!("{YAML_POLICY_ORIGIN} (pack:{pack})")
        }
        None => format!("{YAML_POLICY_ORIGIN} (policy files)"),
    }
}

/// The engine with `files` as its settings: transcoded to JSON when `valid`.
fn engine_source(
    origin: String,
    files: &[SourceFile],
    valid: bool,
    limits: Limits,
) -> PluginSource {
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
        origin,
        bytes: Arc::from(builtin::YAML_POLICY_WASM),
        settings: serde_json::json!({ "policies": policies }),
        limits,
        // The engine keeps nothing between batches but the policies it
        // parsed from its settings, which never change for an instance.
        reuse: Reuse::PerScan,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(path: &str, id: &str) -> SourceFile {
        SourceFile {
            path: path.to_string(),
            text: format!(
                "id: {id}\nname: {id}\nseverity: low\nresource_type: aws_s3_bucket\ncheck:\n  expression: 'true'\n"
            ),
        }
    }

    #[test]
    fn builtin_files_and_each_pack_run_in_their_own_engine_instance() {
        let mut files = policy_files(true, &[]).unwrap();
        let builtins = files.len();
        files.push(policy("mine/a.yaml", "mine-a"));
        files.push(policy("pack:acme@1.0.0/p/b.yaml", "acme-b"));
        files.push(policy("mine/c.yaml", "mine-c"));
        files.push(policy("pack:other@2.0.0/d.yaml", "other-d"));
        let sources = yaml_engines(&files, Limits::default());
        let origins: Vec<&str> = sources.iter().map(|s| s.origin.as_str()).collect();
        assert_eq!(
            origins,
            [
                "builtin:yaml-policy",
                "builtin:yaml-policy (policy files)",
                "builtin:yaml-policy (pack:acme@1.0.0)",
                "builtin:yaml-policy (pack:other@2.0.0)",
            ]
        );
        let count = |s: &PluginSource| s.settings["policies"].as_array().map_or(0, Vec::len);
        assert_eq!(count(&sources[0]), builtins);
        assert_eq!(count(&sources[1]), 2);
        // A file at a built-in path with other text is the user's.
        let shadow = policy(builtin::policies()[0].0, "shadow");
        let sources = yaml_engines(&[shadow], Limits::default());
        assert_eq!(sources[0].origin, "builtin:yaml-policy (policy files)");
    }

    #[test]
    fn an_invalid_set_is_one_instance_with_the_files_as_written() {
        let mut bad = policy("mine/bad.yaml", "bad");
        bad.text = bad.text.replace("'true'", "'((('");
        let files = [policy("mine/a.yaml", "a"), bad];
        let sources = yaml_engines(&files, Limits::default());
        assert_eq!(sources.len(), 1);
        assert_eq!(sources[0].settings["policies"][1]["text"], files[1].text);
    }
}
