//! Step 2 of a pack's life, and the first half of step 4: the archive.
//! [`build`] turns a pack directory into one deterministic `.tar.gz` with
//! its `digests` index; [`PackArchive::from_bytes`] reads one back and
//! refuses it unless its bytes are the canonical encoding of its entries,
//! `digests` lists every entry with its digest, and the manifest declares
//! every entry. This module owns the encoding (tar headers, entry order,
//! gzip header and level) and the archive limits (docs/packs.md).
//!
//! It never involves a key: a [`PackArchive`] is integrity-checked, not
//! trusted (signatures and compatibility are `trust`'s). It never writes a
//! file: `build` returns the bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::{Compression, GzBuilder};

use crate::PackError;
use crate::digest::{Digest, DigestIndex};
use crate::manifest::{MANIFEST_FILE, Manifest, RESERVED, check_relative_path};

/// The entry listing the digest of every other file.
pub const DIGESTS_FILE: &str = "digests";
/// The entry holding the signature, when the pack is signed.
pub const SIGNATURE_FILE: &str = "signature";

/// The modification time of every tar entry (and of the gzip header): 0.
const FIXED_MTIME: u64 = 0;
/// The mode of every tar entry.
const FIXED_MODE: u32 = 0o644;
/// The gzip header every archive starts with: no name, mtime 0, no extra
/// flags, OS 255 ("unknown").
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
/// Refuse archives that unpack to more than this (a gzip bomb guard).
pub const MAX_UNPACKED_BYTES: u64 = 1 << 30;
/// Refuse archives with more entries than this.
pub const MAX_ENTRIES: usize = 100_000;

/// The entries of a pack archive, keyed by path.
pub(crate) type Entries = BTreeMap<String, Vec<u8>>;

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
    let candidates = walk(dir).map_err(|(path, e)| PackError::io(path, e))?;
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
                if files.contains_key(rel) {
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
                files.insert(rel.clone(), bytes);
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

/// Every regular file (or symlink to one) under `dir`, as sorted `/`-joined
/// relative paths; hidden directories and symlinked directories are skipped,
/// and so are the reserved top-level names.
fn walk(dir: &Path) -> Result<BTreeSet<String>, (PathBuf, std::io::Error)> {
    let mut out = BTreeSet::new();
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
            if file_type.is_dir() {
                if !name.starts_with('.') {
                    stack.push((entry.path(), child_rel));
                }
            } else if (file_type.is_file() || (file_type.is_symlink() && entry.path().is_file()))
                && !(rel.is_empty() && RESERVED.contains(&name.as_str()))
            {
                out.insert(child_rel);
            }
        }
    }
    Ok(out)
}

// The canonical encoding, written by `build` and `sign`, and compared
// byte for byte by `PackArchive::from_bytes`.

/// The order of entries in an archive: manifest, digests and signature
/// first (so a streaming reader meets them before the payload), then every
/// other path in byte order.
fn canonical_order(entries: &Entries) -> Vec<(&String, &Vec<u8>)> {
    let mut head: Vec<_> = RESERVED
        .iter()
        .filter_map(|name| entries.get_key_value(*name))
        .collect();
    head.extend(
        entries
            .iter()
            .filter(|(path, _)| !RESERVED.contains(&path.as_str())),
    );
    head
}

/// Where each entry starts in a tar stream: (offset, path).
type Offsets = Vec<(usize, String)>;

/// The canonical tar stream of `entries`, and where each entry starts in it.
fn encode_tar(entries: &Entries) -> std::io::Result<(Vec<u8>, Offsets)> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut starts = Vec::new();
    for (path, bytes) in canonical_order(entries) {
        starts.push((builder.get_ref().len(), path.clone()));
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(bytes.len() as u64);
        header.set_mode(FIXED_MODE);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(FIXED_MTIME);
        header.set_username("")?;
        header.set_groupname("")?;
        builder.append_data(&mut header, path, bytes.as_slice())?;
    }
    let tar = builder.into_inner()?;
    Ok((tar, starts))
}

