//! Step 6 of a pack's life, lock and resolve: the project lock file
//! `stance.lock` (exact versions and archive digests) and the resolver that
//! produces it, one version per pack name, the newest that satisfies every
//! semver range, backtracking on conflicts. This module owns the lock
//! format, the diff between two locks, and resolution.
//!
//! Every name it reads is checked with the one pack-name rule
//! (`manifest::is_valid_name`) before anything joins it to a path, and the
//! lock file is read only as a regular file of bounded size and written
//! through a temporary file of its own, never through a symbolic link.
//!
//! It never installs, fetches or verifies packs: it sees versions,
//! dependencies and digests only through a [`PackIndex`]. It never decides
//! that a key is trusted: `keys` only names the keys a project uses, which
//! the host trusts once the user has said so.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

use crate::PackError;
use crate::digest::Digest;
use crate::installed::{PackIndex, PackSpec, join_versions};
use crate::keys::KeyId;
use crate::manifest::is_valid_name;

/// The lock file's name in a project directory.
pub const LOCK_FILE: &str = "stance.lock";
/// The lock format this crate reads and writes.
pub const LOCK_VERSION: u32 = 1;
/// The resolver gives up after trying this many versions.
const MAX_STEPS: usize = 10_000;
/// The largest lock file read.
pub const MAX_LOCK_BYTES: u64 = 16 << 20;

/// A parsed `stance.lock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// Always [`LOCK_VERSION`].
    pub version: u32,
    /// The requirements the lock was resolved from (`name@range`).
    #[serde(default)]
    pub requires: Vec<String>,
    /// The ids of the project's own signing keys (`.stance/keys/*.pub`).
    /// Naming a key here trusts nothing by itself: the host trusts it for
    /// this project only once the user has too (`stance key trust --project`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
    /// One entry per pack, by name.
    #[serde(default, rename = "pack", skip_serializing_if = "Vec::is_empty")]
    pub packs: Vec<LockedPack>,
}

/// One pinned pack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedPack {
    /// The pack's name.
    pub name: String,
    /// The exact version chosen.
    pub version: Version,
    /// SHA-256 of the pack archive.
    pub digest: Digest,
    /// The names of the packs it depends on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
}

impl Lock {
    /// The pinned entry for `name`.
    pub fn get(&self, name: &str) -> Option<&LockedPack> {
        self.packs.iter().find(|p| p.name == name)
    }

    /// The requirements recorded in the lock, parsed.
    pub fn requirements(&self) -> Result<Vec<PackSpec>, PackError> {
        self.requires.iter().map(|s| s.parse()).collect()
    }

