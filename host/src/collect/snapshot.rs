//! Reading saved snapshots (JSON, NDJSON, optionally gzipped) into assets,
//! as specified in `docs/snapshot-format.md`. Every error names the file and
//! the place in it (a field path with its line, or a line number).
//!
//! Reading is bounded (`intake`): gzip is decompressed as a stream capped at
//! `--max-decompressed-gib`; a JSON document is walked by the `intake::json`
//! scanner, so whitespace is never held and each asset is held to
//! `--max-record-mib` before it is parsed; NDJSON lines are held to
//! `--max-line-mib`. A snapshot is one document: anything wrong in it
//! refuses the whole file (a scan of part of it would mark the findings of
//! the assets left out as resolved), with the place and the flag to change.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::value::RawValue;

use crate::intake::json::{
    BEGIN_ARRAY, BEGIN_OBJECT, END_ARRAY, END_OBJECT, JsonError, JsonStream, Pos, Scanned,
};
use crate::intake::lines::{Line, line_within, read_line};
use crate::intake::{self, InputLimits, LimitError};
use crate::model::{Asset, CollectionError, Gap, ImportedFinding};
/// The collection types live in the model crate; they are read and written here.
pub use stance_model::{Scope, Snapshot};

/// The snapshot format version this build reads and writes (`stance_snapshot` in the header).
pub const SNAPSHOT_VERSION: u32 = 1;

/// The longest key of a snapshot document.
const KEY_MAX: usize = 64 << 10;

/// Why a snapshot could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The file could not be opened, read or decompressed.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The snapshot file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The content does not follow `docs/snapshot-format.md`.
    #[error("{file}: {place}: {message}")]
    Invalid {
        /// The snapshot file.
        file: PathBuf,
        /// Where in it: a field path with its line (JSON), or `line N` (NDJSON).
        place: String,
        /// What is wrong there.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    stance_snapshot: u32,
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    collected_at: Option<String>,
    #[serde(default)]
    scope: Option<Scope>,
    #[serde(default)]
    collection_errors: Vec<CollectionError>,
    #[serde(default)]
    imported_findings: Vec<ImportedFinding>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssetDoc {
    id: String,
    resource_type: String,
    #[serde(default)]
    provider: Option<String>,
    account: String,
    region: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    collected_at: Option<String>,
    body: Box<RawValue>,
    #[serde(default)]
    gaps: Vec<Gap>,
}

struct Defaults {
    provider: String,
    collected_at: Option<String>,
}

/// Read a snapshot file with the default limits.
pub fn read(path: &Path) -> Result<Snapshot, SnapshotError> {
    read_with(path, &InputLimits::default())
}

/// Read a snapshot file held to `limits`; gzip is detected by its magic
/// bytes, NDJSON by its first line (a whole object without `assets`).
pub fn read_with(path: &Path, limits: &InputLimits) -> Result<Snapshot, SnapshotError> {
    let io = |source| SnapshotError::Io {
        file: path.to_path_buf(),
        source,
    };
    let open = || -> Result<intake::Stream<'static>, SnapshotError> {
        let file = File::open(path).map_err(io)?;
        intake::open(Box::new(file), limits).map_err(io)
    };
    let mut stream = open()?;
    if let Some(first) = line_within(&mut *stream.reader, limits.line_bytes).map_err(io)?
        && is_ndjson_head(&first)
    {
        return read_ndjson(path, first, &mut *stream.reader, limits);
    }
    // A JSON document: read again from its start.
    drop(stream);
    let mut stream = open()?;
    read_document(path, &mut *stream.reader, limits)
}

/// Whether the first line of a file is a whole JSON object without `assets`.
fn is_ndjson_head(line: &[u8]) -> bool {
    serde_json::from_slice::<HashMap<String, IgnoredAny>>(line)
        .is_ok_and(|obj| !obj.contains_key("assets"))
}

fn invalid(file: &Path, place: impl Into<String>, message: impl Into<String>) -> SnapshotError {
    SnapshotError::Invalid {
        file: file.to_path_buf(),
        place: place.into(),
        message: message.into(),
    }
}

