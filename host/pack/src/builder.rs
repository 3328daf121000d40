//! Step 2 of a pack's life: [`build`] turns a pack directory into the
//! entries of an archive (manifest, plugins with their digests checked, the
//! files its `[data]` globs match, the generated `digests` index) and hands
//! them to `archive`'s canonical encoding. This module owns reading the pack
//! directory: the walk (hidden and reserved names skipped, symbolic links
//! never followed and refused by name when a glob matches them). It never
//! reads an archive and never involves a key.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::PackError;
use crate::archive::{DIGESTS_FILE, Entries, encode};
use crate::digest::{Digest, DigestIndex};
use crate::manifest::{MANIFEST_FILE, Manifest, RESERVED, check_relative_path};

// Building an archive: `build` and its steps, in order.

/// Builds the archive of the pack in `dir`: its manifest, its plugins, the
/// files its `[data]` globs match and the generated `digests` index, as a
/// deterministic `.tar.gz` (see docs/packs.md). Checks every declared
/// plugin digest against its file.
pub fn build(dir: &Path) -> Result<Vec<u8>, PackError> {
    let (manifest, manifest_bytes) = read_dir_manifest(dir)?;
    let mut files = plugin_files(dir, &manifest)?;
    add_data_files(dir, &manifest, &mut files)?;
    files.insert(MANIFEST_FILE.to_string(), manifest_bytes);
    let index = DigestIndex::from_files(&files);
    files.insert(DIGESTS_FILE.to_string(), index.render().into_bytes());
    encode(&files).map_err(|e| build_error(dir, format!("cannot write the archive: {e}")))
}

/// Why `build` could not turn `dir` into an archive.
fn build_error(dir: &Path, message: String) -> PackError {
    PackError::Build {
        dir: dir.to_path_buf(),
        message,
    }
}

/// Build step 1: the manifest of the pack directory, parsed, with the exact
/// bytes that go into the archive.
fn read_dir_manifest(dir: &Path) -> Result<(Manifest, Vec<u8>), PackError> {
    refuse_links(dir, MANIFEST_FILE)?;
    let manifest_path = dir.join(MANIFEST_FILE);
    let manifest_bytes =
        std::fs::read(&manifest_path).map_err(|e| PackError::io(&manifest_path, e))?;
    let text = std::str::from_utf8(&manifest_bytes).map_err(|_| PackError::Manifest {
        file: manifest_path.display().to_string(),
        message: "the manifest is not UTF-8 text".into(),
    })?;
    let manifest = Manifest::parse(text, &manifest_path.display().to_string())?;
    Ok((manifest, manifest_bytes))
}

/// Build step 2: every declared plugin's component, refused when it is
/// missing or its digest is missing or stale (the message gives the line
/// to write).
fn plugin_files(dir: &Path, manifest: &Manifest) -> Result<Entries, PackError> {
    let mut files = Entries::new();
    for plugin in &manifest.plugins {
        refuse_links(dir, &plugin.path)?;
        let path = dir.join(&plugin.path);
        let bytes = std::fs::read(&path).map_err(|e| {
            build_error(
                dir,
                format!(
                    "plugin `{}`: cannot read {} ({e}); build the component or fix `path`",
                    plugin.name, plugin.path
                ),
            )
        })?;
        let actual = Digest::of(&bytes);
        match plugin.digest {
            None => {
                return Err(build_error(
                    dir,
                    format!(
                        "plugin `{}` declares no digest; add `digest = \"{actual}\"` to its [[plugin]] table in {MANIFEST_FILE}",
                        plugin.name
                    ),
                ));
            }
            Some(declared) if declared != actual => {
                return Err(build_error(
                    dir,
                    format!(
                        "plugin `{}`: {} has digest {actual}, but {MANIFEST_FILE} declares {declared}; if this build of the component is the one to ship, set `digest = \"{actual}\"`",
                        plugin.name, plugin.path
                    ),
                ));
            }
            Some(_) => {}
        }
        files.insert(plugin.path.clone(), bytes);
    }
    Ok(files)
}