    /// Parses lock text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Lock, PackError> {
        let err = |reason: String| PackError::Lock {
            path: path.to_path_buf(),
            reason,
        };
        let lock: Lock = toml::from_str(text).map_err(|e| {
            err(format!(
                "{}; regenerate it with `stance pack update`",
                e.to_string().trim_end()
            ))
        })?;
        if lock.version != LOCK_VERSION {
            return Err(err(format!(
                "lock format version {} is not supported (this Stance writes {LOCK_VERSION}); regenerate it with `stance pack update`",
                lock.version
            )));
        }
        lock.check_names().map_err(err)?;
        lock.requirements().map_err(|e| err(e.to_string()))?;
        Ok(lock)
    }

    /// Every name is a pack name (they become paths in the pack
    /// directory), pinned once; every key is a key id.
    fn check_names(&self) -> Result<(), String> {
        let regenerate = "regenerate it with `stance pack update`";
        let mut seen = BTreeSet::new();
        for p in &self.packs {
            if !is_valid_name(&p.name) {
                return Err(format!(
                    "`{}` is not a valid pack name (lowercase letters, digits and `-`); {regenerate}",
                    p.name
                ));
            }
            if let Some(dep) = p.dependencies.iter().find(|d| !is_valid_name(d)) {
                return Err(format!(
                    "{}: dependency `{dep}` is not a valid pack name; {regenerate}",
                    p.name
                ));
            }
            if !seen.insert(&p.name) {
                return Err(format!("`{}` is pinned twice; {regenerate}", p.name));
            }
        }
        if let Some(bad) = self.keys.iter().find(|k| KeyId::parse(k).is_none()) {
            return Err(format!(
                "keys: `{bad}` is not a key id (16 lowercase hex digits, as `stance key trust` writes)"
            ));
        }
        Ok(())
    }

    /// Reads `path`; `Ok(None)` when it does not exist. Refuses a symbolic
    /// link, anything but a regular file, and a file over [`MAX_LOCK_BYTES`].
    pub fn read(path: &Path) -> Result<Option<Lock>, PackError> {
        let meta = match std::fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(PackError::io(path, e)),
        };
        check_lock_file(path, &meta)?;
        let file = std::fs::File::open(path).map_err(|e| PackError::io(path, e))?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(file, MAX_LOCK_BYTES + 1),
            &mut bytes,
        )
        .map_err(|e| PackError::io(path, e))?;
        if bytes.len() as u64 > MAX_LOCK_BYTES {
            return Err(lock_error(
                path,
                "the file grew past the size limit while it was read",
            ));
        }
        let text = String::from_utf8(bytes).map_err(|_| {
            lock_error(
                path,
                "it is not UTF-8 text; regenerate it with `stance pack update`",
            )
        })?;
        Lock::parse(&text, path).map(Some)
    }

    /// The canonical text: a header comment, then the TOML with packs in
    /// name order.
    pub fn to_toml(&self) -> String {
        let mut sorted = self.clone();
        sorted.packs.sort_by(|a, b| a.name.cmp(&b.name));
        let body = toml::to_string(&sorted).unwrap_or_default();
        format!(
            "# stance.lock: the exact rule packs of this project. Written by `stance pack update`; do not edit.\n{body}"
        )
    }

    /// Writes the lock atomically: a new temporary file of its own (created
    /// exclusively, with a random name) in the same directory, synced, then
    /// renamed over `path`. A symbolic link at `path` is refused, never
    /// followed or replaced.
    pub fn write(&self, path: &Path) -> Result<(), PackError> {
        match std::fs::symlink_metadata(path) {
            Ok(meta) => check_lock_file(path, &meta)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(PackError::io(path, e)),
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(".stance.lock.")
            .tempfile_in(dir)
            .map_err(|e| PackError::io(dir, e))?;
        std::io::Write::write_all(&mut tmp, self.to_toml().as_bytes())
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| PackError::io(tmp.path(), e))?;
        tmp.persist(path)
            .map_err(|e| PackError::io(path, e.error))?;
        Ok(())
    }

    /// Checks that every pinned pack is available in `index` with its
    /// pinned digest (before a scan uses the lock).
    pub fn check(&self, index: &impl PackIndex, path: &Path) -> Result<(), PackError> {
        for p in &self.packs {
            if !index.versions(&p.name)?.contains(&p.version) {
                return Err(PackError::Lock {
                    path: path.to_path_buf(),
                    reason: format!(
                        "pins {} {}, which is not installed; install it, or run `stance pack update`",
                        p.name, p.version
                    ),
                });
            }
            let digest = index.digest(&p.name, &p.version)?;
            if digest != p.digest {
                return Err(digest_mismatch(path, p, &digest));
            }
        }
        Ok(())
    }
}

/// A refusal about the lock file at `path`.
fn lock_error(path: &Path, reason: &str) -> PackError {
    PackError::Lock {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// The lock is a regular file (not a symbolic link, a FIFO, a device) of
/// at most [`MAX_LOCK_BYTES`].
fn check_lock_file(path: &Path, meta: &std::fs::Metadata) -> Result<(), PackError> {
    if meta.file_type().is_symlink() {
        return Err(lock_error(
            path,
            "it is a symbolic link; Stance reads and writes the lock only as a regular file: replace the link with the file",
        ));
    }
    if !meta.is_file() {
        return Err(lock_error(path, "it is not a regular file"));
    }
    if meta.len() > MAX_LOCK_BYTES {
        return Err(lock_error(
            path,
            &format!(
                "it is {} bytes, over the limit of {MAX_LOCK_BYTES}; regenerate it with `stance pack update`",
                meta.len()
            ),
        ));
    }
    Ok(())
}

/// The refusal of a pin whose version is available with another archive.
fn digest_mismatch(path: &Path, p: &LockedPack, found: &Digest) -> PackError {
    PackError::Lock {
        path: path.to_path_buf(),
        reason: format!(
            "pins {} {} with archive {}, but the available archive is {}; versions are immutable: install the pinned archive again, or run `stance pack update` if the change is expected",
            p.name, p.version, p.digest, found
        ),
    }
}

// Comparing two locks, for `stance pack update` to report.

/// One difference between two locks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockChange {
    /// A pack pinned now that was not before.
    Added {
        /// The pack's name.
        name: String,
        /// The version now pinned.
        version: Version,
    },
    /// A pack no longer pinned.
    Removed {
        /// The pack's name.
        name: String,
        /// The version that was pinned.
        version: Version,
    },
    /// A pack pinned at another version (an upgrade or a downgrade).
    Changed {
        /// The pack's name.
        name: String,
        /// The version that was pinned.
        from: Version,
        /// The version now pinned.
        to: Version,
    },
}

impl fmt::Display for LockChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockChange::Added { name, version } => write!(f, "add {name} {version}"),
            LockChange::Removed { name, version } => write!(f, "remove {name} {version}"),
            LockChange::Changed { name, from, to } if to > from => {
                write!(f, "upgrade {name} {from} -> {to}")
            }
            LockChange::Changed { name, from, to } => write!(f, "downgrade {name} {from} -> {to}"),
        }
    }
}

