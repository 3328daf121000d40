//! Building archives: determinism (twice, across mtimes, modes and creation
//! order), the canonical layout, the digests index and build refusals.

mod common;

use std::time::{Duration, SystemTime};

use common::*;
use stance_pack::{
    Digest, DigestIndex, MANIFEST_FILE, Manifest, PackArchive, PackError, build, init,
};

#[test]
fn building_twice_gives_identical_bytes() {
    let dir = pack_dir("demo", "1.0.0", "");
    let a = build(dir.path()).unwrap();
    let b = build(dir.path()).unwrap();
    assert_eq!(a, b);
}

#[test]
fn bytes_do_not_depend_on_mtimes_or_modes() {
    let dir = pack_dir("demo", "1.0.0", "");
    let before = build(dir.path()).unwrap();
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    for path in [
        "plugins/check.wasm",
        "policies/top.yaml",
        "rules/cloudtrail.yml",
        MANIFEST_FILE,
    ] {
        let f = std::fs::File::options()
            .write(true)
            .open(dir.path().join(path))
            .unwrap();
        f.set_modified(old).unwrap();
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.path().join("plugins/check.wasm"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
    }
    assert_eq!(before, build(dir.path()).unwrap());
}

#[test]
fn bytes_do_not_depend_on_directory_order() {
    let text = manifest("demo", "1.0.0", "");
    let files = fixture_files(&text);
    let forward = tempfile::tempdir().unwrap();
    let backward = tempfile::tempdir().unwrap();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    write_files(forward.path(), &refs);
    let reversed: Vec<(&str, &[u8])> = refs.iter().rev().cloned().collect();
    write_files(backward.path(), &reversed);
    assert_eq!(
        build(forward.path()).unwrap(),
        build(backward.path()).unwrap()
    );
}

#[test]
fn archive_layout_is_canonical() {
    let dir = pack_dir("demo", "1.0.0", "");
    let archive = build(dir.path()).unwrap();
    assert_eq!(&archive[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
    let names: Vec<String> = entries(&archive).into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        names,
        [
            "stance-pack.toml",
            "digests",
            "plugins/check.wasm",
            "policies/iam/root.yaml",
            "policies/s3/public.yaml",
            "policies/top.yaml",
            "rules/cloudtrail.yml",
        ]
    );
    let tar = untar(&archive);
    let mut a = tar::Archive::new(tar.as_slice());
    for e in a.entries().unwrap() {
        let e = e.unwrap();
        let h = e.header();
        assert_eq!(h.mtime().unwrap(), 0);
        assert_eq!(h.mode().unwrap(), 0o644);
        assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0));
        assert_eq!(h.entry_type(), tar::EntryType::Regular);
    }
}

#[test]
fn digests_index_lists_every_file_in_sha256sum_format() {
    let dir = pack_dir("demo", "1.0.0", "");
    let archive = build(dir.path()).unwrap();
    let all = as_map(&entries(&archive));
    let text = String::from_utf8(all["digests"].clone()).unwrap();
    let index = DigestIndex::parse(text.as_bytes()).unwrap();
    let listed: Vec<&String> = index.iter().map(|(p, _)| p).collect();
    let expected: Vec<&String> = all.keys().filter(|p| p.as_str() != "digests").collect();
    assert_eq!(listed, expected);
    for (path, digest) in index.iter() {
        assert_eq!(*digest, Digest::of(&all[path]));
    }
    let first = text.lines().next().unwrap();
    assert_eq!(
        first,
        format!("{}  plugins/check.wasm", Digest::of(PLUGIN).hex())
    );
}

#[test]
fn long_paths_round_trip_deterministically() {
    let long = format!("policies/{}/{}.yaml", "d".repeat(90), "f".repeat(120));
    let dir = pack_dir("demo", "1.0.0", "");
    write_files(dir.path(), &[(long.as_str(), b"id: long\n")]);
    let a = build(dir.path()).unwrap();
    assert_eq!(a, build(dir.path()).unwrap());
    let pack = PackArchive::from_bytes(&a, "long.tar.gz").unwrap();
    assert_eq!(pack.entries()[&long], b"id: long\n");
}

#[test]
fn build_refuses_a_plugin_whose_digest_differs() {
    let dir = pack_dir("demo", "1.0.0", "");
    std::fs::write(dir.path().join("plugins/check.wasm"), b"rebuilt").unwrap();
    let err = build(dir.path()).unwrap_err().to_string();
    assert!(err.contains("plugin `check`"), "{err}");
    assert!(err.contains(&Digest::of(b"rebuilt").to_string()), "{err}");
}

