//! Step 5 of a pack's life, install and installed: the directory of
//! installed packs (the pack directory), verified archives kept side by side by version in
//! `<pack-dir>/<name>/<version>/pack.tar.gz` with a small `install.toml`
//! beside each. This module owns that layout, atomic installs, immutable
//! versions, listing, removal, selection by `NAME@RANGE` ([`PackSpec`]) and
//! the [`PackIndex`] through which the resolver sees what is available.
//!
//! It never installs an unverified pack ([`PackDir::install`] takes a
//! `VerifiedPack`), never trusts what it holds ([`PackDir::load`] verifies
//! again), and never chooses where it lives (the host does).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

use crate::PackError;
use crate::archive::PackArchive;
use crate::digest::Digest;
use crate::manifest::is_valid_name;
use crate::trust::{Trust, VerifiedPack, VerifyOptions, verify};

/// The archive file in a version directory.
pub const ARCHIVE_FILE: &str = "pack.tar.gz";
/// The install record in a version directory.
pub const INSTALL_FILE: &str = "install.toml";

/// `name` or `name@range` (a semver requirement; `name@1.2.0` means
/// `^1.2.0`, `name@=1.2.0` one exact version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackSpec {
    /// The pack's name.
    pub name: String,
    /// The versions accepted; `*` when the reference names no range.
    pub req: VersionReq,
}

impl PackSpec {
    /// The reference to the versions of `name` that `req` accepts.
    pub fn new(name: impl Into<String>, req: VersionReq) -> PackSpec {
        PackSpec {
            name: name.into(),
            req,
        }
    }
}

impl FromStr for PackSpec {
    type Err = PackError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| PackError::Spec {
            spec: s.to_string(),
            reason,
        };
        let (name, req) = match s.split_once('@') {
            Some((name, req)) => (
                name,
                VersionReq::parse(req).map_err(|e| {
                    err(format!(
                        "`{req}` is not a semver range ({e}); write e.g. `^1.2`, `~1.2.3`, `>=1, <3` or `=1.2.0`"
                    ))
                })?,
            ),
            None => (s, VersionReq::STAR),
        };
        if !is_valid_name(name) {
            return Err(err(format!(
                "`{name}` is not a pack name; write NAME or NAME@RANGE"
            )));
        }
        Ok(PackSpec::new(name, req))
    }
}

impl fmt::Display for PackSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.req == VersionReq::STAR {
            f.write_str(&self.name)
        } else {
            write!(f, "{}@{}", self.name, self.req)
        }
    }
}

/// `install.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct InstallRecord {
    /// The SHA-256 of `pack.tar.gz`, as verified at install time.
    archive_digest: Digest,
    /// The id of the key that signed it; absent when installed unsigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signed_by: Option<String>,
    /// Where it was installed from.
    source: String,
}

/// One installed version of a pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledPack {
    /// The pack's name.
    pub name: String,
    /// The installed version.
    pub version: Version,
    /// The SHA-256 of the archive as installed.
    pub archive_digest: Digest,
    /// The key id that signed it; `None` when installed unsigned.
    pub signed_by: Option<String>,
    /// Where it was installed from.
    pub source: String,
    /// `<pack-dir>/<name>/<version>`.
    pub dir: PathBuf,
}

/// What `install` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    /// The version was not installed before; now it is.
    New(InstalledPack),
    /// The same archive was installed already.
    AlreadyPresent(InstalledPack),
}

impl Installed {
    /// The installed version, new or not.
    pub fn pack(&self) -> &InstalledPack {
        match self {
            Installed::New(p) | Installed::AlreadyPresent(p) => p,
        }
    }
}

/// The directory of installed packs (the CLI chooses it, e.g.
/// `~/.stance/packs`).
#[derive(Debug, Clone)]
pub struct PackDir {
    /// The directory holding `<name>/<version>/`.
    root: PathBuf,
}

