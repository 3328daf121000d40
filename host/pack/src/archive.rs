//! Step 2 of a pack's life, and the first half of step 4: the archive.
//! [`build`] turns a pack directory into one deterministic `.tar.gz` with
//! its `digests` index, refusing symbolic links it would pack;
//! [`PackArchive::from_bytes`] reads one back (as a stream, through
//! `reader`) and refuses it unless its bytes are the canonical encoding of
//! its entries, `digests` lists every entry with its digest, and the
//! manifest declares every entry. This module owns the encoding (tar
//! headers, entry order, gzip header and level), the order in which an
//! archive is read (head first, so a signature can be checked before the
//! payload is inflated) and the archive limits (docs/packs.md).
//!
//! It never involves a key: a [`PackArchive`] is integrity-checked, not
//! trusted (signatures and compatibility are `trust`'s, through the gate
//! `read` offers). It never writes a file: `build` returns the bytes.

use std::collections::BTreeMap;
use std::path::Path;

use flate2::{Compression, GzBuilder};

use crate::PackError;
use crate::digest::{Digest, DigestIndex};
use crate::manifest::{MANIFEST_FILE, Manifest, RESERVED};
use crate::reader::{RawEntry, Reader, not_an_archive, tampered};

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
pub(crate) const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
/// Refuse archives whose entries add up to more than this (a gzip bomb
/// guard, and the most memory a pack's files may take once read).
pub const MAX_UNPACKED_BYTES: u64 = 512 << 20;
/// Refuse archives with more entries than this.
pub const MAX_ENTRIES: usize = 100_000;
/// The largest manifest an archive may carry.
pub const MAX_MANIFEST_BYTES: u64 = 1 << 20;
/// The largest `digests` index: a line (digest, two spaces, a path of at
/// most 255 bytes) per entry.
pub const MAX_DIGESTS_BYTES: u64 = MAX_ENTRIES as u64 * 322;
/// The largest `signature` entry.
pub const MAX_SIGNATURE_BYTES: u64 = 4096;

/// The entries of a pack archive, keyed by path.
pub(crate) type Entries = BTreeMap<String, Vec<u8>>;

pub use crate::builder::build;
pub(crate) use crate::builder::glob_matches;

// The canonical encoding, written by `build` and `sign`, and compared
// byte for byte by the reader as it reads.

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

/// The header every entry of `size` bytes gets (before its path is set).
fn header_fields(size: u64) -> std::io::Result<tar::Header> {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(size);
    header.set_mode(FIXED_MODE);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(FIXED_MTIME);
    header.set_username("")?;
    header.set_groupname("")?;
    Ok(header)
}

/// The header blocks `build` writes before the contents of `path` (one
/// ustar block, or a GNU long-name entry and then one when ustar cannot
/// hold the path).
pub(crate) fn canonical_header(path: &str, size: u64) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = header_fields(size)?;
    builder.append_data(&mut header, path, std::io::empty())?;
    Ok(std::mem::take(builder.get_mut()))
}

/// The canonical tar stream of `entries`.
pub(crate) fn encode_tar(entries: &Entries) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, bytes) in canonical_order(entries) {
        let mut header = header_fields(bytes.len() as u64)?;
        builder.append_data(&mut header, path, bytes.as_slice())?;
    }
    builder.into_inner()
}