/// Parse the text of a JSON snapshot; `path` names it in errors.
pub fn read_json(path: &Path, text: &str) -> Result<Snapshot, SnapshotError> {
    let mut reader = text.as_bytes();
    read_document(path, &mut reader, &InputLimits::default())
}

/// The fields of a JSON snapshot document, as they are met.
#[derive(Default)]
struct Fields {
    version: Option<u32>,
    provider: Option<String>,
    collected_at: Option<String>,
    scope: Option<Scope>,
    errors: Vec<CollectionError>,
    findings: Vec<ImportedFinding>,
    assets: Option<Vec<(String, AssetDoc)>>,
    seen: HashSet<String>,
}

/// A JSON snapshot document, walked field by field; the arrays element by
/// element, each element held to the record limit.
fn read_document(
    path: &Path,
    r: &mut dyn BufRead,
    limits: &InputLimits,
) -> Result<Snapshot, SnapshotError> {
    let mut s = JsonStream::new(r);
    let fields = document_fields(path, &mut s, limits).map_err(|e| json_error(path, e))??;
    let end = s.position();
    let Some(version) = fields.version else {
        return Err(invalid(
            path,
            format!("line {}", end.line),
            "missing field `stance_snapshot`",
        ));
    };
    check_version(path, "stance_snapshot", version)?;
    let Some(docs) = fields.assets else {
        return Err(invalid(
            path,
            format!("line {}", end.line),
            "missing field `assets`",
        ));
    };
    let defaults = Defaults {
        provider: fields.provider.unwrap_or_else(|| "aws".to_string()),
        collected_at: fields.collected_at,
    };
    if let Some(t) = &defaults.collected_at {
        check_time(path, "collected_at", t)?;
    }
    let mut seen = HashSet::with_capacity(docs.len());
    let mut assets = Vec::with_capacity(docs.len());
    for (place, a) in docs {
        let asset = to_asset(path, &place, a, &defaults)?;
        if !seen.insert(asset.id.clone()) {
            return Err(invalid(
                path,
                format!("{place}.id"),
                format!("duplicate asset id {:?}", asset.id),
            ));
        }
        assets.push(asset);
    }
    Ok(finish(
        defaults,
        fields.scope,
        assets,
        fields.errors,
        fields.findings,
    ))
}

/// A broken structure or an unreadable stream, as a snapshot error.
fn json_error(path: &Path, e: JsonError) -> SnapshotError {
    match e {
        JsonError::Io(source) => SnapshotError::Io {
            file: path.to_path_buf(),
            source,
        },
        JsonError::Syntax { at, message } => invalid(
            path,
            format!("line {}", at.line),
            format!("{message} (column {})", at.column),
        ),
    }
}

/// Walk the document's object: each field parsed (or its array streamed).
/// The outer result is the structure's, the inner the content's.
fn document_fields(
    path: &Path,
    s: &mut JsonStream<'_>,
    limits: &InputLimits,
) -> Result<Result<Fields, SnapshotError>, JsonError> {
    let mut fields = Fields::default();
    s.expect(BEGIN_OBJECT, "a JSON object (a snapshot document)")?;
    if s.peek()? == Some(END_OBJECT) {
        s.bump();
    } else {
        loop {
            let at = s.position();
            let key = s.key(&mut Vec::new(), KEY_MAX)?;
            s.expect(b':', "`:`")?;
            if let Err(e) = fields.field(path, s, limits, &key, at)? {
                return Ok(Err(e));
            }
            match s.peek()? {
                Some(b',') => s.bump(),
                Some(END_OBJECT) => {
                    s.bump();
                    break;
                }
                Some(b) => {
                    return Err(s.error(format!("expected `,` or `}}`, found `{}`", b as char)));
                }
                None => return Err(s.error("the input ends inside the snapshot")),
            }
        }
    }
    if let Some(b) = s.peek()? {
        return Err(s.error(format!(
            "trailing characters after the snapshot: `{}`",
            b as char
        )));
    }
    Ok(Ok(fields))
}