impl PackDir {
    /// The directory of installed packs at `root` (created on the first install).
    pub fn new(root: impl Into<PathBuf>) -> PackDir {
        PackDir { root: root.into() }
    }

    /// The directory's path.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A refusal about this directory.
    fn err(&self, reason: String) -> PackError {
        PackError::PackDir {
            dir: self.root.clone(),
            reason,
        }
    }

    /// `<pack-dir>/<name>/<version>`. `name` must be a pack name: every
    /// method that takes one from outside checks it first ([`PackDir::check_name`]).
    pub fn version_dir(&self, name: &str, version: &Version) -> PathBuf {
        self.root.join(name).join(version.to_string())
    }

    /// Refuses a name that is not a pack name before it is joined to the
    /// directory (a `..`, a `/`, an absolute path, a control character).
    pub fn check_name(&self, name: &str) -> Result<(), PackError> {
        if is_valid_name(name) {
            return Ok(());
        }
        Err(self.err(format!(
            "`{name}` is not a valid pack name; use lowercase letters, digits and `-`, starting with a letter"
        )))
    }

    /// Installs a verified pack. Versions are immutable: installing the same
    /// version again is a no-op when the archive is the same, and refused
    /// when it differs.
    pub fn install(&self, pack: &VerifiedPack) -> Result<Installed, PackError> {
        let (name, version) = (pack.name(), pack.version());
        self.check_name(name)?;
        let dir = self.version_dir(name, version);
        if dir.exists() {
            let existing = self.read_installed(name, version)?;
            if existing.archive_digest == pack.archive_digest() {
                return Ok(Installed::AlreadyPresent(existing));
            }
            return Err(self.err(format!(
                "{name} {version} is already installed with a different archive ({}, this one is {}); versions are immutable: remove it first (`stance pack remove {name}@={version}`) or bump the version",
                existing.archive_digest,
                pack.archive_digest()
            )));
        }
        let parent = self.root.join(name);
        std::fs::create_dir_all(&parent).map_err(|e| PackError::io(&parent, e))?;
        let tmp = parent.join(format!(".tmp-{version}-{}", std::process::id()));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| PackError::io(&tmp, e))?;
        }
        std::fs::create_dir(&tmp).map_err(|e| PackError::io(&tmp, e))?;
        let record = InstallRecord {
            archive_digest: pack.archive_digest(),
            signed_by: match pack.trust() {
                Trust::Signed { key_id, .. } => Some(key_id.to_string()),
                Trust::UnsignedAllowed => None,
            },
            source: pack.source().to_string(),
        };
        let record_text = toml::to_string(&record)
            .map_err(|e| self.err(format!("cannot write {INSTALL_FILE} ({e})")))?;
        let write = |file: &str, bytes: &[u8]| {
            let path = tmp.join(file);
            std::fs::write(&path, bytes).map_err(|e| PackError::io(&path, e))
        };
        write(ARCHIVE_FILE, pack.archive_bytes())?;
        write(INSTALL_FILE, record_text.as_bytes())?;
        std::fs::rename(&tmp, &dir).map_err(|e| PackError::io(&dir, e))?;
        Ok(Installed::New(self.read_installed(name, version)?))
    }

    /// The install record of `name` `version`, which must be installed.
    fn read_installed(&self, name: &str, version: &Version) -> Result<InstalledPack, PackError> {
        self.check_name(name)?;
        let dir = self.version_dir(name, version);
        let path = dir.join(INSTALL_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| PackError::io(&path, e))?;
        let record: InstallRecord = toml::from_str(&text).map_err(|e| {
            self.err(format!(
                "{} is damaged ({}); remove {name} {version} and install it again",
                path.display(),
                e.message()
            ))
        })?;
        Ok(InstalledPack {
            name: name.to_string(),
            version: version.clone(),
            archive_digest: record.archive_digest,
            signed_by: record.signed_by,
            source: record.source,
            dir,
        })
    }

    /// The installed versions of `name`, oldest first.
    pub fn versions(&self, name: &str) -> Result<Vec<Version>, PackError> {
        self.check_name(name)?;
        let dir = self.root.join(name);
        let read = match std::fs::read_dir(&dir) {
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(PackError::io(&dir, e)),
        };
        let mut versions = Vec::new();
        for entry in read {
            let entry = entry.map_err(|e| PackError::io(&dir, e))?;
            let Some(v) = entry
                .file_name()
                .to_str()
                .and_then(|s| Version::parse(s).ok())
            else {
                continue;
            };
            if entry.path().join(INSTALL_FILE).is_file() {
                versions.push(v);
            }
        }
        versions.sort();
        Ok(versions)
    }

    /// Every installed pack version, by name then version.
    pub fn list(&self) -> Result<Vec<InstalledPack>, PackError> {
        let read = match std::fs::read_dir(&self.root) {
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(PackError::io(&self.root, e)),
        };
        let mut names = Vec::new();
        for entry in read {
            let entry = entry.map_err(|e| PackError::io(&self.root, e))?;
            if let Some(name) = entry.file_name().to_str().filter(|n| is_valid_name(n)) {
                names.push(name.to_string());
            }
        }
        names.sort();
        let mut out = Vec::new();
        for name in names {
            for version in self.versions(&name)? {
                out.push(self.read_installed(&name, &version)?);
            }
        }
        Ok(out)
    }

    /// The newest installed version matching `spec`.
    pub fn resolve(&self, spec: &PackSpec) -> Result<InstalledPack, PackError> {
        let versions = self.versions(&spec.name)?;
        let Some(version) = versions.iter().rev().find(|v| spec.req.matches(v)) else {
            return Err(if versions.is_empty() {
                self.err(format!(
                    "pack `{}` is not installed; install it with `stance pack install`",
                    spec.name
                ))
            } else {
                self.err(format!(
                    "no installed version of `{}` matches `{}` (installed: {})",
                    spec.name,
                    spec.req,
                    join_versions(&versions)
                ))
            });
        };
        self.read_installed(&spec.name, version)
    }

    /// Removes one version of `name`, or every version when `version` is
    /// `None`; returns the versions removed.
    pub fn remove(&self, name: &str, version: Option<&Version>) -> Result<Vec<Version>, PackError> {
        let installed = self.versions(name)?;
        let targets: Vec<Version> = match version {
            Some(v) if installed.contains(v) => vec![v.clone()],
            Some(v) => {
                return Err(self.err(format!(
                    "{name} {v} is not installed (installed: {})",
                    if installed.is_empty() {
                        "none".to_string()
                    } else {
                        join_versions(&installed)
                    }
                )));
            }
            None if installed.is_empty() => {
                return Err(self.err(format!("pack `{name}` is not installed")));
            }
            None => installed,
        };
        for v in &targets {
            let dir = self.version_dir(name, v);
            std::fs::remove_dir_all(&dir).map_err(|e| PackError::io(&dir, e))?;
        }
        let parent = self.root.join(name);
        if self.versions(name)?.is_empty() {
            // Only leftovers (temp dirs) remain; tidy up, ignoring failure.
            let _ = std::fs::remove_dir_all(&parent);
        }
        Ok(targets)
    }

    /// Reads and verifies again the installed archive of `name` `version`,
    /// checking it is still the archive recorded at install time.
    pub fn load(
        &self,
        name: &str,
        version: &Version,
        options: &VerifyOptions,
    ) -> Result<VerifiedPack, PackError> {
        let installed = self.read_installed(name, version)?;
        let path = installed.dir.join(ARCHIVE_FILE);
        let bytes = std::fs::read(&path).map_err(|e| PackError::io(&path, e))?;
        let pack = verify(&bytes, &path.display().to_string(), options)?;
        if pack.archive_digest() != installed.archive_digest {
            return Err(PackError::Tampered {
                pack: format!("{name}@{version} ({})", path.display()),
                file: ARCHIVE_FILE.into(),
                reason: format!(
                    "the archive is {}, but {} was installed",
                    pack.archive_digest(),
                    installed.archive_digest
                ),
            });
        }
        if pack.name() != name || pack.version() != version {
            return Err(PackError::Tampered {
                pack: format!("{name}@{version} ({})", path.display()),
                file: ARCHIVE_FILE.into(),
                reason: format!("the archive holds {}@{}", pack.name(), pack.version()),
            });
        }
        Ok(pack)
    }

    /// The manifest of an installed version (integrity-checked, not
    /// signature-checked: for resolving dependencies).
    pub fn manifest(&self, name: &str, version: &Version) -> Result<crate::Manifest, PackError> {
        self.check_name(name)?;
        let path = self.version_dir(name, version).join(ARCHIVE_FILE);
        Ok(PackArchive::open(&path)?.manifest().clone())
    }
}