/// The canonical archive bytes of `entries` (tar, then gzip at level 6 with
/// the fixed header).
pub(crate) fn encode(entries: &Entries) -> std::io::Result<Vec<u8>> {
    let tar = encode_tar(entries)?;
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
    /// reference) names the archive in errors. Memory: the entries, never
    /// more than [`MAX_UNPACKED_BYTES`] of them, whatever the archive claims.
    pub fn from_bytes(bytes: &[u8], source: &str) -> Result<PackArchive, PackError> {
        read(bytes, source, |_| Ok(())).map(|(archive, ())| archive)
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

// Reading an archive back: `read` and its steps, in the order it takes
// them. Until the manifest names the pack, refusals name the archive by
// its source; afterwards by `name@version (source)`.

/// What a signature covers, read before anything else of an archive: the
/// manifest and the `digests` index, with the `signature` entry if any.
#[derive(Debug)]
pub(crate) struct Head {
    /// The manifest, parsed and validated.
    pub(crate) manifest: Manifest,
    /// Its exact bytes.
    pub(crate) manifest_bytes: Vec<u8>,
    /// The exact bytes of `digests`.
    pub(crate) digests_bytes: Vec<u8>,
    /// `digests`, parsed.
    pub(crate) index: DigestIndex,
    /// The `signature` entry, when the archive has one.
    pub(crate) signature: Option<Vec<u8>>,
    /// `name@version (source)`, as refusals name the pack.
    pub(crate) label: String,
}

/// Reads an archive as a stream. Its head (manifest, `digests`,
/// `signature`, at most a few MiB whatever the archive claims) is read
/// and checked first and handed to `gate` (`trust::verify` checks the
/// signature there); only when the gate passes is the payload inflated,
/// each entry checked against `digests` as it is read. A signature that
/// does not match is explained: the rest is read without being kept, so a
/// changed file is named as such.
pub(crate) fn read<G>(
    bytes: &[u8],
    source: &str,
    gate: impl FnOnce(&Head) -> Result<G, PackError>,
) -> Result<(PackArchive, G), PackError> {
    let mut reader = Reader::new(bytes, source)?;
    let (head, first) = read_head(&mut reader, source)?;
    let gated = match gate(&head) {
        Ok(gated) => gated,
        Err(e @ PackError::BadSignature { .. }) => {
            let mut seen = Entries::new();
            read_payload(&mut reader, &head, first, &mut seen, false)?;
            reader.finish()?;
            check_listed_present(&seen, &head)?;
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let mut entries = Entries::new();
    read_payload(&mut reader, &head, first, &mut entries, true)?;
    reader.finish()?;
    check_listed_present(&entries, &head)?;
    let Head {
        manifest,
        manifest_bytes,
        digests_bytes,
        signature,
        label,
        ..
    } = head;
    entries.insert(MANIFEST_FILE.to_string(), manifest_bytes);
    entries.insert(DIGESTS_FILE.to_string(), digests_bytes);
    if let Some(signature) = signature {
        entries.insert(SIGNATURE_FILE.to_string(), signature);
    }
    check_plugins(&entries, &manifest, &label)?;
    let archive = PackArchive {
        source: source.to_string(),
        manifest,
        entries,
        digest: Digest::of(bytes),
    };
    Ok((archive, gated))
}

/// Read step 1: the manifest, then `digests`, each within its limit and
/// in its place; `digests` parses canonically and lists the manifest with
/// its digest; the manifest parses. Then the `signature` entry, if the
/// next entry is one. Returns the head and the first payload entry's header.
fn read_head(reader: &mut Reader, source: &str) -> Result<(Head, Option<RawEntry>), PackError> {
    let manifest_bytes = head_entry(reader, source, MANIFEST_FILE, MAX_MANIFEST_BYTES)?;
    let digests_bytes = head_entry(reader, source, DIGESTS_FILE, MAX_DIGESTS_BYTES)?;
    let index =
        DigestIndex::parse(&digests_bytes).map_err(|e| tampered(source, DIGESTS_FILE, e))?;
    let label = pack_label(&manifest_bytes, source);
    check_listed(MANIFEST_FILE, Digest::of(&manifest_bytes), &index, &label)?;
    let manifest = read_manifest(&manifest_bytes, source)?;
    let mut next = reader.next_entry()?;
    let mut signature = None;
    if let Some(entry) = next.as_ref().filter(|e| e.path == SIGNATURE_FILE) {
        if entry.size > MAX_SIGNATURE_BYTES {
            return Err(tampered(
                &label,
                SIGNATURE_FILE,
                format!(
                    "it is {} bytes; a signature entry has at most {MAX_SIGNATURE_BYTES}",
                    entry.size
                ),
            ));
        }
        signature = Some(reader.read_data(entry, true)?.1);
        next = reader.next_entry()?;
    }
    let head = Head {
        manifest,
        manifest_bytes,
        digests_bytes,
        index,
        signature,
        label,
    };
    Ok((head, next))
}

/// The next entry, which must be `name` and at most `limit` bytes: its bytes.
fn head_entry(
    reader: &mut Reader,
    source: &str,
    name: &str,
    limit: u64,
) -> Result<Vec<u8>, PackError> {
    let Some(entry) = reader.next_entry()? else {
        return Err(not_an_archive(source, format!("it has no `{name}` entry")));
    };
    if entry.path != name {
        return Err(tampered(
            source,
            "(tar stream)",
            format!(
                "`{}` comes where `{name}` must be (a pack archive starts with {MANIFEST_FILE}, then {DIGESTS_FILE}, then {SIGNATURE_FILE} if signed)",
                entry.path
            ),
        ));
    }
    if entry.size > limit {
        return Err(not_an_archive(
            source,
            format!(
                "`{name}` is {} bytes, over its limit of {limit}",
                entry.size
            ),
        ));
    }
    Ok(reader.read_data(&entry, true)?.1)
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

/// The manifest inside the archive, parsed and validated.
fn read_manifest(manifest_bytes: &[u8], source: &str) -> Result<Manifest, PackError> {
    let file = format!("{source}: {MANIFEST_FILE}");
    let text = std::str::from_utf8(manifest_bytes).map_err(|_| PackError::Manifest {
        file: file.clone(),
        message: "the manifest is not UTF-8 text".into(),
    })?;
    Manifest::parse(text, &file)
}

/// `path` is listed in `digests`, with the digest its bytes have.
fn check_listed(
    path: &str,
    actual: Digest,
    index: &DigestIndex,
    pack: &str,
) -> Result<(), PackError> {
    match index.get(path) {
        None => Err(tampered(
            pack,
            path,
            format!("the file is in the archive but not listed in `{DIGESTS_FILE}`"),
        )),
        Some(listed) if *listed != actual => Err(tampered(
            pack,
            path,
            format!("`{DIGESTS_FILE}` lists {listed}, but the file has {actual}"),
        )),
        Some(_) => Ok(()),
    }
}

/// Read step 2: the payload, entry by entry from `next`, into `entries`
/// (with `keep` false only their paths are kept: the bytes are hashed and
/// dropped). Each header is checked before its bytes are read: in byte
/// order after the previous one, listed in `digests`, declared by the
/// manifest, within [`MAX_ENTRIES`] and [`MAX_UNPACKED_BYTES`]; then the
/// bytes against their digest.
fn read_payload(
    reader: &mut Reader,
    head: &Head,
    mut next: Option<RawEntry>,
    entries: &mut Entries,
    keep: bool,
) -> Result<(), PackError> {
    let declared: Vec<glob::Pattern> = head
        .manifest
        .data
        .globs()
        .filter_map(|g| glob::Pattern::new(g).ok())
        .collect();
    let mut unpacked = (head.manifest_bytes.len() + head.digests_bytes.len()) as u64;
    let mut last: Option<String> = None;
    while let Some(entry) = next {
        check_payload_header(&entry, last.as_deref(), entries.len(), head, &declared)?;
        unpacked += entry.size;
        if unpacked > MAX_UNPACKED_BYTES {
            return Err(not_an_archive(
                &head.label,
                format!(
                    "it unpacks to more than {} MiB, the limit",
                    MAX_UNPACKED_BYTES >> 20
                ),
            ));
        }
        let (digest, bytes) = reader.read_data(&entry, keep)?;
        check_listed(&entry.path, digest, &head.index, &head.label)?;
        entries.insert(entry.path.clone(), bytes);
        last = Some(entry.path);
        next = reader.next_entry()?;
    }
    Ok(())
}

/// A payload entry's header, before any of its bytes is read.
fn check_payload_header(
    entry: &RawEntry,
    last: Option<&str>,
    count: usize,
    head: &Head,
    declared: &[glob::Pattern],
) -> Result<(), PackError> {
    let (pack, path) = (head.label.as_str(), entry.path.as_str());
    if RESERVED.contains(&path) {
        return Err(tampered(
            pack,
            path,
            "the archive holds this reserved entry a second time, or out of its place".into(),
        ));
    }
    match last {
        Some(last) if last == path => {
            let reason = "the archive holds two entries with this path".into();
            return Err(tampered(pack, path, reason));
        }
        Some(last) if last > path => {
            let reason = format!(
                "the entry comes after `{last}`: the entries are not in canonical (byte) order"
            );
            return Err(tampered(pack, path, reason));
        }
        _ => {}
    }
    if count >= MAX_ENTRIES {
        let reason = format!("it has more than {MAX_ENTRIES} entries");
        return Err(not_an_archive(pack, reason));
    }
    if head.index.get(path).is_none() {
        let reason = format!("the file is in the archive but not listed in `{DIGESTS_FILE}`");
        return Err(tampered(pack, path, reason));
    }
    let is_plugin = head.manifest.plugins.iter().any(|p| p.path == path);
    if !is_plugin && !declared.iter().any(|p| glob_matches(p, path)) {
        let reason =
            "the file is not declared by the manifest (neither a plugin nor matched by [data])";
        return Err(tampered(pack, path, reason.into()));
    }
    Ok(())
}

/// Read step 3: the index lists nothing the archive does not hold (nor
/// `digests` or `signature` themselves).
fn check_listed_present(entries: &Entries, head: &Head) -> Result<(), PackError> {
    for (path, _) in head.index.iter() {
        let held = entries.contains_key(path) || path == MANIFEST_FILE;
        if !held || path == SIGNATURE_FILE || path == DIGESTS_FILE {
            return Err(tampered(
                &head.label,
                path,
                format!("`{DIGESTS_FILE}` lists the file, but the archive does not hold it"),
            ));
        }
    }
    Ok(())
}

/// Read step 4: every declared plugin is in the archive with its declared
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

    /// `tar` compressed as `build` compresses.
    fn gzip(tar: &[u8]) -> Vec<u8> {
        let mut gz = GzBuilder::new()
            .mtime(0)
            .operating_system(255)
            .write(Vec::new(), Compression::new(6));
        std::io::Write::write_all(&mut gz, tar).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn a_layout_difference_is_blamed_on_its_entry() {
        let mut manifest = starter_manifest("demo");
        manifest = manifest.replace("policies = []", "policies = [\"policies/*.yaml\"]");
        let mut entries = Entries::new();
        entries.insert(MANIFEST_FILE.into(), manifest.into_bytes());
        entries.insert("policies/a.yaml".into(), b"a: 1\n".to_vec());
        let index = DigestIndex::from_files(&entries);
        entries.insert(DIGESTS_FILE.into(), index.render().into_bytes());
        let mut tar = encode_tar(&entries).unwrap();
        assert!(PackArchive::from_bytes(&gzip(&tar), "t").is_ok());
        let start = tar
            .windows(15)
            .rposition(|w| w == b"policies/a.yaml")
            .unwrap();
        tar[start + 100] ^= 1; // the mode field of the last header
        let err = refusal(&gzip(&tar));
        assert!(
            matches!(&err, PackError::Tampered { file, .. } if file == "policies/a.yaml"),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains(&format!("at byte {}", start + 100)),
            "{err}"
        );
    }

    #[test]
    fn the_gate_sees_the_head_before_any_payload_byte_is_read() {
        let mut manifest = starter_manifest("demo");
        manifest = manifest.replace("policies = []", "policies = [\"policies/*.yaml\"]");
        let mut entries = Entries::new();
        entries.insert(MANIFEST_FILE.into(), manifest.into_bytes());
        entries.insert("policies/a.yaml".into(), vec![b'a'; 4096]);
        let index = DigestIndex::from_files(&entries);
        entries.insert(DIGESTS_FILE.into(), index.render().into_bytes());
        let mut tar = encode_tar(&entries).unwrap();
        let len = tar.len();
        tar[len - 1024 - 100] = b'b'; // the payload's last bytes, then the trailer
        let refused = read(&gzip(&tar), "t", |head| {
            assert_eq!(head.label, "demo@0.1.0 (t)");
            assert!(head.signature.is_none());
            Err::<(), _>(PackError::Unsigned {
                pack: head.label.clone(),
                file: SIGNATURE_FILE.into(),
            })
        });
        assert!(matches!(refused, Err(PackError::Unsigned { .. })));
        let err = refusal(&gzip(&tar));
        assert!(
            matches!(&err, PackError::Tampered { file, .. } if file == "policies/a.yaml"),
            "{err}"
        );
    }

    #[test]
    fn build_refuses_symlinks_it_would_pack() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        let manifest =
            starter_manifest("demo").replace("policies = []", "policies = [\"policies/*.yaml\"]");
        std::fs::write(dir.path().join(MANIFEST_FILE), manifest).unwrap();
        std::fs::create_dir(dir.path().join("policies")).unwrap();
        std::fs::write(dir.path().join("policies/ok.yaml"), "a: 1\n").unwrap();
        #[cfg(unix)]
        {
            let link = dir.path().join("policies/leak.yaml");
            std::os::unix::fs::symlink(outside.path().join("secret"), &link).unwrap();
            let err = build(dir.path()).unwrap_err().to_string();
            assert!(
                err.contains("`policies/leak.yaml` is a symbolic link"),
                "{err}"
            );
            std::fs::remove_file(&link).unwrap();
            // A link no glob matches is left alone.
            std::os::unix::fs::symlink(outside.path(), dir.path().join("elsewhere")).unwrap();
            assert!(build(dir.path()).is_ok());
        }
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