impl Fields {
    /// One field of the document: its value read and kept.
    fn field(
        &mut self,
        path: &Path,
        s: &mut JsonStream<'_>,
        limits: &InputLimits,
        key: &str,
        at: Pos,
    ) -> Result<Result<(), SnapshotError>, JsonError> {
        let place = format!("{key} (line {})", at.line);
        if !self.seen.insert(key.to_string()) {
            return Ok(Err(invalid(
                path,
                place,
                format!("duplicate field `{key}`"),
            )));
        }
        let done = match key {
            "assets" => elements::<AssetDoc>(path, s, limits, key)?.map(|docs| {
                self.assets = Some(docs);
            }),
            "collection_errors" => elements(path, s, limits, key)?
                .map(|e| self.errors = e.into_iter().map(|(_, v)| v).collect()),
            "imported_findings" => elements(path, s, limits, key)?
                .map(|f| self.findings = f.into_iter().map(|(_, v)| v).collect()),
            "stance_snapshot" => one(path, s, limits, key)?.map(|v| self.version = Some(v)),
            "provider" => one(path, s, limits, key)?.map(|v| self.provider = v),
            "collected_at" => one(path, s, limits, key)?.map(|v| self.collected_at = v),
            "scope" => one(path, s, limits, key)?.map(|v| self.scope = v),
            _ => Err(invalid(
                path,
                place,
                format!(
                    "unknown field `{key}`, expected one of `stance_snapshot`, `provider`, `collected_at`, `scope`, `collection_errors`, `imported_findings`, `assets`"
                ),
            )),
        };
        Ok(done)
    }
}

/// Parse one value of the stream, held to the record limit; `name` is its
/// place in errors.
fn one<T: DeserializeOwned>(
    path: &Path,
    s: &mut JsonStream<'_>,
    limits: &InputLimits,
    name: &str,
) -> Result<Result<T, SnapshotError>, JsonError> {
    let mut buf = Vec::new();
    let scanned = s.value(&mut buf, limits.record_bytes)?;
    Ok(parse_scanned(path, name, &buf, scanned, limits))
}

/// The elements of an array field, each parsed on its own and held to the
/// record limit, with their places (`assets[3]`).
fn elements<T: DeserializeOwned>(
    path: &Path,
    s: &mut JsonStream<'_>,
    limits: &InputLimits,
    name: &str,
) -> Result<Result<Vec<(String, T)>, SnapshotError>, JsonError> {
    let mut out = Vec::new();
    s.expect(BEGIN_ARRAY, &format!("`{name}` to be an array"))?;
    if s.peek()? == Some(END_ARRAY) {
        s.bump();
        return Ok(Ok(out));
    }
    let mut buf = Vec::new();
    loop {
        let place = format!("{name}[{}]", out.len());
        buf.clear();
        let scanned = s.value(&mut buf, limits.record_bytes)?;
        match parse_scanned(path, &place, &buf, scanned, limits) {
            Ok(v) => out.push((place, v)),
            Err(e) => return Ok(Err(e)),
        }
        match s.peek()? {
            Some(b',') => s.bump(),
            Some(END_ARRAY) => {
                s.bump();
                return Ok(Ok(out));
            }
            Some(b) => return Err(s.error(format!("expected `,` or `]`, found `{}`", b as char))),
            None => return Err(s.error(format!("the input ends inside `{name}`"))),
        }
    }
}