/// `1.0.0, 1.2.0`, for messages.
pub(crate) fn join_versions(versions: &[Version]) -> String {
    versions
        .iter()
        .map(Version::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where the resolver finds versions: the directory of installed packs, a registry listing,
/// or both.
pub trait PackIndex {
    /// Every version of `name` that can be used (any order; empty when none).
    fn versions(&self, name: &str) -> Result<Vec<Version>, PackError>;
    /// The dependencies declared by one version.
    fn dependencies(
        &self,
        name: &str,
        version: &Version,
    ) -> Result<BTreeMap<String, VersionReq>, PackError>;
    /// The archive digest of one version.
    fn digest(&self, name: &str, version: &Version) -> Result<Digest, PackError>;
}

impl PackIndex for PackDir {
    fn versions(&self, name: &str) -> Result<Vec<Version>, PackError> {
        PackDir::versions(self, name)
    }

    fn dependencies(
        &self,
        name: &str,
        version: &Version,
    ) -> Result<BTreeMap<String, VersionReq>, PackError> {
        Ok(self.manifest(name, version)?.dependencies)
    }

    fn digest(&self, name: &str, version: &Version) -> Result<Digest, PackError> {
        Ok(self.read_installed(name, version)?.archive_digest)
    }
}

/// One version in a [`MemoryIndex`]: its archive digest and dependencies.
type IndexEntry = (Digest, BTreeMap<String, VersionReq>);

/// An index held in memory (a registry listing, or tests).
#[derive(Debug, Clone, Default)]
pub struct MemoryIndex {
    /// name -> version -> (archive digest, dependencies).
    packs: BTreeMap<String, BTreeMap<Version, IndexEntry>>,
}

impl MemoryIndex {
    /// An empty index.
    pub fn new() -> MemoryIndex {
        MemoryIndex::default()
    }

    /// Adds (or replaces) one version.
    pub fn add(
        &mut self,
        name: &str,
        version: Version,
        digest: Digest,
        dependencies: BTreeMap<String, VersionReq>,
    ) {
        self.packs
            .entry(name.to_string())
            .or_default()
            .insert(version, (digest, dependencies));
    }
}

impl PackIndex for MemoryIndex {
    fn versions(&self, name: &str) -> Result<Vec<Version>, PackError> {
        Ok(self
            .packs
            .get(name)
            .map(|v| v.keys().cloned().collect())
            .unwrap_or_default())
    }

    fn dependencies(
        &self,
        name: &str,
        version: &Version,
    ) -> Result<BTreeMap<String, VersionReq>, PackError> {
        self.packs
            .get(name)
            .and_then(|v| v.get(version))
            .map(|(_, deps)| deps.clone())
            .ok_or_else(|| PackError::Resolve(format!("{name} {version} is not in the index")))
    }

    fn digest(&self, name: &str, version: &Version) -> Result<Digest, PackError> {
        self.packs
            .get(name)
            .and_then(|v| v.get(version))
            .map(|(d, _)| *d)
            .ok_or_else(|| PackError::Resolve(format!("{name} {version} is not in the index")))
    }
}