/// The differences from `old` to `new`, by name.
pub fn diff(old: Option<&Lock>, new: &Lock) -> Vec<LockChange> {
    let before: BTreeMap<&str, &Version> = old
        .map(|l| {
            l.packs
                .iter()
                .map(|p| (p.name.as_str(), &p.version))
                .collect()
        })
        .unwrap_or_default();
    let after: BTreeMap<&str, &Version> = new
        .packs
        .iter()
        .map(|p| (p.name.as_str(), &p.version))
        .collect();
    let mut changes = Vec::new();
    for name in before.keys().chain(after.keys()).collect::<BTreeSet<_>>() {
        match (before.get(name), after.get(name)) {
            (None, Some(v)) => changes.push(LockChange::Added {
                name: name.to_string(),
                version: (*v).clone(),
            }),
            (Some(v), None) => changes.push(LockChange::Removed {
                name: name.to_string(),
                version: (*v).clone(),
            }),
            (Some(a), Some(b)) if a != b => changes.push(LockChange::Changed {
                name: name.to_string(),
                from: (*a).clone(),
                to: (*b).clone(),
            }),
            _ => {}
        }
    }
    changes
}

// Resolution: the two entry points, then the search they share.

/// Resolves `roots` against `index`, keeping the version pinned by `lock`
/// for every pack whose pin still satisfies the requirements (what a scan
/// does with an existing lock). A kept pin must still have its digest.
pub fn resolve(
    roots: &[PackSpec],
    index: &impl PackIndex,
    lock: Option<&Lock>,
) -> Result<Lock, PackError> {
    let prefer: BTreeMap<String, Version> = lock
        .map(|l| {
            l.packs
                .iter()
                .map(|p| (p.name.clone(), p.version.clone()))
                .collect()
        })
        .unwrap_or_default();
    solve(roots, index, lock, prefer)
}

/// Resolves `roots` choosing the newest version within every range, for the
/// packs named in `only` (all packs when `only` is empty); others keep their
/// pin when it still satisfies. Returns the new lock and what changed.
pub fn update(
    roots: &[PackSpec],
    index: &impl PackIndex,
    lock: Option<&Lock>,
    only: &[String],
) -> Result<(Lock, Vec<LockChange>), PackError> {
    let prefer: BTreeMap<String, Version> = lock
        .map(|l| {
            l.packs
                .iter()
                .filter(|p| !only.is_empty() && !only.contains(&p.name))
                .map(|p| (p.name.clone(), p.version.clone()))
                .collect()
        })
        .unwrap_or_default();
    let new = solve(roots, index, lock, prefer)?;
    let changes = diff(lock, &new);
    Ok((new, changes))
}

/// Why a branch of the search failed.
enum Fail {
    /// No versions fit; try another candidate higher up.
    Conflict(String),
    /// Stop resolving.
    Fatal(PackError),
}

impl From<PackError> for Fail {
    fn from(e: PackError) -> Self {
        Fail::Fatal(e)
    }
}

