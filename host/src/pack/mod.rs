//! Rule packs in the running Stance: where packs and trusted keys live, the
//! versions a pack must be compatible with, fetching archives (files,
//! https, OCI registries), and turning the packs a command names into
//! policy files, plugin sources and rule files, after verifying them again
//! and checking them against the project's `stance.lock`.
//!
//! The formats, signatures, store and resolver are the `stance-pack` crate
//! (host/pack); this module only places them (docs/packs.md). It never runs
//! anything: a pack's plugins go to the runtime like any other plugin.

#[cfg(feature = "oci")]
pub mod oci;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use stance_pack::{
    HostVersions, LOCK_FILE, Lock, LockChange, PackSpec, PublicKey, Store, VerifiedPack,
    VerifyOptions, World,
};
use stance_policy_engine::SourceFile;

use crate::runtime::{Limits, PluginSource};

/// Where Stance keeps its per-user state: `STANCE_HOME`, else `~/.stance`.
pub fn home() -> PathBuf {
    if let Some(p) = std::env::var_os("STANCE_HOME").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    dirs::home_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".stance")
}

/// The directory of installed packs: `STANCE_PACK_DIR`, else `<home>/packs`.
pub fn store_dir() -> PathBuf {
    match std::env::var_os("STANCE_PACK_DIR").filter(|p| !p.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => home().join("packs"),
    }
}

/// The local pack store.
pub fn store() -> Store {
    Store::new(store_dir())
}

/// Per-user trusted keys: `<home>/keys/*.pub`.
pub fn user_keys_dir() -> PathBuf {
    home().join("keys")
}

/// Per-project trusted keys: `<project>/.stance/keys/*.pub`.
pub fn project_keys_dir(project: &Path) -> PathBuf {
    project.join(".stance").join("keys")
}

/// The project lock file: `<project>/stance.lock`.
pub fn lock_path(project: &Path) -> PathBuf {
    project.join(LOCK_FILE)
}

/// The WIT contract and Stance version packs are checked against.
pub fn host_versions() -> HostVersions {
    HostVersions {
        wit: format!("stance:plugin@{}", crate::runtime::WIT_VERSION)
            .parse()
            .expect("the runtime's WIT version is a valid WIT package version"),
        stance: semver::Version::parse(env!("CARGO_PKG_VERSION"))
            .expect("the crate version is semver"),
    }
}

/// How packs are trusted for one command.
#[derive(Debug, Clone, Default)]
pub struct TrustConfig {
    /// The project directory (its `.stance/keys` and `stance.lock`).
    pub project: PathBuf,
    /// Public key files given on the command line (`--key`), trusted in
    /// addition to the configured directories.
    pub keys: Vec<PathBuf>,
    /// Accept packs without a signature (`--allow-unsigned`).
    pub allow_unsigned: bool,
}

impl TrustConfig {
    /// Every trusted key: `--key` files, then the project's, then the user's.
    pub fn trusted_keys(&self) -> anyhow::Result<Vec<PublicKey>> {
        let mut keys = Vec::new();
        for path in &self.keys {
            keys.push(stance_pack::load_public_key(path)?);
        }
        keys.extend(stance_pack::load_public_keys_dir(&project_keys_dir(
            &self.project,
        ))?);
        keys.extend(stance_pack::load_public_keys_dir(&user_keys_dir())?);
        Ok(keys)
    }

    pub fn verify_options(&self) -> anyhow::Result<VerifyOptions> {
        Ok(VerifyOptions {
            trusted_keys: self.trusted_keys()?,
            allow_unsigned: self.allow_unsigned,
            host: host_versions(),
        })
    }

    /// Where trusted keys are looked up, for messages.
    pub fn key_locations(&self) -> String {
        let mut places: Vec<String> = self.keys.iter().map(|p| p.display().to_string()).collect();
        places.push(format!(
            "{}/*.pub",
            project_keys_dir(&self.project).display()
        ));
        places.push(format!("{}/*.pub", user_keys_dir().display()));
        places.join(", ")
    }
}