/// Parse a scanned value: refused past the size limit, else deserialized
/// with the field path and line of any error.
fn parse_scanned<T: DeserializeOwned>(
    path: &Path,
    place: &str,
    buf: &[u8],
    scanned: Scanned,
    limits: &InputLimits,
) -> Result<T, SnapshotError> {
    let line = scanned.start.line;
    if !scanned.kept {
        let limit = LimitError::Record {
            bytes: scanned.bytes,
            limit: limits.record_bytes as u64,
        };
        return Err(invalid(
            path,
            format!("{place} (line {line})"),
            limit.to_string(),
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(buf);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let at = line + e.inner().line().saturating_sub(1) as u64;
        let place = match e.path().to_string().as_str() {
            "." => format!("{place} (line {at})"),
            p => format!("{place}.{p} (line {at})"),
        };
        invalid(path, place, strip_position(&e.inner().to_string()))
    })
}

fn read_ndjson(
    path: &Path,
    first: Vec<u8>,
    reader: &mut dyn BufRead,
    limits: &InputLimits,
) -> Result<Snapshot, SnapshotError> {
    let mut defaults = Defaults {
        provider: "aws".to_string(),
        collected_at: None,
    };
    let mut scope = None;
    let mut errors = Vec::new();
    let mut findings = Vec::new();
    let mut seen = HashSet::new();
    let mut assets = Vec::new();
    let mut raw = first;
    let mut n = 1u64;
    loop {
        let place = format!("line {n}");
        let line =
            std::str::from_utf8(&raw).map_err(|_| invalid(path, &place, "not UTF-8 text"))?;
        if n == 1 && line.contains("\"stance_snapshot\"") {
            let header: Header = parse_line(path, &place, line)?;
            check_version(path, &place, header.stance_snapshot)?;
            if let Some(t) = &header.collected_at {
                check_time(path, &place, t)?;
            }
            defaults.provider = header.provider.unwrap_or(defaults.provider);
            defaults.collected_at = header.collected_at;
            scope = header.scope;
            errors = header.collection_errors;
            findings = header.imported_findings;
        } else if !line.trim().is_empty() {
            if let Err(limit) = limits.check_record(line.len() as u64, 0) {
                return Err(invalid(path, place, limit.to_string()));
            }
            let doc: AssetDoc = parse_line(path, &place, line)?;
            let asset = to_asset(path, &place, doc, &defaults)?;
            if !seen.insert(asset.id.clone()) {
                return Err(invalid(
                    path,
                    place,
                    format!("duplicate asset id {:?}", asset.id),
                ));
            }
            assets.push(asset);
        }
        n += 1;
        match read_line(reader, &mut raw, limits.line_bytes) {
            Ok(Line::Complete) => {}
            Ok(Line::End) => break,
            Ok(Line::TooLong { bytes }) => {
                let limit = LimitError::Line {
                    bytes,
                    limit: limits.line_bytes as u64,
                };
                return Err(invalid(path, format!("line {n}"), limit.to_string()));
            }
            Err(source) => {
                return Err(SnapshotError::Io {
                    file: path.to_path_buf(),
                    source,
                });
            }
        }
    }
    Ok(finish(defaults, scope, assets, errors, findings))
}

fn parse_line<T: serde::de::DeserializeOwned>(
    path: &Path,
    place: &str,
    line: &str,
) -> Result<T, SnapshotError> {
    let de = &mut serde_json::Deserializer::from_str(line);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let place = if field == "." {
            place.to_string()
        } else {
            format!("{place}, {field}")
        };
        invalid(path, place, strip_position(&e.inner().to_string()))
    })
}

/// serde_json appends " at line L column C"; the place already says where.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn check_version(path: &Path, place: &str, version: u32) -> Result<(), SnapshotError> {
    if version == SNAPSHOT_VERSION {
        Ok(())
    } else {
        Err(invalid(
            path,
            place,
            format!(
                "snapshot format version {version} is not supported; this Stance reads version {SNAPSHOT_VERSION}"
            ),
        ))
    }
}

fn check_time(path: &Path, place: &str, t: &str) -> Result<(), SnapshotError> {
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|_| ())
        .map_err(|_| {
            invalid(
                path,
                place,
                format!("{t:?} is not an RFC 3339 time such as 2026-11-20T09:30:00Z"),
            )
        })
}

