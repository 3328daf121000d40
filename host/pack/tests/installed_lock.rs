//! The directory of installed packs (side-by-side versions, install/list/remove/load) and the
//! lock file with its resolver (ranges, pins, updates, conflicts).

mod common;

use std::collections::BTreeMap;

use common::*;
use semver::{Version, VersionReq};
use stance_pack::{
    Digest, Installed, Lock, LockChange, MemoryIndex, PackDir, PackError, PackSpec, build, lock,
    resolve, update, verify,
};

fn unsigned_options() -> stance_pack::VerifyOptions {
    let mut o = options(vec![]);
    o.allow_unsigned = true;
    o
}

fn verified(name: &str, version: &str, extra: &str) -> stance_pack::VerifiedPack {
    let dir = pack_dir(name, version, extra);
    let archive = build(dir.path()).unwrap();
    verify(
        &archive,
        &format!("{name}-{version}.tar.gz"),
        &unsigned_options(),
    )
    .unwrap()
}

fn v(s: &str) -> Version {
    s.parse().unwrap()
}

fn spec(s: &str) -> PackSpec {
    s.parse().unwrap()
}

#[test]
fn versions_install_side_by_side_and_resolve() {
    let root = tempfile::tempdir().unwrap();
    let store = PackDir::new(root.path().join("packs"));
    assert!(store.list().unwrap().is_empty());
    for version in ["1.0.0", "1.2.0", "2.0.0"] {
        let pack = verified("demo", version, "");
        let installed = store.install(&pack).unwrap();
        assert!(matches!(installed, Installed::New(_)));
        assert!(
            root.path()
                .join(format!("packs/demo/{version}/pack.tar.gz"))
                .is_file()
        );
        // Installing the same archive again changes nothing.
        assert!(matches!(
            store.install(&pack).unwrap(),
            Installed::AlreadyPresent(_)
        ));
    }
    let listed: Vec<String> = store
        .list()
        .unwrap()
        .iter()
        .map(|p| p.version.to_string())
        .collect();
    assert_eq!(listed, ["1.0.0", "1.2.0", "2.0.0"]);
    assert_eq!(store.resolve(&spec("demo@^1")).unwrap().version, v("1.2.0"));
    assert_eq!(store.resolve(&spec("demo")).unwrap().version, v("2.0.0"));
    assert_eq!(
        store.resolve(&spec("demo@=1.0.0")).unwrap().version,
        v("1.0.0")
    );
    let err = store.resolve(&spec("demo@^3")).unwrap_err().to_string();
    assert!(
        err.contains("no installed version of `demo` matches `^3`")
            && err.contains("1.0.0, 1.2.0, 2.0.0"),
        "{err}"
    );
    assert!(
        store
            .resolve(&spec("other"))
            .unwrap_err()
            .to_string()
            .contains("not installed")
    );

    // Loading verifies again.
    let pack = store
        .load("demo", &v("1.2.0"), &unsigned_options())
        .unwrap();
    assert_eq!(pack.version(), &v("1.2.0"));
    let err = store
        .load("demo", &v("1.2.0"), &options(vec![]))
        .unwrap_err();
    assert!(matches!(err, PackError::Unsigned { .. }), "{err}");

    // A different archive under an installed version is refused.
    let changed = verified("demo", "1.2.0", "[dependencies]\nbase = \"^1\"");
    let err = store.install(&changed).unwrap_err().to_string();
    assert!(
        err.contains("already installed with a different archive"),
        "{err}"
    );

    // Remove one version, then all.
    assert_eq!(
        store.remove("demo", Some(&v("1.0.0"))).unwrap(),
        [v("1.0.0")]
    );
    assert_eq!(store.versions("demo").unwrap(), [v("1.2.0"), v("2.0.0")]);
    assert!(store.remove("demo", Some(&v("1.0.0"))).is_err());
    assert_eq!(
        store.remove("demo", None).unwrap(),
        [v("1.2.0"), v("2.0.0")]
    );
    assert!(store.list().unwrap().is_empty());
    assert!(store.remove("demo", None).is_err());
}

#[test]
fn a_store_archive_changed_on_disk_is_refused_on_load() {
    let root = tempfile::tempdir().unwrap();
    let store = PackDir::new(root.path());
    let a = verified("demo", "1.0.0", "");
    store.install(&a).unwrap();
    // Replace the stored archive with another valid pack of the same version.
    let b = verified("demo", "1.0.0", "[dependencies]\nbase = \"^1\"");
    std::fs::write(
        root.path().join("demo/1.0.0/pack.tar.gz"),
        b.archive_bytes(),
    )
    .unwrap();
    let err = store
        .load("demo", &v("1.0.0"), &unsigned_options())
        .unwrap_err();
    assert!(matches!(err, PackError::Tampered { .. }), "{err}");
}

