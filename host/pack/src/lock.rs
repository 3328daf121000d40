//! The project lock file `stance.lock` (exact versions and archive digests)
//! and the resolver that produces it: one version per pack name, the newest
//! that satisfies every semver range, backtracking on conflicts.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

use crate::PackError;
use crate::digest::Digest;
use crate::store::{PackIndex, PackSpec, join_versions};

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
    pub name: String,
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

fn digest_mismatch(path: &Path, p: &LockedPack, found: &Digest) -> PackError {
    PackError::Lock {
        path: path.to_path_buf(),
        reason: format!(
            "pins {} {} with archive {}, but the available archive is {}; versions are immutable: install the pinned archive again, or run `stance pack update` if the change is expected",
            p.name, p.version, p.digest, found
        ),
    }
}

/// One difference between two locks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockChange {
    Added {
        name: String,
        version: Version,
    },
    Removed {
        name: String,
        version: Version,
    },
    Changed {
        name: String,
        from: Version,
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

#[derive(Clone, Default)]
struct State {
    selected: BTreeMap<String, Version>,
    /// name -> (range, who requires it)
    reqs: BTreeMap<String, Vec<(VersionReq, String)>>,
}

struct Solver<'a, I: PackIndex> {
    index: &'a I,
    prefer: BTreeMap<String, Version>,
    steps: usize,
    deps: BTreeMap<(String, Version), BTreeMap<String, VersionReq>>,
}

fn solve(
    roots: &[PackSpec],
    index: &impl PackIndex,
    lock: Option<&Lock>,
    prefer: BTreeMap<String, Version>,
) -> Result<Lock, PackError> {
    let mut state = State::default();
    for spec in roots {
        state
            .reqs
            .entry(spec.name.clone())
            .or_default()
            .push((spec.req.clone(), "the project".to_string()));
    }
    let mut solver = Solver {
        index,
        prefer,
        steps: 0,
        deps: BTreeMap::new(),
    };
    let selected = match solver.solve(state) {
        Ok(s) => s,
        Err(Fail::Conflict(msg)) => return Err(PackError::Resolve(msg)),
        Err(Fail::Fatal(e)) => return Err(e),
    };
    let mut packs = Vec::new();
    for (name, version) in selected {
        let digest = index.digest(&name, &version)?;
        if let Some(pinned) = lock.and_then(|l| l.get(&name))
            && pinned.version == version
            && pinned.digest != digest
        {
            return Err(digest_mismatch(Path::new(LOCK_FILE), pinned, &digest));
        }
        let deps = solver
            .deps
            .get(&(name.clone(), version.clone()))
            .map(|d| d.keys().cloned().collect())
            .unwrap_or_default();
        packs.push(LockedPack {
            name,
            version,
            digest,
            dependencies: deps,
        });
    }
    Ok(Lock {
        version: LOCK_VERSION,
        requires: roots.iter().map(PackSpec::to_string).collect(),
        packs,
    })
}

impl<I: PackIndex> Solver<'_, I> {
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

    fn solve(&mut self, state: State) -> Result<BTreeMap<String, Version>, Fail> {
        let Some(name) = state
            .reqs
            .keys()
            .find(|n| !state.selected.contains_key(*n))
            .cloned()
        else {
            return Ok(state.selected);
        };
        let reqs = &state.reqs[&name];
        let available = {
            let mut v = self.index.versions(&name)?;
            v.sort();
            v.dedup();
            v
        };
        let mut candidates: Vec<Version> = available
            .iter()
            .rev()
            .filter(|v| reqs.iter().all(|(r, _)| r.matches(v)))
            .cloned()
            .collect();
        if let Some(pos) = self
            .prefer
            .get(&name)
            .and_then(|p| candidates.iter().position(|v| v == p))
        {
            let pinned = candidates.remove(pos);
            candidates.insert(0, pinned);
        }
        if candidates.is_empty() {
            let wanted = reqs
                .iter()
                .map(|(r, by)| format!("{by} requires {name} {r}"))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(Fail::Conflict(if available.is_empty() {
                format!(
                    "`{name}` is not available ({wanted}); install it with `stance pack install`"
                )
            } else {
                format!(
                    "no version of `{name}` satisfies every requirement: {wanted}; available: {}",
                    join_versions(&available)
                )
            }));
        }
        let mut first_conflict = None;
        for version in candidates {
            self.steps += 1;
            if self.steps > MAX_STEPS {
                return Err(Fail::Fatal(PackError::Resolve(format!(
                    "gave up after trying {MAX_STEPS} versions; pin some packs with narrower ranges"
                ))));
            }
            let deps = self.dependencies(&name, &version)?;
            let mut next = state.clone();
            next.selected.insert(name.clone(), version.clone());
            let mut conflict = None;
            for (dep, req) in &deps {
                let by = format!("{name} {version}");
                if let Some(chosen) = next.selected.get(dep)
                    && !req.matches(chosen)
                {
                    let others = next.reqs.get(dep).map(|r| {
                        r.iter()
                            .map(|(r, by)| format!("{by} requires {dep} {r}"))
                            .collect::<Vec<_>>()
                            .join("; ")
                    });
                    conflict = Some(format!(
                        "{by} requires {dep} {req}, but {dep} {chosen} was chosen ({})",
                        others.unwrap_or_default()
                    ));
                    break;
                }
                next.reqs
                    .entry(dep.clone())
                    .or_default()
                    .push((req.clone(), by));
            }
            let result = match conflict {
                Some(msg) => Err(Fail::Conflict(msg)),
                None => self.solve(next),
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
}