fn to_asset(path: &Path, place: &str, a: AssetDoc, d: &Defaults) -> Result<Asset, SnapshotError> {
    for (field, value) in [
        ("id", &a.id),
        ("resource_type", &a.resource_type),
        ("account", &a.account),
        ("region", &a.region),
    ] {
        if value.trim().is_empty() {
            return Err(invalid(
                path,
                format!("{place}.{field}"),
                "must not be empty",
            ));
        }
    }
    if !a.body.get().trim_start().starts_with('{') {
        return Err(invalid(
            path,
            format!("{place}.body"),
            "must be a JSON object",
        ));
    }
    let collected_at = match a.collected_at.or_else(|| d.collected_at.clone()) {
        Some(t) => {
            check_time(path, &format!("{place}.collected_at"), &t)?;
            t
        }
        None => {
            return Err(invalid(
                path,
                format!("{place}.collected_at"),
                "missing; give the asset or the snapshot a collected_at time",
            ));
        }
    };
    let name = a.name.unwrap_or_else(|| default_name(&a.id));
    Ok(Asset {
        provider: a.provider.unwrap_or_else(|| d.provider.clone()),
        name,
        tags: a.tags.into_iter().collect(),
        collected_at,
        body: compact(a.body.get()),
        id: a.id,
        resource_type: a.resource_type,
        account: a.account,
        region: a.region,
        gaps: a.gaps,
    })
}

/// A body as compact JSON text, whatever the layout of the file it came
/// from, so a pretty-printed snapshot stores the same bodies (and body
/// hashes) as the collection it was written from.
fn compact(raw: &str) -> String {
    if !raw.contains('\n') {
        return raw.to_string();
    }
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(v) => v.to_string(),
        Err(_) => raw.to_string(),
    }
}