/// The canonical archive bytes of `entries` (tar, then gzip at level 6 with
/// the fixed header).
pub(crate) fn encode(entries: &Entries) -> std::io::Result<Vec<u8>> {
    let (tar, _) = encode_tar(entries)?;
    let mut gz = GzBuilder::new()
        .mtime(FIXED_MTIME as u32)
        .operating_system(255)
        .write(Vec::new(), Compression::new(6));
    std::io::Write::write_all(&mut gz, &tar)?;
    gz.finish()
}

/// An archive whose integrity was checked, but whose signature was not.
#[derive(Debug, Clone)]
pub struct PackArchive {
    /// Where the archive came from (a path or a reference).
    source: String,
    /// The parsed `stance-pack.toml` entry.
    manifest: Manifest,
    /// Every entry, by path.
    entries: Entries,
    /// The SHA-256 of the archive bytes.
    digest: Digest,
}

impl PackArchive {
    /// Reads an archive and checks everything that needs no key: the bytes
    /// are exactly the canonical encoding of the entries (so no byte can
    /// change without changing an entry), every entry is listed
    /// in `digests` with its digest, every entry is declared by the manifest
    /// and every plugin has its declared digest. `source` (a path or a
    /// reference) names the archive in errors.
    pub fn from_bytes(bytes: &[u8], source: &str) -> Result<PackArchive, PackError> {
        let tar_bytes = decompress(bytes, source)?;
        let entries = read_entries(&tar_bytes, source)?;
        check_canonical_tar(&tar_bytes, &entries, source)?;
        check_canonical_gzip(bytes, &entries, source)?;

        let index = read_index(&entries, source)?;
        let manifest_bytes = required_entry(&entries, MANIFEST_FILE, source)?;
        let pack = pack_label(manifest_bytes, source);
        check_digests(&entries, &index, &pack)?;

        let manifest = read_manifest(manifest_bytes, source)?;
        check_plugins(&entries, &manifest, &pack)?;
        check_declared(&entries, &manifest, &pack)?;

        Ok(PackArchive {
            source: source.to_string(),
            manifest,
            entries,
            digest: Digest::of(bytes),
        })
    }

    /// Reads and checks the archive at `path`.
    pub fn open(path: &Path) -> Result<PackArchive, PackError> {
        let bytes = std::fs::read(path).map_err(|e| PackError::io(path, e))?;
        PackArchive::from_bytes(&bytes, &path.display().to_string())
    }

    /// Where the archive came from, as given to `from_bytes`.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The manifest inside the archive.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// `name@version (source)`, as packs are named in refusals.
    pub fn label(&self) -> String {
        format!("{} ({})", self.manifest.id(), self.source)
    }

    /// The SHA-256 of the whole archive (what the lock file pins).
    pub fn archive_digest(&self) -> Digest {
        self.digest
    }

    /// Every entry, including `stance-pack.toml`, `digests` and `signature`.
    pub fn entries(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.entries
    }

    /// Whether the archive carries a `signature` entry.
    pub fn is_signed(&self) -> bool {
        self.entries.contains_key(SIGNATURE_FILE)
    }

    /// The entries, to re-encode (`sign` adds its entry to them).
    pub(crate) fn into_entries(self) -> Entries {
        self.entries
    }
}

// Reading an archive back: the steps of `PackArchive::from_bytes`, in the
// order it takes them. Until the manifest names the pack, refusals name the
// archive by its source; afterwards by `name@version (source)`.

/// A refusal of bytes that are not a pack archive at all.
fn not_an_archive(source: &str, reason: String) -> PackError {
    PackError::NotAnArchive {
        source_name: source.to_string(),
        reason,
    }
}

/// A refusal of an archive whose `file` was changed after it was built.
fn tampered(pack: &str, file: &str, reason: String) -> PackError {
    PackError::Tampered {
        pack: pack.to_string(),
        file: file.to_string(),
        reason,
    }
}

