//! Step 1 of a pack's life, the manifest `stance-pack.toml`: what a pack is
//! (name, version, required WIT and Stance versions), what it carries
//! (plugins with their digests and default settings, policy and rule files)
//! and what it needs (other packs, by semver range). This module owns the
//! manifest's format and validation, the rules for names and archive paths,
//! and the starter manifest that [`init`] writes.
//!
//! It never reads the files a manifest names (`archive::build` does) and
//! never compares the required versions with the running host
//! (`trust::verify` does, with [`WitVersion::is_satisfied_by`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use semver::{Comparator, Op, Version, VersionReq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::PackError;
use crate::digest::Digest;

/// The manifest's file name, in a pack directory and in an archive.
pub const MANIFEST_FILE: &str = "stance-pack.toml";

/// A parsed and validated `stance-pack.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// What the pack is (`[pack]`).
    pub pack: PackInfo,
    /// The wasm components of the pack (`[[plugin]]` tables).
    #[serde(default, rename = "plugin", skip_serializing_if = "Vec::is_empty")]
    pub plugins: Vec<PluginEntry>,
    /// Policy and rule files (`[data]`).
    #[serde(default)]
    pub data: DataFiles,
    /// Other packs this one needs: name = semver range (`"^1.2"`).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "de_ranges"
    )]
    pub dependencies: BTreeMap<String, VersionReq>,
}

/// The `[pack]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PackInfo {
    /// Lowercase letters, digits and `-`, starting with a letter.
    pub name: String,
    /// The pack's semver version; an installed version is immutable.
    #[serde(deserialize_with = "de_version")]
    pub version: Version,
    /// One line saying what the pack checks.
    #[serde(default)]
    pub description: String,
    /// Who maintains the pack, e.g. `Platform team <platform@example.com>`.
    #[serde(default)]
    pub authors: Vec<String>,
    /// An SPDX license expression, e.g. `Apache-2.0`.
    #[serde(default)]
    pub license: Option<String>,
    /// The WIT package and version the plugins were built against,
    /// e.g. `stance:plugin@0.1.0`.
    pub wit: WitVersion,
    /// The oldest Stance that can run the pack.
    #[serde(deserialize_with = "de_version")]
    pub min_stance_version: Version,
}

/// Reads a semver version, saying how to write one when it is not.
fn de_version<'de, D: Deserializer<'de>>(d: D) -> Result<Version, D::Error> {
    let s = String::deserialize(d)?;
    Version::parse(&s).map_err(|e| {
        serde::de::Error::custom(format!(
            "`{s}` is not a semver version ({e}); write MAJOR.MINOR.PATCH, e.g. `1.2.0`"
        ))
    })
}

/// Reads `[dependencies]`: pack names with semver ranges.
fn de_ranges<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, VersionReq>, D::Error> {
    let raw = BTreeMap::<String, String>::deserialize(d)?;
    raw.into_iter()
        .map(|(name, range)| {
            let req = VersionReq::parse(&range).map_err(|e| {
                serde::de::Error::custom(format!(
                    "dependency `{name}`: `{range}` is not a semver range ({e}); write e.g. `^1.2`, `~1.2.3` or `>=1, <3`"
                ))
            })?;
            Ok((name, req))
        })
        .collect()
}

/// One `[[plugin]]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginEntry {
    /// Unique within the pack; same rules as a pack name.
    pub name: String,
    /// Path of the `.wasm` component, relative to the pack directory.
    pub path: String,
    /// The WIT world the component implements.
    pub world: World,
    /// `sha256:…` of the component; `build` refuses a file that differs.
    #[serde(default)]
    pub digest: Option<Digest>,
    /// Default settings handed to the plugin (a JSON object at run time).
    #[serde(default)]
    pub settings: toml::Table,
}