#[test]
fn specs_parse_and_print() {
    assert_eq!(spec("aws-cis").req, VersionReq::STAR);
    assert_eq!(spec("aws-cis@^1.2").to_string(), "aws-cis@^1.2");
    assert_eq!(
        spec("aws-cis@1.2.0").req,
        VersionReq::parse("^1.2.0").unwrap()
    );
    assert!(
        "aws-cis@banana"
            .parse::<PackSpec>()
            .unwrap_err()
            .to_string()
            .contains("not a semver range")
    );
    assert!("Bad Name".parse::<PackSpec>().is_err());
}

/// (name, version, [(dependency, range)])
type Row<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

fn index(entries: &[Row]) -> MemoryIndex {
    let mut idx = MemoryIndex::new();
    for (name, version, deps) in entries {
        let deps: BTreeMap<String, VersionReq> = deps
            .iter()
            .map(|(n, r)| (n.to_string(), VersionReq::parse(r).unwrap()))
            .collect();
        idx.add(
            name,
            v(version),
            Digest::of(format!("{name}{version}").as_bytes()),
            deps,
        );
    }
    idx
}

#[test]
fn resolve_picks_newest_within_ranges_including_dependencies() {
    let idx = index(&[
        ("cis", "1.0.0", &[("base", "^1.0")]),
        ("cis", "1.3.0", &[("base", "^1.2")]),
        ("cis", "2.0.0", &[("base", "^2")]),
        ("base", "1.1.0", &[]),
        ("base", "1.2.5", &[]),
        ("base", "2.0.0", &[]),
    ]);
    let lock = resolve(&[spec("cis@^1")], &idx, None).unwrap();
    let got: Vec<(String, String)> = lock
        .packs
        .iter()
        .map(|p| (p.name.clone(), p.version.to_string()))
        .collect();
    assert_eq!(
        got,
        [
            ("base".into(), "1.2.5".into()),
            ("cis".into(), "1.3.0".into())
        ]
    );
    assert_eq!(lock.get("cis").unwrap().dependencies, ["base"]);
    assert_eq!(lock.get("base").unwrap().digest, Digest::of(b"base1.2.5"));
    assert_eq!(lock.requires, ["cis@^1"]);
}

#[test]
fn resolve_backtracks_to_an_older_version() {
    // The newest cis needs base ^2, but the project pins base to ^1.
    let idx = index(&[
        ("cis", "1.0.0", &[("base", "^1")]),
        ("cis", "1.1.0", &[("base", "^2")]),
        ("base", "1.0.0", &[]),
        ("base", "2.0.0", &[]),
    ]);
    let lock = resolve(&[spec("base@^1"), spec("cis")], &idx, None).unwrap();
    assert_eq!(lock.get("cis").unwrap().version, v("1.0.0"));
    assert_eq!(lock.get("base").unwrap().version, v("1.0.0"));
}

#[test]
fn conflicts_are_reported_clearly() {
    let idx = index(&[
        ("cis", "1.0.0", &[("base", "^1")]),
        ("gcp", "1.0.0", &[("base", "^2")]),
        ("base", "1.0.0", &[]),
        ("base", "2.0.0", &[]),
    ]);
    let err = resolve(&[spec("cis"), spec("gcp")], &idx, None).unwrap_err();
    assert!(matches!(err, PackError::Resolve(_)));
    let msg = err.to_string();
    assert!(msg.contains("base"), "{msg}");
    assert!(
        msg.contains("cis 1.0.0 requires base ^1") || msg.contains("gcp 1.0.0 requires base ^2"),
        "{msg}"
    );

    let err = resolve(&[spec("missing@^1")], &idx, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`missing` is not available")
            && err.contains("the project requires missing ^1"),
        "{err}"
    );

    let err = resolve(&[spec("base@^3")], &idx, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no version of `base` satisfies") && err.contains("available: 1.0.0, 2.0.0"),
        "{err}"
    );
}

