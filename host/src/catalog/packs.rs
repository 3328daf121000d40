//! Installed rule packs as rule sources: the packs a command names (and
//! those they depend on), resolved through the project's `stance.lock`,
//! verified again (signature, integrity, compatibility) and turned into
//! policy files, Sigma rule files and plugin sources. Fetching, signing and
//! installing packs is the `pack` module's; this only reads installed ones.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use stance_pack::{LOCK_FILE, Lock, LockChange, PackDir, PackSpec, VerifiedPack, World};

use crate::model::SourceFile;
use crate::pack::{TrustConfig, lock_path, warn_if_unsigned};
use crate::runtime::{Limits, PluginSource, Reuse};

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
        /// The lock file written.
        path: PathBuf,
        /// The pins added, removed or changed, by name (all added when the lock was created).
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
    pack_dir: &Path,
    trust: &TrustConfig,
    limits: Limits,
) -> anyhow::Result<PackSources> {
    let mut out = PackSources::default();
    if specs.is_empty() {
        return Ok(out);
    }
    let store = PackDir::new(pack_dir.to_path_buf());
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
            reuse: Reuse::PerCall,
        };
        match plugin.world {
            World::Policy => out.plugins.push(source),
            World::Detector => out.detectors.push(source),
        }
    }
    out.packs.push((id, pack.archive_digest().to_string()));
    Ok(())
}