impl PluginEntry {
    /// The default settings as the JSON object the runtime hands to plugins
    /// (TOML dates and times become strings).
    pub fn settings_json(&self) -> serde_json::Value {
        fn convert(v: &toml::Value) -> serde_json::Value {
            match v {
                toml::Value::String(s) => serde_json::Value::String(s.clone()),
                toml::Value::Integer(i) => serde_json::Value::from(*i),
                toml::Value::Float(f) => serde_json::Number::from_f64(*f)
                    .map(serde_json::Value::Number)
                    .unwrap_or(serde_json::Value::Null),
                toml::Value::Boolean(b) => serde_json::Value::Bool(*b),
                toml::Value::Datetime(d) => serde_json::Value::String(d.to_string()),
                toml::Value::Array(a) => serde_json::Value::Array(a.iter().map(convert).collect()),
                toml::Value::Table(t) => serde_json::Value::Object(
                    t.iter().map(|(k, v)| (k.clone(), convert(v))).collect(),
                ),
            }
        }
        serde_json::Value::Object(
            self.settings
                .iter()
                .map(|(k, v)| (k.clone(), convert(v)))
                .collect(),
        )
    }
}

/// The WIT world a plugin implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum World {
    /// Assets in, findings out.
    Policy,
    /// Events in, alerts out.
    Detector,
}

/// The `[data]` table: globs relative to the pack directory (`*` stays
/// within a directory, `**` crosses directories, dot-files never match).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataFiles {
    /// Declarative policies (YAML) for the policy engine.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    /// Detection rules (Sigma YAML) for detectors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
}

impl DataFiles {
    /// Every glob, policies first.
    pub fn globs(&self) -> impl Iterator<Item = &String> {
        self.policies.iter().chain(self.rules.iter())
    }
}

/// A WIT package with its version, written `stance:plugin@0.1.0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitVersion {
    /// `namespace:name`, e.g. `stance:plugin`.
    pub package: String,
    /// The package's semver version.
    pub version: Version,
}

impl WitVersion {
    /// Whether a host providing `host` can run plugins built against `self`:
    /// the same package, and `host` semver-compatible with and not older
    /// than `self` (Cargo's caret rule: `0.1.0` accepts `0.1.x`, not `0.2.0`).
    pub fn is_satisfied_by(&self, host: &WitVersion) -> bool {
        if self.package != host.package {
            return false;
        }
        let caret = Comparator {
            op: Op::Caret,
            major: self.version.major,
            minor: Some(self.version.minor),
            patch: Some(self.version.patch),
            pre: self.version.pre.clone(),
        };
        caret.matches(&host.version)
    }
}

impl fmt::Display for WitVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.package, self.version)
    }
}

impl FromStr for WitVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hint = "write the WIT package and version, e.g. `stance:plugin@0.1.0`";
        let (package, version) = s
            .split_once('@')
            .ok_or_else(|| format!("`{s}` has no `@version`; {hint}"))?;
        let (ns, name) = package
            .split_once(':')
            .ok_or_else(|| format!("`{package}` has no `namespace:`; {hint}"))?;
        if !is_wit_ident(ns) || !is_wit_ident(name) {
            return Err(format!("`{package}` is not a WIT package name; {hint}"));
        }
        let version = Version::parse(version)
            .map_err(|e| format!("`{version}` is not a semver version ({e}); {hint}"))?;
        Ok(WitVersion {
            package: package.to_string(),
            version,
        })
    }
}

/// Whether `s` is a WIT identifier (lowercase letters, digits and `-`,
/// starting with a letter).
fn is_wit_ident(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

impl Serialize for WitVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for WitVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Whether `name` may name a pack, a plugin or a dependency: 1 to 64 of
/// lowercase ASCII letters, digits and `-`, starting with a letter, not
/// ending with `-`.
pub fn is_valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Checks that `path` is a safe relative archive path: `/`-separated, no
/// empty, `.` or `..` components, no backslash or control character, at
/// most 255 bytes.
pub fn check_relative_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("the path is empty".into());
    }
    if path.len() > 255 {
        return Err(format!("`{path}` is longer than 255 bytes"));
    }
    if path.starts_with('/') {
        return Err(format!(
            "`{path}` is absolute; write it relative to the pack directory"
        ));
    }
    if path.contains('\\') || path.chars().any(char::is_control) {
        return Err(format!(
            "`{path}` contains a backslash or control character; use `/` between directories"
        ));
    }
    if path
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(format!(
            "`{path}` has an empty, `.` or `..` component; write a plain path inside the pack directory"
        ));
    }
    Ok(())
}

/// Names that the archive reserves at its top level.
pub(crate) const RESERVED: [&str; 3] = [MANIFEST_FILE, "digests", "signature"];

