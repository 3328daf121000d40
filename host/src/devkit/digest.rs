//! Whether a plugin build is stale: the digest of a project's sources
//! (every file but build output, dependencies and caches) with the SDK, the
//! WIT and the Stance version it is built against.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::catalog::Project;

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
    let mut out = Vec::new();
    let walker = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            e.depth() == 0 || !SKIPPED.iter().any(|s| e.file_name().to_str() == Some(*s))
        });
    for entry in walker {
        let entry = entry.map_err(std::io::Error::other)?;
        if entry.file_type().is_file() {
            let rel = entry
                .path()
                .strip_prefix(dir)
                .unwrap_or(entry.path())
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, std::fs::read(entry.path())?));
        }
    }
    Ok(out)
}
