//! Fixtures shared by the integration tests: a pack directory with a plugin,
//! policies, rules and an undeclared file, and helpers around archives.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use stance_pack::{Digest, HostVersions, PublicKey, VerifyOptions};

pub const PLUGIN: &[u8] = b"\0asm\x0d\0\x01\0 pretend component bytes";

/// Writes `files` (path, contents) in the given order.
pub fn write_files(dir: &Path, files: &[(&str, &[u8])]) {
    for (path, bytes) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
}

pub fn manifest(name: &str, version: &str, extra: &str) -> String {
    format!(
        r#"[pack]
name = "{name}"
version = "{version}"
description = "test pack"
authors = ["Tester <t@example.com>"]
license = "Apache-2.0"
wit = "stance:plugin@0.1.0"
min-stance-version = "0.1.0"

[[plugin]]
name = "check"
path = "plugins/check.wasm"
world = "policy"
digest = "{digest}"
[plugin.settings]
strict = true

[data]
policies = ["policies/**/*.yaml"]
rules = ["rules/*.yml"]
{extra}
"#,
        digest = Digest::of(PLUGIN)
    )
}

/// The files of the fixture pack, in creation order.
pub fn fixture_files(manifest_text: &str) -> Vec<(String, Vec<u8>)> {
    vec![
        ("stance-pack.toml".into(), manifest_text.as_bytes().to_vec()),
        ("plugins/check.wasm".into(), PLUGIN.to_vec()),
        (
            "policies/s3/public.yaml".into(),
            b"id: s3-public\n".to_vec(),
        ),
        ("policies/iam/root.yaml".into(), b"id: iam-root\n".to_vec()),
        ("policies/top.yaml".into(), b"id: top\n".to_vec()),
        ("rules/cloudtrail.yml".into(), b"title: ct\n".to_vec()),
        ("notes.txt".into(), b"not declared, not packed\n".to_vec()),
        (".hidden/policies/x.yaml".into(), b"hidden\n".to_vec()),
    ]
}

/// A fixture pack directory.
pub fn pack_dir(name: &str, version: &str, extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let files = fixture_files(&manifest(name, version, extra));
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    write_files(dir.path(), &refs);
    dir
}

pub fn host() -> HostVersions {
    HostVersions {
        wit: "stance:plugin@0.1.0".parse().unwrap(),
        stance: "0.1.0".parse().unwrap(),
    }
}

pub fn options(keys: Vec<PublicKey>) -> VerifyOptions {
    VerifyOptions {
        trusted_keys: keys,
        allow_unsigned: false,
        host: host(),
    }
}

/// The decompressed tar stream of an archive.
pub fn untar(archive: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(archive)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// (path, contents) of every entry, in archive order.
pub fn entries(archive: &[u8]) -> Vec<(String, Vec<u8>)> {
    let tar = untar(archive);
    let mut a = tar::Archive::new(tar.as_slice());
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let path = e.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (path, data)
        })
        .collect()
}

/// A well-formed tar.gz of `entries` in the given order, written as an
/// attacker would (valid headers and checksums, but not necessarily
/// Stance's canonical layout).
pub fn repack(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in entries {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_username("").unwrap();
        h.set_groupname("").unwrap();
        b.append_data(&mut h, path, data.as_slice()).unwrap();
    }
    let tar = b.into_inner().unwrap();
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), flate2::Compression::new(6));
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    gz.finish().unwrap()
}

pub fn as_map(entries: &[(String, Vec<u8>)]) -> BTreeMap<String, Vec<u8>> {
    entries.iter().cloned().collect()
}