#[test]
fn lock_keeps_pins_and_update_moves_them() {
    let mut idx = index(&[("cis", "1.0.0", &[]), ("base", "1.0.0", &[])]);
    let first = resolve(&[spec("cis@^1"), spec("base@^1")], &idx, None).unwrap();
    // Newer versions appear.
    for (name, version) in [("cis", "1.4.0"), ("base", "1.1.0")] {
        idx.add(
            name,
            v(version),
            Digest::of(format!("{name}{version}").as_bytes()),
            BTreeMap::new(),
        );
    }
    // Resolving with the lock keeps the pins.
    let kept = resolve(&[spec("cis@^1"), spec("base@^1")], &idx, Some(&first)).unwrap();
    assert_eq!(kept, first);
    // Updating one pack moves only that one.
    let (one, changes) = update(
        &[spec("cis@^1"), spec("base@^1")],
        &idx,
        Some(&first),
        &["cis".to_string()],
    )
    .unwrap();
    assert_eq!(one.get("cis").unwrap().version, v("1.4.0"));
    assert_eq!(one.get("base").unwrap().version, v("1.0.0"));
    assert_eq!(
        changes,
        [LockChange::Changed {
            name: "cis".into(),
            from: v("1.0.0"),
            to: v("1.4.0")
        }]
    );
    assert_eq!(changes[0].to_string(), "upgrade cis 1.0.0 -> 1.4.0");
    // Updating everything moves both.
    let (all, changes) =
        update(&[spec("cis@^1"), spec("base@^1")], &idx, Some(&first), &[]).unwrap();
    assert_eq!(all.get("base").unwrap().version, v("1.1.0"));
    assert_eq!(changes.len(), 2);
    // A pin whose range no longer matches moves too.
    let moved = resolve(&[spec("cis@^1.2"), spec("base@^1")], &idx, Some(&first)).unwrap();
    assert_eq!(moved.get("cis").unwrap().version, v("1.4.0"));
    // Dropping a requirement removes the pack.
    let (fewer, changes) = update(&[spec("cis@^1")], &idx, Some(&all), &[]).unwrap();
    assert!(fewer.get("base").is_none());
    assert_eq!(
        changes,
        [LockChange::Removed {
            name: "base".into(),
            version: v("1.1.0")
        }]
    );
}

#[test]
fn a_pinned_version_whose_digest_changed_is_refused() {
    let idx = index(&[("cis", "1.0.0", &[])]);
    let mut pinned = resolve(&[spec("cis")], &idx, None).unwrap();
    pinned.packs[0].digest = Digest::of(b"something else");
    let err = resolve(&[spec("cis")], &idx, Some(&pinned))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("pins cis 1.0.0") && err.contains("immutable"),
        "{err}"
    );
    let err = pinned
        .check(&idx, std::path::Path::new("stance.lock"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("stance.lock") && err.contains("pins cis 1.0.0"),
        "{err}"
    );
}

#[test]
fn lock_file_round_trips_and_rejects_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(lock::LOCK_FILE);
    assert_eq!(Lock::read(&path).unwrap(), None);
    let idx = index(&[("cis", "1.0.0", &[("base", "^1")]), ("base", "1.0.0", &[])]);
    let l = resolve(&[spec("cis@^1")], &idx, None).unwrap();
    l.write(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# stance.lock"));
    assert!(
        text.contains("[[pack]]\nname = \"base\"\nversion = \"1.0.0\"\ndigest = \"sha256:"),
        "{text}"
    );
    assert_eq!(Lock::read(&path).unwrap().unwrap(), l);
    assert_eq!(l.requirements().unwrap(), [spec("cis@^1")]);
    l.check(&idx, &path).unwrap();

    std::fs::write(&path, "version = 2\n").unwrap();
    assert!(
        Lock::read(&path)
            .unwrap_err()
            .to_string()
            .contains("version 2 is not supported")
    );
    std::fs::write(&path, "version = 1\nsurprise = true\n").unwrap();
    let err = Lock::read(&path).unwrap_err().to_string();
    assert!(
        err.contains("stance.lock") && err.contains("surprise"),
        "{err}"
    );
}

#[test]
fn the_store_is_an_index_for_the_resolver() {
    let root = tempfile::tempdir().unwrap();
    let store = PackDir::new(root.path());
    for (name, version, extra) in [
        ("base", "1.0.0", ""),
        ("base", "1.5.0", ""),
        ("base", "2.0.0", ""),
        ("cis", "1.0.0", "[dependencies]\nbase = \"^1.1\""),
    ] {
        store.install(&verified(name, version, extra)).unwrap();
    }
    let l = resolve(&[spec("cis")], &store, None).unwrap();
    assert_eq!(l.get("base").unwrap().version, v("1.5.0"));
    assert_eq!(
        l.get("base").unwrap().digest,
        store.resolve(&spec("base@=1.5.0")).unwrap().archive_digest
    );
    l.check(&store, std::path::Path::new("stance.lock"))
        .unwrap();
    store.remove("base", Some(&v("1.5.0"))).unwrap();
    let err = l
        .check(&store, std::path::Path::new("stance.lock"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not installed"), "{err}");
}
