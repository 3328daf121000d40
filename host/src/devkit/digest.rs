//! Whether a plugin build is stale: the digest of a project's sources
//! (every file but build output, dependencies and caches) with the SDK, the
//! WIT and the Stance version it is built against.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::catalog::Project;
use crate::intake::walk;

/// SHA-256 over the project's sources (every file but build output,
/// dependencies and caches), in path order, with the given extra inputs
/// (the SDK, the WIT, the Stance version). Equal digests mean an equal build.
pub fn source_digest(
    project: &Project,
    extra_dirs: &[&Path],
    extra: &[&str],
) -> std::io::Result<String> {
    let mut h = Sha256::new();
    for dir in std::iter::once(project.dir.as_path()).chain(extra_dirs.iter().copied()) {
        for (rel, bytes) in source_files(dir)? {
            h.update(rel.as_bytes());
            h.update([0]);
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(&bytes);
        }
    }
    for e in extra {
        h.update(e.as_bytes());
        h.update([0]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Directories a build writes or fetches into: never part of the sources.
const SKIPPED: &[&str] = &[
    "dist",
    "target",
    "node_modules",
    "__pycache__",
    ".git",
    ".stance",
    "Cargo.lock",
    "package-lock.json",
];

/// Files under `dir`, relative path and contents, sorted by path.
fn source_files(dir: &Path) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let filter = walk::Filter {
        enter: &|name| !SKIPPED.contains(&name),
        want: &|p| {
            p.file_name()
                .is_none_or(|n| !SKIPPED.iter().any(|s| n.to_str() == Some(*s)))
        },
    };
    let mut out = Vec::new();
    for path in walk::walk(dir, &filter, &mut Default::default())?.files {
        let rel = path
            .strip_prefix(dir)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        let bytes = std::fs::read(&path)?;
        out.push((rel, bytes));
    }
    Ok(out)
}