/// Prints the loud warning of a pack accepted unsigned, every time.
pub fn warn_if_unsigned(pack: &VerifiedPack) {
    if let Some(w) = pack.warning() {
        eprintln!("{w}");
    }
}

/// Where an archive comes from: a file, an http(s) URL or an OCI reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackSource {
    File(PathBuf),
    Url(String),
    Oci(String),
}

impl PackSource {
    pub fn parse(s: &str) -> PackSource {
        if s.starts_with("oci://") {
            PackSource::Oci(s.to_string())
        } else if s.starts_with("https://") || s.starts_with("http://") {
            PackSource::Url(s.to_string())
        } else {
            PackSource::File(PathBuf::from(s))
        }
    }
}

/// Network options of fetches.
#[derive(Debug, Clone, Copy, Default)]
pub struct NetOptions {
    /// Allow plain http to any host (otherwise only to loopback hosts).
    pub insecure: bool,
}

/// The bytes of an archive and the label that names it in messages.
pub fn fetch(source: &PackSource, net: NetOptions) -> anyhow::Result<(Vec<u8>, String)> {
    match source {
        PackSource::File(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            Ok((bytes, path.display().to_string()))
        }
        #[cfg(feature = "oci")]
        PackSource::Url(url) => Ok((oci::fetch_url(url, net)?, url.clone())),
        #[cfg(feature = "oci")]
        PackSource::Oci(reference) => {
            let pulled = oci::pull(reference, net)?;
            Ok((pulled.archive, pulled.pinned))
        }
        #[cfg(not(feature = "oci"))]
        PackSource::Url(s) | PackSource::Oci(s) => {
            let _ = net;
            bail!("{s}: this Stance was built without network sources (the `oci` feature)")
        }
    }
}

/// Whether `host` (a URL host or an OCI registry, with or without a port)
/// is a loopback address, where plain http is allowed.
pub fn is_loopback(host: &str) -> bool {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return ip.is_loopback();
    }
    let bare = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        match host.rsplit_once(':') {
            Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
            _ => host,
        }
    };
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The packs a command runs, as sources for the runtime and the engines.
#[derive(Default)]
pub struct PackSources {
    /// Policy YAML data files, for the built-in YAML engine; each path reads
    /// `pack:NAME@VERSION/FILE`.
    pub policies: Vec<SourceFile>,
    /// Policy-world plugins (origin `pack:NAME@VERSION/PLUGIN`), with the
    /// pack's default settings.
    pub plugins: Vec<PluginSource>,
    /// Detector-world plugins.
    pub detectors: Vec<PluginSource>,
    /// Sigma rule data files.
    pub rules: Vec<SourceFile>,
    /// The packs loaded, `name@version` with their archive digest.
    pub packs: Vec<(String, String)>,
    /// What happened to `stance.lock`.
    pub lock: LockOutcome,
}

/// What loading packs did to the project's lock.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LockOutcome {
    /// The lock existed and every pack came from its pins.
    #[default]
    Kept,
    /// The lock was written (created, or new requirements added).
    Written {
        path: PathBuf,
        changes: Vec<LockChange>,
    },
}