impl Manifest {
    /// Parses and validates manifest text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Manifest, PackError> {
        let manifest: Manifest = toml::from_str(text).map_err(|e| PackError::Manifest {
            file: file.to_string(),
            message: format!(
                "{}; see docs/packs.md for the manifest format",
                e.to_string().trim_end()
            ),
        })?;
        manifest.validate().map_err(|message| PackError::Manifest {
            file: file.to_string(),
            message,
        })?;
        Ok(manifest)
    }

    /// Reads `dir/stance-pack.toml`.
    pub fn load(dir: &Path) -> Result<Manifest, PackError> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| PackError::io(&path, e))?;
        Manifest::parse(&text, &path.display().to_string())
    }

    /// `name@version`, as packs are named in messages and the lock file.
    pub fn id(&self) -> String {
        format!("{}@{}", self.pack.name, self.pack.version)
    }

    /// The plugin called `name`.
    pub fn plugin(&self, name: &str) -> Option<&PluginEntry> {
        self.plugins.iter().find(|p| p.name == name)
    }

    /// Checks what serde cannot: names, paths, globs, uniqueness.
    fn validate(&self) -> Result<(), String> {
        let name = &self.pack.name;
        if !is_valid_name(name) {
            return Err(format!(
                "field `pack.name`: `{name}` is not a valid pack name; use 1 to 64 lowercase letters, digits and `-`, starting with a letter (e.g. `aws-cis`)"
            ));
        }
        let mut plugin_names = BTreeSet::new();
        let mut plugin_paths = BTreeSet::new();
        for (i, plugin) in self.plugins.iter().enumerate() {
            let at = format!("plugin[{i}]");
            if !is_valid_name(&plugin.name) {
                return Err(format!(
                    "field `{at}.name`: `{}` is not a valid plugin name; use lowercase letters, digits and `-`, starting with a letter",
                    plugin.name
                ));
            }
            if !plugin_names.insert(&plugin.name) {
                return Err(format!(
                    "field `{at}.name`: plugin `{}` is declared twice; give each plugin its own name",
                    plugin.name
                ));
            }
            check_relative_path(&plugin.path).map_err(|e| format!("field `{at}.path`: {e}"))?;
            if RESERVED.contains(&plugin.path.as_str()) {
                return Err(format!(
                    "field `{at}.path`: `{}` is reserved for the archive; rename the file",
                    plugin.path
                ));
            }
            if !plugin_paths.insert(&plugin.path) {
                return Err(format!(
                    "field `{at}.path`: `{}` is the path of another plugin too",
                    plugin.path
                ));
            }
        }
        for (field, globs) in [
            ("data.policies", &self.data.policies),
            ("data.rules", &self.data.rules),
        ] {
            for g in globs {
                check_relative_path(g).map_err(|e| format!("field `{field}`: {e}"))?;
                glob::Pattern::new(g).map_err(|e| {
                    format!("field `{field}`: `{g}` is not a valid glob ({e}); use `*`, `**`, `?` and `[...]`")
                })?;
            }
        }
        for dep in self.dependencies.keys() {
            if !is_valid_name(dep) {
                return Err(format!(
                    "field `dependencies`: `{dep}` is not a valid pack name; use lowercase letters, digits and `-`"
                ));
            }
            if dep == name {
                return Err(format!(
                    "field `dependencies`: the pack `{name}` cannot depend on itself"
                ));
            }
        }
        Ok(())
    }
}

/// The starter manifest that `init` writes.
pub fn starter_manifest(name: &str) -> String {
    format!(
        r#"# Stance rule pack manifest; the format is described in docs/packs.md.

[pack]
name = "{name}"
version = "0.1.0"
description = ""
authors = []
license = "Apache-2.0"
# The WIT contract the plugins were built against, and the oldest Stance
# that can run this pack.
wit = "stance:plugin@0.1.0"
min-stance-version = "0.1.0"

# One table per wasm component. `stance pack build` refuses a file whose
# sha256 differs from `digest` (and prints the right one).
# [[plugin]]
# name = "my-plugin"
# path = "plugins/my-plugin.wasm"
# world = "policy"            # or "detector"
# digest = "sha256:..."
# [plugin.settings]           # default settings, handed to the plugin as JSON
# strict = true

# Policy and rule files, as globs relative to this directory.
[data]
policies = []                 # e.g. ["policies/**/*.yaml"]
rules = []                    # e.g. ["rules/**/*.yml"]

# Other packs this one needs, with semver ranges.
[dependencies]
# aws-base = "^1.0"
"#
    )
}