/// Build step 3: every file a `[data]` glob matches (a plugin matched by a
/// glob is packed once). A glob that matches nothing is an error.
fn add_data_files(dir: &Path, manifest: &Manifest, files: &mut Entries) -> Result<(), PackError> {
    let (regular, links) = walk(dir).map_err(|(path, e)| PackError::io(path, e))?;
    let candidates: BTreeSet<&String> = regular.iter().chain(links.iter()).collect();
    for (field, globs) in [
        ("data.policies", &manifest.data.policies),
        ("data.rules", &manifest.data.rules),
    ] {
        for g in globs {
            let pattern = glob::Pattern::new(g).map_err(|e| {
                build_error(
                    dir,
                    format!("field `{field}`: `{g}` is not a valid glob ({e})"),
                )
            })?;
            let mut matched = 0;
            for rel in candidates.iter().filter(|rel| glob_matches(&pattern, rel)) {
                matched += 1;
                if links.contains(*rel) {
                    refuse_links(dir, rel)?;
                }
                if files.contains_key(*rel) {
                    continue;
                }
                check_relative_path(rel).map_err(|e| {
                    build_error(
                        dir,
                        format!("`{g}` matches a file whose path cannot go into an archive: {e}"),
                    )
                })?;
                let path = dir.join(rel);
                let bytes = std::fs::read(&path).map_err(|e| PackError::io(&path, e))?;
                files.insert((*rel).clone(), bytes);
            }
            if matched == 0 {
                return Err(build_error(
                    dir,
                    format!("field `{field}`: `{g}` matches no file; fix the glob or remove it"),
                ));
            }
        }
    }
    Ok(())
}

// Choosing the files: what `build` walks and what `[data]` globs match.

/// Whether a `[data]` glob matches an archive path (`*` does not cross `/`,
/// dot-files match only a literal dot).
pub(crate) fn glob_matches(pattern: &glob::Pattern, path: &str) -> bool {
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    pattern.matches_with(path, options)
}

/// Refuses `rel` (a `/`-joined path inside `dir`) when it, or a directory
/// on the way to it, is a symbolic link: a pack holds only the regular
/// files of its own directory, so nothing outside it can be packed by a
/// link (a missing file is left to the read that follows).
fn refuse_links(dir: &Path, rel: &str) -> Result<(), PackError> {
    let mut path = dir.to_path_buf();
    let mut shown = String::new();
    for part in rel.split('/') {
        path.push(part);
        if !shown.is_empty() {
            shown.push('/');
        }
        shown.push_str(part);
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            return Ok(());
        };
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path)
                .map(|t| t.display().to_string())
                .unwrap_or_else(|_| "?".into());
            return Err(build_error(
                dir,
                format!(
                    "`{shown}` is a symbolic link (to {target}); a pack holds only the regular files of its own directory: replace the link with a copy of the file, or leave it out of `[data]` and `path`"
                ),
            ));
        }
    }
    Ok(())
}

/// What `walk` found: the regular files, and apart the symbolic links.
type Walked = (BTreeSet<String>, BTreeSet<String>);

/// The files under `dir` as sorted `/`-joined relative paths: the regular
/// files, and apart the symbolic links (never followed: `build` refuses
/// any that a glob matches). Hidden directories are skipped, and so are
/// the reserved top-level names.
fn walk(dir: &Path) -> Result<Walked, (PathBuf, std::io::Error)> {
    let (mut regular, mut links) = (BTreeSet::new(), BTreeSet::new());
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((abs, rel)) = stack.pop() {
        let read = std::fs::read_dir(&abs).map_err(|e| (abs.clone(), e))?;
        for entry in read {
            let entry = entry.map_err(|e| (abs.clone(), e))?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue; // not UTF-8: cannot be named in a manifest
            };
            let child_rel = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let file_type = entry.file_type().map_err(|e| (entry.path(), e))?;
            if rel.is_empty() && RESERVED.contains(&name.as_str()) {
                continue;
            }
            if file_type.is_symlink() {
                links.insert(child_rel);
            } else if file_type.is_dir() {
                if !name.starts_with('.') {
                    stack.push((entry.path(), child_rel));
                }
            } else if file_type.is_file() {
                regular.insert(child_rel);
            }
        }
    }
    Ok((regular, links))
}