/// Write a snapshot: NDJSON when the file name ends in `.ndjson` (or
/// `.ndjson.gz`), JSON otherwise; gzip when it ends in `.gz`. The file is
/// written beside its destination and renamed into place, so a reader never
/// sees half a snapshot.
pub fn write(path: &Path, snapshot: &Snapshot) -> std::io::Result<()> {
    use std::io::Write;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let gzip = name.ends_with(".gz");
    let ndjson = name.trim_end_matches(".gz").ends_with(".ndjson");
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = tempfile::NamedTempFile::new_in(dir)?;
    {
        let file = std::io::BufWriter::new(tmp.as_file());
        let mut out: Box<dyn Write> = if gzip {
            Box::new(flate2::write::GzEncoder::new(
                file,
                flate2::Compression::default(),
            ))
        } else {
            Box::new(file)
        };
        let header = serde_json::json!({
            "stance_snapshot": SNAPSHOT_VERSION,
            "provider": snapshot.provider,
            "collected_at": snapshot.collected_at,
            "scope": snapshot.scope,
            "collection_errors": snapshot.errors,
            "imported_findings": snapshot.findings,
        });
        let asset_json = |a: &Asset| -> std::io::Result<serde_json::Value> {
            let tags: serde_json::Map<String, serde_json::Value> = a
                .tags
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            let mut v = serde_json::json!({
                "id": a.id,
                "resource_type": a.resource_type,
                "provider": a.provider,
                "account": a.account,
                "region": a.region,
                "name": a.name,
                "tags": tags,
                "collected_at": a.collected_at,
                "body": serde_json::from_str::<serde_json::Value>(&a.body).map_err(std::io::Error::other)?,
            });
            if !a.gaps.is_empty() {
                v["gaps"] = serde_json::to_value(&a.gaps).map_err(std::io::Error::other)?;
            }
            Ok(v)
        };
        if ndjson {
            serde_json::to_writer(&mut out, &header)?;
            out.write_all(b"\n")?;
            for a in &snapshot.assets {
                serde_json::to_writer(&mut out, &asset_json(a)?)?;
                out.write_all(b"\n")?;
            }
        } else {
            let mut doc = header;
            doc["assets"] = serde_json::Value::Array(
                snapshot
                    .assets
                    .iter()
                    .map(asset_json)
                    .collect::<std::io::Result<_>>()?,
            );
            serde_json::to_writer_pretty(&mut out, &doc)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The last segment of an ARN or path-like id.
pub fn default_name(id: &str) -> String {
    id.rsplit([':', '/']).next().unwrap_or(id).to_string()
}

fn finish(
    defaults: Defaults,
    scope: Option<Scope>,
    assets: Vec<Asset>,
    errors: Vec<CollectionError>,
    findings: Vec<ImportedFinding>,
) -> Snapshot {
    let scope = scope.unwrap_or_else(|| Scope {
        accounts: assets
            .iter()
            .map(|a| a.account.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        regions: assets
            .iter()
            .map(|a| a.region.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
    });
    Snapshot {
        provider: defaults.provider,
        collected_at: defaults.collected_at,
        scope,
        assets,
        errors,
        findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    const ASSET: &str = r#"{"id":"arn:aws:s3:::b","resource_type":"aws_s3_bucket","account":"1","region":"us-east-1","body":{"name":"b"}}"#;

    #[test]
    fn reads_json_with_defaults() {
        let f = write(&format!(
            r#"{{"stance_snapshot":1,"collected_at":"2026-11-20T09:30:00Z","assets":[{ASSET}]}}"#
        ));
        let s = read(f.path()).unwrap();
        assert_eq!(s.assets.len(), 1);
        let a = &s.assets[0];
        assert_eq!((a.name.as_str(), a.provider.as_str()), ("b", "aws"));
        assert_eq!(a.collected_at, "2026-11-20T09:30:00Z");
        assert_eq!(a.body, r#"{"name":"b"}"#);
        assert_eq!(s.scope.key("aws"), "aws:1:us-east-1");
    }

    #[test]
    fn reads_ndjson_with_header() {
        let f = write(&format!(
            "{{\"stance_snapshot\":1,\"collected_at\":\"2026-11-20T09:30:00Z\"}}\n{ASSET}\n\n"
        ));
        assert_eq!(read(f.path()).unwrap().assets.len(), 1);
    }

    #[test]
    fn written_snapshots_read_back() {
        let f = write(&format!(
            r#"{{"stance_snapshot":1,"collected_at":"2026-11-20T09:30:00Z","collection_errors":[{{"provider":"aws","account":"1","region":"us-east-1","service":"ec2","operation":"DescribeInstances","kind":"access-denied","message":"denied","resource_types":["aws_ec2_instance"]}}],"assets":[{ASSET}]}}"#
        ));
        let s = read(f.path()).unwrap();
        assert_eq!(s.errors.len(), 1);
        let dir = tempfile::tempdir().unwrap();
        for name in ["s.json", "s.ndjson", "s.json.gz", "s.ndjson.gz"] {
            let path = dir.path().join(name);
            super::write(&path, &s).unwrap();
            let back = read(&path).unwrap();
            assert_eq!(back.assets, s.assets, "{name}");
            assert_eq!(back.errors, s.errors, "{name}");
            assert_eq!(back.scope, s.scope, "{name}");
        }
    }

    #[test]
    fn reads_gzip() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(
            format!(r#"{{"stance_snapshot":1,"collected_at":"2026-11-20T09:30:00Z","assets":[{ASSET}]}}"#)
                .as_bytes(),
        )
        .unwrap();
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&gz.finish().unwrap()).unwrap();
        assert_eq!(read(f.path()).unwrap().assets.len(), 1);
    }

    #[test]
    fn errors_name_the_field_path() {
        let bad = ASSET.replace("\"body\"", "\"bdy\"");
        let f = write(&format!(
            r#"{{"stance_snapshot":1,"collected_at":"2026-11-20T09:30:00Z","assets":[{ASSET},{bad}]}}"#
        ));
        let e = read(f.path()).unwrap_err().to_string();
        assert!(
            e.contains("assets[1].bdy") || e.contains("assets[1]"),
            "{e}"
        );
        assert!(e.contains("unknown field `bdy`"), "{e}");

        let f = write(&format!(
            r#"{{"stance_snapshot":1,"collected_at":"2026-11-20T09:30:00Z","assets":[{ASSET},{ASSET}]}}"#
        ));
        let e = read(f.path()).unwrap_err().to_string();
        assert!(e.contains("assets[1].id: duplicate asset id"), "{e}");

        let f = write(&format!("{ASSET}\n{{\"id\":\"x\"}}\n"));
        let e = read(f.path()).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("collected_at"), "{e}");

        let f = write(r#"{"stance_snapshot":2,"assets":[]}"#);
        let e = read(f.path()).unwrap_err().to_string();
        assert!(e.contains("version 2 is not supported"), "{e}");
    }
}