/// Writes a starter `stance-pack.toml` into `dir` (created if missing) for
/// a pack called `name`; refuses to overwrite an existing manifest.
pub fn init(dir: &Path, name: &str) -> Result<PathBuf, PackError> {
    let path = dir.join(MANIFEST_FILE);
    if !is_valid_name(name) {
        return Err(PackError::Manifest {
            file: path.display().to_string(),
            message: format!(
                "`{name}` is not a valid pack name; use 1 to 64 lowercase letters, digits and `-`, starting with a letter (e.g. `aws-cis`)"
            ),
        });
    }
    std::fs::create_dir_all(dir).map_err(|e| PackError::io(dir, e))?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                PackError::Manifest {
                    file: path.display().to_string(),
                    message:
                        "a manifest already exists; edit it instead, or remove it to start over"
                            .into(),
                }
            } else {
                PackError::io(&path, e)
            }
        })?;
    std::io::Write::write_all(&mut file, starter_manifest(name).as_bytes())
        .map_err(|e| PackError::io(&path, e))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wit_versions_parse_and_compare_semver_compatibly() {
        let w: WitVersion = "stance:plugin@0.1.0".parse().unwrap();
        assert_eq!(w.package, "stance:plugin");
        assert_eq!(w.to_string(), "stance:plugin@0.1.0");
        for bad in [
            "stance:plugin",
            "plugin@0.1.0",
            "Stance:plugin@0.1.0",
            "stance:plugin@0.1",
        ] {
            assert!(bad.parse::<WitVersion>().is_err(), "{bad}");
        }
        let req = |s: &str| s.parse::<WitVersion>().unwrap();
        assert!(req("stance:plugin@0.1.0").is_satisfied_by(&req("stance:plugin@0.1.9")));
        assert!(!req("stance:plugin@0.1.0").is_satisfied_by(&req("stance:plugin@0.2.0")));
        assert!(!req("stance:plugin@0.0.1").is_satisfied_by(&req("stance:plugin@0.0.2")));
        assert!(req("stance:plugin@1.2.0").is_satisfied_by(&req("stance:plugin@1.3.0")));
        assert!(!req("stance:plugin@1.2.0").is_satisfied_by(&req("stance:plugin@1.1.0")));
    }

    #[test]
    fn names_and_paths_are_checked() {
        for good in ["aws-cis", "a", "pack2"] {
            assert!(is_valid_name(good), "{good}");
        }
        for bad in ["", "Aws", "2pack", "a_b", "a-", "../x", &"a".repeat(65)] {
            assert!(!is_valid_name(bad), "{bad}");
        }
        assert!(check_relative_path("policies/a.yaml").is_ok());
        for bad in ["", "/etc/passwd", "a/../b", "./a", "a//b", "a\\b", "a\nb"] {
            assert!(check_relative_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_starter_manifest_parses() {
        let m = Manifest::parse(&starter_manifest("demo"), MANIFEST_FILE).unwrap();
        assert_eq!(m.id(), "demo@0.1.0");
        assert_eq!(m.pack.wit.to_string(), "stance:plugin@0.1.0");
    }

    #[test]
    fn reserved_paths_and_duplicates_are_refused() {
        let base = starter_manifest("demo");
        let plugin = |name: &str, path: &str| {
            format!("\n[[plugin]]\nname = \"{name}\"\npath = \"{path}\"\nworld = \"policy\"\n")
        };
        let with = |extra: String| format!("{base}{extra}");
        let err = Manifest::parse(&with(plugin("a", "digests")), "m")
            .unwrap_err()
            .to_string();
        assert!(err.contains("reserved"), "{err}");
        let twice = format!("{}{}", plugin("a", "a.wasm"), plugin("a", "b.wasm"));
        let err = Manifest::parse(&with(twice), "m").unwrap_err().to_string();
        assert!(err.contains("declared twice"), "{err}");
        let self_dep = base.replace("# aws-base = \"^1.0\"", "demo = \"^1\"");
        let err = Manifest::parse(&self_dep, "m").unwrap_err().to_string();
        assert!(err.contains("cannot depend on itself"), "{err}");
    }
}