/// Loads the packs named by `specs` (and the packs they depend on) from the
/// local store for a scan or a detection run.
///
/// With a `stance.lock` in the project, every pinned pack must be installed
/// with its pinned archive, and pins that satisfy the requested ranges are
/// used as they are; requirements the lock does not have yet are resolved
/// (the newest installed version in range) and the lock is rewritten with
/// them. Without a lock, one is written. Every pack is verified again
/// (signature, integrity, compatibility) before any of its files is used.
pub fn pack_sources(
    specs: &[PackSpec],
    trust: &TrustConfig,
    limits: Limits,
) -> anyhow::Result<PackSources> {
    let mut out = PackSources::default();
    if specs.is_empty() {
        return Ok(out);
    }
    let store = store();
    let path = lock_path(&trust.project);
    let existing = Lock::read(&path)?;
    // The lock's requirements in their order, each replaced by the one of
    // the same name given now, then the new ones.
    let mut roots: Vec<PackSpec> = Vec::new();
    if let Some(lock) = &existing {
        lock.check(&store, &path)?;
        for req in lock.requirements()? {
            roots.push(match specs.iter().find(|s| s.name == req.name) {
                Some(s) => s.clone(),
                None => req,
            });
        }
    }
    for spec in specs {
        if !roots.iter().any(|r| r.name == spec.name) {
            roots.push(spec.clone());
        }
    }
    let lock = stance_pack::resolve(&roots, &store, existing.as_ref())
        .with_context(|| format!("resolving packs for {}", path.display()))?;
    if existing.as_ref() != Some(&lock) {
        let changes = stance_pack::lock::diff(existing.as_ref(), &lock);
        lock.write(&path)?;
        out.lock = LockOutcome::Written { path, changes };
    }

    // The packs requested and everything they depend on, by the lock.
    let mut wanted: BTreeSet<String> = BTreeSet::new();
    let mut todo: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
    while let Some(name) = todo.pop() {
        if !wanted.insert(name.clone()) {
            continue;
        }
        if let Some(p) = lock.get(&name) {
            todo.extend(p.dependencies.iter().cloned());
        }
    }
    let options = trust.verify_options()?;
    for name in wanted {
        let Some(pinned) = lock.get(&name) else {
            bail!("{}: `{name}` is not pinned after resolving", LOCK_FILE);
        };
        let pack = store.load(&pinned.name, &pinned.version, &options)?;
        warn_if_unsigned(&pack);
        add_pack(&mut out, &pack, limits)?;
    }
    Ok(out)
}

fn add_pack(out: &mut PackSources, pack: &VerifiedPack, limits: Limits) -> anyhow::Result<()> {
    let id = pack.manifest().id();
    let text = |path: &str, bytes: &[u8]| -> anyhow::Result<SourceFile> {
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| anyhow::anyhow!("pack {id}: {path} is not UTF-8 text"))?;
        Ok(SourceFile {
            path: format!("pack:{id}/{path}"),
            text,
        })
    };
    for (path, bytes) in pack.data_files(false) {
        out.policies.push(text(path, bytes)?);
    }
    for (path, bytes) in pack.data_files(true) {
        out.rules.push(text(path, bytes)?);
    }
    for plugin in &pack.manifest().plugins {
        let Some(bytes) = pack.plugin_bytes(&plugin.name) else {
            bail!(
                "pack {id}: plugin {} has no file {}",
                plugin.name,
                plugin.path
            );
        };
        let source = PluginSource {
            origin: format!("pack:{id}/{}", plugin.name),
            bytes: Arc::from(bytes),
            settings: plugin.settings_json(),
            limits,
        };
        match plugin.world {
            World::Policy => out.plugins.push(source),
            World::Detector => out.detectors.push(source),
        }
    }
    out.packs.push((id, pack.archive_digest().to_string()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in [
            "127.0.0.1:5000",
            "127.0.0.1",
            "localhost:80",
            "[::1]:5000",
            "::1",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "example.com",
            "10.0.0.1:5000",
            "ghcr.io",
            "localhost.evil.com",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn sources_parse() {
        assert_eq!(
            PackSource::parse("oci://r/x:1"),
            PackSource::Oci("oci://r/x:1".into())
        );
        assert_eq!(
            PackSource::parse("https://e/x.tar.gz"),
            PackSource::Url("https://e/x.tar.gz".into())
        );
        assert_eq!(
            PackSource::parse("x.tar.gz"),
            PackSource::File("x.tar.gz".into())
        );
    }

    #[test]
    fn host_versions_are_the_runtime_s() {
        let v = host_versions();
        assert_eq!(
            v.wit.to_string(),
            format!("stance:plugin@{}", crate::runtime::WIT_VERSION)
        );
    }
}