/// A partial solution: the versions chosen so far, and every range placed
/// on each pack (by the project or by a chosen version).
#[derive(Debug, Clone, Default)]
struct State {
    /// name -> the version chosen.
    selected: BTreeMap<String, Version>,
    /// name -> (range, who requires it)
    reqs: BTreeMap<String, Vec<(VersionReq, String)>>,
}

impl State {
    /// The start: nothing chosen, the project's own requirements.
    fn from_roots(roots: &[PackSpec]) -> State {
        let mut state = State::default();
        for spec in roots {
            state
                .reqs
                .entry(spec.name.clone())
                .or_default()
                .push((spec.req.clone(), "the project".to_string()));
        }
        state
    }
}

/// A depth-first search over versions, with the dependencies it has read.
struct Solver<'a, I: PackIndex> {
    /// Where versions, dependencies and digests come from.
    index: &'a I,
    /// The version to try first for a pack (its pin), when still allowed.
    prefer: BTreeMap<String, Version>,
    /// Versions tried so far, against [`MAX_STEPS`].
    steps: usize,
    /// The dependencies of every version looked at, read once from the index.
    deps: BTreeMap<(String, Version), BTreeMap<String, VersionReq>>,
}

/// Resolves `roots` against `index`, trying the versions in `prefer` first,
/// and writes the solution as a lock. A chosen version pinned by `lock`
/// must still have its pinned digest.
fn solve(
    roots: &[PackSpec],
    index: &impl PackIndex,
    lock: Option<&Lock>,
    prefer: BTreeMap<String, Version>,
) -> Result<Lock, PackError> {
    let mut solver = Solver {
        index,
        prefer,
        steps: 0,
        deps: BTreeMap::new(),
    };
    let selected = match solver.solve(State::from_roots(roots)) {
        Ok(s) => s,
        Err(Fail::Conflict(msg)) => return Err(PackError::Resolve(msg)),
        Err(Fail::Fatal(e)) => return Err(e),
    };
    let packs = selected
        .into_iter()
        .map(|(name, version)| solver.locked_pack(name, version, lock))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Lock {
        version: LOCK_VERSION,
        requires: roots.iter().map(PackSpec::to_string).collect(),
        keys: lock.map(|l| l.keys.clone()).unwrap_or_default(),
        packs,
    })
}

impl<I: PackIndex> Solver<'_, I> {
    /// The lock entry of a chosen version, with its archive digest, refused
    /// when `lock` pins the same version with another digest.
    fn locked_pack(
        &self,
        name: String,
        version: Version,
        lock: Option<&Lock>,
    ) -> Result<LockedPack, PackError> {
        let digest = self.index.digest(&name, &version)?;
        if let Some(pinned) = lock.and_then(|l| l.get(&name))
            && pinned.version == version
            && pinned.digest != digest
        {
            return Err(digest_mismatch(Path::new(LOCK_FILE), pinned, &digest));
        }
        let dependencies = self
            .deps
            .get(&(name.clone(), version.clone()))
            .map(|d| d.keys().cloned().collect())
            .unwrap_or_default();
        Ok(LockedPack {
            name,
            version,
            digest,
            dependencies,
        })
    }

    /// The dependencies of one version, read from the index once.
    fn dependencies(
        &mut self,
        name: &str,
        version: &Version,
    ) -> Result<BTreeMap<String, VersionReq>, PackError> {
        let key = (name.to_string(), version.clone());
        if let Some(d) = self.deps.get(&key) {
            return Ok(d.clone());
        }
        let d = self.index.dependencies(name, version)?;
        self.deps.insert(key, d.clone());
        Ok(d)
    }

    /// Chooses a version for the first required pack that has none yet,
    /// trying its candidates newest (or pinned) first and recursing; a
    /// candidate whose dependencies conflict is skipped, and when none fits
    /// the first conflict is reported.
    fn solve(&mut self, state: State) -> Result<BTreeMap<String, Version>, Fail> {
        let Some(name) = state
            .reqs
            .keys()
            .find(|n| !state.selected.contains_key(*n))
            .cloned()
        else {
            return Ok(state.selected);
        };
        let mut first_conflict = None;
        for version in self.candidates(&name, &state.reqs[&name])? {
            self.count_step()?;
            let deps = self.dependencies(&name, &version)?;
            let result = match choose(&state, &name, &version, &deps) {
                Ok(next) => self.solve(next),
                Err(conflict) => Err(Fail::Conflict(conflict)),
            };
            match result {
                Ok(selected) => return Ok(selected),
                Err(Fail::Fatal(e)) => return Err(Fail::Fatal(e)),
                Err(Fail::Conflict(msg)) => {
                    first_conflict.get_or_insert(msg);
                }
            }
        }
        Err(Fail::Conflict(first_conflict.unwrap_or_default()))
    }

    /// The versions of `name` that satisfy every range in `reqs`, newest
    /// first, with the preferred (pinned) version moved to the front; a
    /// conflict naming every requirement when there is none.
    fn candidates(&self, name: &str, reqs: &[(VersionReq, String)]) -> Result<Vec<Version>, Fail> {
        let mut available = self.index.versions(name)?;
        available.sort();
        available.dedup();
        let mut candidates: Vec<Version> = available
            .iter()
            .rev()
            .filter(|v| reqs.iter().all(|(r, _)| r.matches(v)))
            .cloned()
            .collect();
        if let Some(pos) = self
            .prefer
            .get(name)
            .and_then(|p| candidates.iter().position(|v| v == p))
        {
            let pinned = candidates.remove(pos);
            candidates.insert(0, pinned);
        }
        if candidates.is_empty() {
            return Err(Fail::Conflict(no_candidate(name, reqs, &available)));
        }
        Ok(candidates)
    }

    /// Counts one version tried, and gives up past [`MAX_STEPS`].
    fn count_step(&mut self) -> Result<(), Fail> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(Fail::Fatal(PackError::Resolve(format!(
                "gave up after trying {MAX_STEPS} versions; pin some packs with narrower ranges"
            ))));
        }
        Ok(())
    }
}