/// Read step 1: the tar stream inside the gzip layer, refused unless the
/// gzip header is the fixed one, the stream inflates within
/// [`MAX_UNPACKED_BYTES`] and nothing follows it.
fn decompress(bytes: &[u8], source: &str) -> Result<Vec<u8>, PackError> {
    if bytes.len() < GZIP_HEADER.len() || bytes[..2] != GZIP_HEADER[..2] {
        return Err(not_an_archive(source, "it is not gzip-compressed".into()));
    }
    if bytes[..GZIP_HEADER.len()] != GZIP_HEADER {
        return Err(tampered(
            source,
            "(gzip header)",
            "the gzip header differs from the one Stance writes".into(),
        ));
    }
    let mut decoder = flate2::bufread::GzDecoder::new(bytes);
    let mut tar_bytes = Vec::new();
    (&mut decoder)
        .take(MAX_UNPACKED_BYTES + 1)
        .read_to_end(&mut tar_bytes)
        .map_err(|e| {
            tampered(
                source,
                "(gzip stream)",
                format!("it does not decompress ({e})"),
            )
        })?;
    if tar_bytes.len() as u64 > MAX_UNPACKED_BYTES {
        return Err(not_an_archive(
            source,
            format!("it unpacks to more than {MAX_UNPACKED_BYTES} bytes"),
        ));
    }
    if !decoder.into_inner().is_empty() {
        return Err(tampered(
            source,
            "(gzip stream)",
            "bytes were appended after the end of the compressed stream".into(),
        ));
    }
    Ok(tar_bytes)
}

/// Read step 2: the entries of the tar stream, refused unless every entry is
/// a regular file with a safe, unique relative path, and there are at most
/// [`MAX_ENTRIES`] of them.
fn read_entries(tar_bytes: &[u8], source: &str) -> Result<Entries, PackError> {
    let tar_stream = |reason: String| tampered(source, "(tar stream)", reason);
    let mut entries = Entries::new();
    let mut archive = tar::Archive::new(tar_bytes);
    let iter = archive
        .entries()
        .map_err(|e| tar_stream(format!("it is not a tar archive ({e})")))?;
    for entry in iter {
        let mut entry = entry.map_err(|e| tar_stream(format!("a tar header is invalid ({e})")))?;
        let path = entry.path_bytes().into_owned();
        let path = String::from_utf8(path)
            .map_err(|_| tar_stream("an entry's path is not UTF-8".into()))?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(tampered(
                source,
                &path,
                "the entry is not a regular file".into(),
            ));
        }
        check_relative_path(&path).map_err(|e| tampered(source, &path, e))?;
        if entries.len() >= MAX_ENTRIES {
            return Err(not_an_archive(
                source,
                format!("it has more than {MAX_ENTRIES} entries"),
            ));
        }
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .map_err(|e| tampered(source, &path, format!("its data cannot be read ({e})")))?;
        if entries.insert(path.clone(), data).is_some() {
            return Err(tampered(
                source,
                &path,
                "the archive holds two entries with this path".into(),
            ));
        }
    }
    Ok(entries)
}

/// Read step 3: any byte of the tar stream outside the entries' contents
/// (headers, order, padding, trailer) is exactly what `build` writes. A
/// difference is blamed on the entry in whose part of the stream it lies.
fn check_canonical_tar(tar_bytes: &[u8], entries: &Entries, source: &str) -> Result<(), PackError> {
    let (canonical, starts) = encode_tar(entries)
        .map_err(|e| tampered(source, "(tar stream)", format!("cannot re-encode ({e})")))?;
    if canonical == tar_bytes {
        return Ok(());
    }
    let at = canonical
        .iter()
        .zip(tar_bytes.iter())
        .position(|(a, b)| a != b)
        .unwrap_or(canonical.len().min(tar_bytes.len()));
    let file = starts
        .iter()
        .rev()
        .find(|(start, _)| *start <= at)
        .map(|(_, path)| path.as_str())
        .unwrap_or("(tar stream)");
    Err(tampered(
        source,
        file,
        format!(
            "the tar layout differs from the canonical one at byte {at} (a header, the entry order or the padding was changed)"
        ),
    ))
}

