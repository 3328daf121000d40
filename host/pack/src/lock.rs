//! Step 6 of a pack's life, lock and resolve: the project lock file
//! `stance.lock` (exact versions and archive digests) and the resolver that
//! produces it, one version per pack name, the newest that satisfies every
//! semver range, backtracking on conflicts. This module owns the lock
//! format, the diff between two locks, and resolution.
//!
//! It never installs, fetches or verifies packs: it sees versions,
//! dependencies and digests only through a [`PackIndex`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

use crate::PackError;
use crate::digest::Digest;
use crate::installed::{PackIndex, PackSpec, join_versions};

/// The lock file's name in a project directory.
pub const LOCK_FILE: &str = "stance.lock";
/// The lock format this crate reads and writes.
pub const LOCK_VERSION: u32 = 1;
/// The resolver gives up after trying this many versions.
const MAX_STEPS: usize = 10_000;

/// A parsed `stance.lock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// Always [`LOCK_VERSION`].
    pub version: u32,
    /// The requirements the lock was resolved from (`name@range`).
    #[serde(default)]
    pub requires: Vec<String>,
    /// One entry per pack, by name.
    #[serde(default, rename = "pack")]
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
        let mut seen = BTreeSet::new();
        for p in &lock.packs {
            if !seen.insert(&p.name) {
                return Err(err(format!(
                    "`{}` is pinned twice; regenerate it with `stance pack update`",
                    p.name
                )));
            }
        }
        lock.requirements().map_err(|e| err(e.to_string()))?;
        Ok(lock)
    }

    /// Reads `path`; `Ok(None)` when it does not exist.
    pub fn read(path: &Path) -> Result<Option<Lock>, PackError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Lock::parse(&text, path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(PackError::io(path, e)),
        }
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

    /// Writes the lock atomically (a temporary file renamed over `path`).
    pub fn write(&self, path: &Path) -> Result<(), PackError> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        std::fs::write(&tmp, self.to_toml()).map_err(|e| PackError::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| PackError::io(path, e))
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