#[test]
fn build_refuses_a_plugin_without_digest_and_names_the_right_one() {
    let dir = pack_dir("demo", "1.0.0", "");
    let text = manifest("demo", "1.0.0", "")
        .replace(&format!("digest = \"{}\"\n", Digest::of(PLUGIN)), "");
    std::fs::write(dir.path().join(MANIFEST_FILE), text).unwrap();
    let err = build(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains(&format!("digest = \"{}\"", Digest::of(PLUGIN))),
        "{err}"
    );
}

#[test]
fn build_refuses_missing_plugin_and_empty_glob() {
    let dir = pack_dir("demo", "1.0.0", "");
    std::fs::remove_file(dir.path().join("plugins/check.wasm")).unwrap();
    let err = build(dir.path()).unwrap_err().to_string();
    assert!(err.contains("plugins/check.wasm"), "{err}");

    let dir = pack_dir("demo", "1.0.0", "");
    std::fs::remove_dir_all(dir.path().join("rules")).unwrap();
    let err = build(dir.path()).unwrap_err().to_string();
    assert!(err.contains("`rules/*.yml` matches no file"), "{err}");
}

#[test]
fn manifest_errors_name_file_and_field() {
    let dir = pack_dir("demo", "1.0.0", "");
    let path = dir.path().join(MANIFEST_FILE);
    let cases = [
        (
            manifest("demo", "1.0.0", "colour = \"red\""),
            "unknown field `colour`",
        ),
        (manifest("Demo Pack", "1.0.0", ""), "field `pack.name`"),
        (manifest("demo", "1.0", ""), "write MAJOR.MINOR.PATCH"),
        (
            manifest("demo", "1.0.0", "").replace("stance:plugin@0.1.0", "stance-plugin-0.1"),
            "stance:plugin@0.1.0",
        ),
        (
            manifest("demo", "1.0.0", "").replace("world = \"policy\"", "world = \"scanner\""),
            "scanner",
        ),
        (
            manifest("demo", "1.0.0", "").replace("plugins/check.wasm", "../check.wasm"),
            "field `plugin[0].path`",
        ),
        (
            manifest("demo", "1.0.0", "[dependencies]\nbase = \"not a range\""),
            "dependency `base`",
        ),
    ];
    for (text, expected) in cases {
        std::fs::write(&path, &text).unwrap();
        let err = build(dir.path()).unwrap_err();
        assert!(matches!(err, PackError::Manifest { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("stance-pack.toml"), "{msg}");
        assert!(msg.contains(expected), "expected `{expected}` in: {msg}");
    }
}

#[test]
fn init_writes_a_manifest_that_builds() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("my-pack");
    let path = init(&dir, "my-pack").unwrap();
    let m = Manifest::load(&dir).unwrap();
    assert_eq!(m.pack.name, "my-pack");
    assert_eq!(m.pack.version.to_string(), "0.1.0");
    assert!(m.plugins.is_empty());
    let archive = build(&dir).unwrap();
    let pack = PackArchive::from_bytes(&archive, "x").unwrap();
    assert_eq!(pack.manifest().id(), "my-pack@0.1.0");
    // Refuses to overwrite; refuses bad names.
    assert!(
        init(&dir, "my-pack")
            .unwrap_err()
            .to_string()
            .contains("already exists")
    );
    assert!(init(root.path(), "Bad_Name").is_err());
    assert!(path.ends_with(MANIFEST_FILE));
}

#[test]
fn plugin_settings_become_json() {
    let dir = pack_dir("demo", "1.0.0", "");
    let m = Manifest::load(dir.path()).unwrap();
    assert_eq!(
        m.plugins[0].settings_json(),
        serde_json::json!({"strict": true})
    );
}

/// The archive of a fixed input, pinned: if this changes, the compressor or
/// tar writer changed and archives built by earlier Stance versions would be
/// refused as non-canonical. Keep the old encoding readable before updating.
#[test]
fn encoding_is_stable_across_releases() {
    let dir = pack_dir("golden", "1.0.0", "");
    let archive = build(dir.path()).unwrap();
    assert_eq!(
        Digest::of(&archive).to_string(),
        "sha256:17349c9e019ebca33c0da803f6d258e8681a55f1ff15b7678eb6b206cd21b1dc"
    );
}