/// Read step 4: the compressed stream is exactly what `build` writes, too:
/// deflate ignores some padding bits, so a changed byte there would not
/// show in the contents.
fn check_canonical_gzip(bytes: &[u8], entries: &Entries, source: &str) -> Result<(), PackError> {
    let recompressed = encode(entries)
        .map_err(|e| tampered(source, "(gzip stream)", format!("cannot re-encode ({e})")))?;
    if recompressed != bytes {
        return Err(tampered(
            source,
            "(gzip stream)",
            "the compressed bytes differ from the canonical encoding of the same contents".into(),
        ));
    }
    Ok(())
}

/// The entry `name`, without which the bytes are not a pack archive.
fn required_entry<'e>(
    entries: &'e Entries,
    name: &str,
    source: &str,
) -> Result<&'e [u8], PackError> {
    entries
        .get(name)
        .map(Vec::as_slice)
        .ok_or_else(|| not_an_archive(source, format!("it has no `{name}` entry")))
}

/// Read step 5: the `digests` index, which must be present and canonical.
fn read_index(entries: &Entries, source: &str) -> Result<DigestIndex, PackError> {
    let digests_bytes = required_entry(entries, DIGESTS_FILE, source)?;
    DigestIndex::parse(digests_bytes).map_err(|e| tampered(source, DIGESTS_FILE, e))
}

/// How later refusals name the pack: `name@version (source)` when the
/// manifest reads at all, else the source alone.
fn pack_label(manifest_bytes: &[u8], source: &str) -> String {
    std::str::from_utf8(manifest_bytes)
        .ok()
        .and_then(|t| Manifest::parse(t, MANIFEST_FILE).ok())
        .map(|m| format!("{} ({source})", m.id()))
        .unwrap_or_else(|| source.to_string())
}

/// Read step 6: the contents against the index: every entry but `digests`
/// and `signature` is listed with its digest, and the index lists nothing
/// else.
fn check_digests(entries: &Entries, index: &DigestIndex, pack: &str) -> Result<(), PackError> {
    for (path, data) in entries {
        if path == DIGESTS_FILE || path == SIGNATURE_FILE {
            continue;
        }
        let actual = Digest::of(data);
        match index.get(path) {
            None => {
                return Err(tampered(
                    pack,
                    path,
                    format!("the file is in the archive but not listed in `{DIGESTS_FILE}`"),
                ));
            }
            Some(listed) if *listed != actual => {
                return Err(tampered(
                    pack,
                    path,
                    format!("`{DIGESTS_FILE}` lists {listed}, but the file has {actual}"),
                ));
            }
            Some(_) => {}
        }
    }
    for (path, _) in index.iter() {
        if !entries.contains_key(path) || path == SIGNATURE_FILE || path == DIGESTS_FILE {
            return Err(tampered(
                pack,
                path,
                format!("`{DIGESTS_FILE}` lists the file, but the archive does not hold it"),
            ));
        }
    }
    Ok(())
}

/// Read step 7: the manifest inside the archive, parsed and validated.
fn read_manifest(manifest_bytes: &[u8], source: &str) -> Result<Manifest, PackError> {
    let file = format!("{source}: {MANIFEST_FILE}");
    let text = std::str::from_utf8(manifest_bytes).map_err(|_| PackError::Manifest {
        file: file.clone(),
        message: "the manifest is not UTF-8 text".into(),
    })?;
    Manifest::parse(text, &file)
}

/// Read step 8: every declared plugin is in the archive with its declared
/// digest.
fn check_plugins(entries: &Entries, manifest: &Manifest, pack: &str) -> Result<(), PackError> {
    for plugin in &manifest.plugins {
        let Some(data) = entries.get(&plugin.path) else {
            return Err(tampered(
                pack,
                &plugin.path,
                format!(
                    "plugin `{}` is declared but missing from the archive",
                    plugin.name
                ),
            ));
        };
        let actual = Digest::of(data);
        if plugin.digest != Some(actual) {
            return Err(tampered(
                pack,
                &plugin.path,
                format!(
                    "plugin `{}` has digest {actual}, not the one its manifest declares",
                    plugin.name
                ),
            ));
        }
    }
    Ok(())
}