/// Who requires `name` with which range, as one sentence per requirement.
fn requirements_text(name: &str, reqs: &[(VersionReq, String)]) -> String {
    reqs.iter()
        .map(|(r, by)| format!("{by} requires {name} {r}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why no version of `name` fits: it is not available at all, or none of
/// the `available` versions satisfies every requirement.
fn no_candidate(name: &str, reqs: &[(VersionReq, String)], available: &[Version]) -> String {
    let wanted = requirements_text(name, reqs);
    if available.is_empty() {
        format!("`{name}` is not available ({wanted}); install it with `stance pack install`")
    } else {
        format!(
            "no version of `{name}` satisfies every requirement: {wanted}; available: {}",
            join_versions(available)
        )
    }
}

/// The state after choosing `name` `version`: its dependencies' ranges are
/// added to the requirements, or the conflict with a pack already chosen
/// is returned.
fn choose(
    state: &State,
    name: &str,
    version: &Version,
    deps: &BTreeMap<String, VersionReq>,
) -> Result<State, String> {
    let mut next = state.clone();
    next.selected.insert(name.to_string(), version.clone());
    for (dep, req) in deps {
        let by = format!("{name} {version}");
        if let Some(chosen) = next.selected.get(dep)
            && !req.matches(chosen)
        {
            let others = next
                .reqs
                .get(dep)
                .map(|r| requirements_text(dep, r))
                .unwrap_or_default();
            return Err(format!(
                "{by} requires {dep} {req}, but {dep} {chosen} was chosen ({others})"
            ));
        }
        next.reqs
            .entry(dep.clone())
            .or_default()
            .push((req.clone(), by));
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::installed::MemoryIndex;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn req(s: &str) -> VersionReq {
        VersionReq::parse(s).unwrap()
    }

    fn lock_text(name: &str) -> String {
        format!(
            "version = 1\nrequires = [\"acme\"]\n\n[[pack]]\nname = {}\nversion = \"1.0.0\"\ndigest = \"sha256:{}\"\n",
            toml::Value::String(name.into()),
            "0".repeat(64)
        )
    }

    #[test]
    fn lock_names_are_pack_names() {
        let path = Path::new("stance.lock");
        assert!(Lock::parse(&lock_text("acme"), path).is_ok());
        for bad in ["../../outside", "/etc", "a/b", "a\u{1b}[2J", "", "Acme"] {
            let err = Lock::parse(&lock_text(bad), path).unwrap_err().to_string();
            assert!(err.contains("is not a valid pack name"), "{bad:?}: {err}");
            assert!(!err.contains('\u{1b}'), "{err:?}");
        }
        let deps = lock_text("acme") + "dependencies = [\"../x\"]\n";
        let err = Lock::parse(&deps, path).unwrap_err().to_string();
        assert!(err.contains("dependency `../x`"), "{err}");
        let keys = lock_text("acme").replace("requires", "keys = [\"nothex\"]\nrequires");
        let err = Lock::parse(&keys, path).unwrap_err().to_string();
        assert!(err.contains("not a key id"), "{err}");
    }

    #[test]
    fn the_lock_is_written_through_its_own_temp_file_never_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOCK_FILE);
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let lock = Lock::parse(&lock_text("acme"), &path).unwrap();
        #[cfg(unix)]
        {
            let planted = dir.path().join("stance.lock.tmp");
            std::os::unix::fs::symlink(&victim, &planted).unwrap();
            lock.write(&path).unwrap();
            assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
            assert_eq!(Lock::read(&path).unwrap(), Some(lock.clone()));
            std::fs::remove_file(&path).unwrap();
            std::os::unix::fs::symlink(&victim, &path).unwrap();
            let err = lock.write(&path).unwrap_err().to_string();
            assert!(err.contains("symbolic link"), "{err}");
            let err = Lock::read(&path).unwrap_err().to_string();
            assert!(err.contains("symbolic link"), "{err}");
            assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".stance.lock."))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left behind");
    }

    #[test]
    fn resolving_keeps_the_project_keys() {
        let mut index = MemoryIndex::new();
        index.add("acme", v("1.0.0"), Digest::of(b"a"), BTreeMap::new());
        let mut old = resolve(&["acme".parse().unwrap()], &index, None).unwrap();
        old.keys = vec!["0123456789abcdef".into()];
        let new = resolve(&["acme".parse().unwrap()], &index, Some(&old)).unwrap();
        assert_eq!(new.keys, old.keys);
        assert!(new.to_toml().contains("keys = [\"0123456789abcdef\"]"));
    }

    #[test]
    fn candidates_are_newest_first_with_the_pin_in_front() {
        let mut index = MemoryIndex::new();
        for version in ["1.0.0", "1.1.0", "1.2.0", "2.0.0"] {
            index.add("a", v(version), Digest::of(b"a"), BTreeMap::new());
        }
        let solver = Solver {
            index: &index,
            prefer: [("a".to_string(), v("1.1.0"))].into(),
            steps: 0,
            deps: BTreeMap::new(),
        };
        let reqs = [(req("^1"), "the project".to_string())];
        let found = match solver.candidates("a", &reqs) {
            Ok(found) => found,
            Err(_) => panic!("a has candidates"),
        };
        assert_eq!(found, [v("1.1.0"), v("1.2.0"), v("1.0.0")]);
        match solver.candidates("a", &[(req("^3"), "the project".into())]) {
            Err(Fail::Conflict(msg)) => assert_eq!(
                msg,
                "no version of `a` satisfies every requirement: the project requires a ^3; available: 1.0.0, 1.1.0, 1.2.0, 2.0.0"
            ),
            _ => panic!("no version of a satisfies ^3"),
        }
        match solver.candidates("b", &[(req("^1"), "the project".into())]) {
            Err(Fail::Conflict(msg)) => assert!(msg.contains("`b` is not available"), "{msg}"),
            _ => panic!("b is not in the index"),
        }
    }

    #[test]
    fn choosing_a_version_adds_its_ranges_or_names_the_conflict() {
        let mut state = State::from_roots(&["a".parse().unwrap()]);
        state.selected.insert("base".into(), v("1.0.0"));
        let deps: BTreeMap<String, VersionReq> = [("base".to_string(), req("^1"))].into();
        let next = choose(&state, "a", &v("2.0.0"), &deps).unwrap();
        assert_eq!(next.selected["a"], v("2.0.0"));
        assert_eq!(next.reqs["base"], [(req("^1"), "a 2.0.0".to_string())]);

        let deps: BTreeMap<String, VersionReq> = [("base".to_string(), req("^2"))].into();
        let conflict = choose(&next, "b", &v("1.0.0"), &deps).unwrap_err();
        assert_eq!(
            conflict,
            "b 1.0.0 requires base ^2, but base 1.0.0 was chosen (a 2.0.0 requires base ^1)"
        );
    }
}