/// Read step 9: every entry is the manifest, the index, the signature, a
/// plugin or a data file matched by a `[data]` glob; nothing rides along
/// unseen.
fn check_declared(entries: &Entries, manifest: &Manifest, pack: &str) -> Result<(), PackError> {
    let patterns: Vec<glob::Pattern> = manifest
        .data
        .globs()
        .filter_map(|g| glob::Pattern::new(g).ok())
        .collect();
    for path in entries.keys() {
        let declared = RESERVED.contains(&path.as_str())
            || manifest.plugins.iter().any(|p| &p.path == path)
            || patterns.iter().any(|p| glob_matches(p, path));
        if !declared {
            return Err(tampered(
                pack,
                path,
                "the file is not declared by the manifest (neither a plugin nor matched by [data])"
                    .into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::starter_manifest;

    /// The entries of a minimal pack (the starter manifest, no plugins or
    /// data) plus `extra`, with a `digests` index that lists them all.
    fn entries_with(extra: &[(&str, &str)]) -> Entries {
        let mut files = Entries::new();
        files.insert(MANIFEST_FILE.into(), starter_manifest("demo").into_bytes());
        for (path, text) in extra {
            files.insert(path.to_string(), text.as_bytes().to_vec());
        }
        let index = DigestIndex::from_files(&files);
        files.insert(DIGESTS_FILE.into(), index.render().into_bytes());
        files
    }

    fn refusal(bytes: &[u8]) -> PackError {
        PackArchive::from_bytes(bytes, "t.tar.gz").expect_err("must be refused")
    }

    #[test]
    fn a_canonical_encoding_reads_back_with_its_entries() {
        let entries = entries_with(&[]);
        let bytes = encode(&entries).unwrap();
        let archive = PackArchive::from_bytes(&bytes, "t.tar.gz").unwrap();
        assert_eq!(archive.entries(), &entries);
        assert_eq!(archive.label(), "demo@0.1.0 (t.tar.gz)");
        assert_eq!(archive.archive_digest(), Digest::of(&bytes));
        assert!(!archive.is_signed());
    }

    #[test]
    fn the_gzip_layer_is_checked_first() {
        let err = refusal(b"PK\x03\x04 not gzip");
        assert!(matches!(err, PackError::NotAnArchive { .. }), "{err}");
        let mut bytes = encode(&entries_with(&[])).unwrap();
        bytes.push(0);
        let err = refusal(&bytes);
        assert!(
            matches!(&err, PackError::Tampered { file, .. } if file == "(gzip stream)"),
            "{err}"
        );
    }

    #[test]
    fn a_layout_difference_is_blamed_on_its_entry() {
        let entries = entries_with(&[("policies/a.yaml", "a: 1\n")]);
        let (mut tar_bytes, starts) = encode_tar(&entries).unwrap();
        let (start, path) = starts.last().unwrap().clone();
        tar_bytes[start + 100] ^= 1; // the mode field of the last header
        let err = check_canonical_tar(&tar_bytes, &entries, "t").unwrap_err();
        assert!(
            matches!(&err, PackError::Tampered { file, .. } if *file == path),
            "{err}"
        );
    }

    #[test]
    fn undeclared_and_unlisted_entries_are_refused() {
        let undeclared = entries_with(&[("notes.txt", "hi")]);
        let err = refusal(&encode(&undeclared).unwrap());
        assert!(
            err.to_string().contains("not declared by the manifest"),
            "{err}"
        );

        let mut unlisted = entries_with(&[]);
        unlisted.insert("extra.txt".into(), b"x".to_vec());
        let err = refusal(&encode(&unlisted).unwrap());
        assert!(err.to_string().contains("not listed in `digests`"), "{err}");
    }
}
