//! Unit tests of the store: finding lifecycle across scans of a scope,
//! collection errors that keep a failing finding open, a scan that never
//! commits, and migrations.

use super::*;
use crate::model::{
    Asset, CollectionError, Finding, Remediation, Rule, Severity, Status, fingerprint,
};

const SCOPE: &str = "aws:111111111111:eu-west-1";

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("stance.db")).unwrap();
    (dir, store)
}

fn asset(id: &str) -> Asset {
    Asset {
        id: id.into(),
        resource_type: "aws_s3_bucket".into(),
        provider: "aws".into(),
        account: "111111111111".into(),
        region: "eu-west-1".into(),
        name: id.rsplit(':').next().unwrap_or(id).into(),
        tags: Vec::new(),
        collected_at: "2026-12-01T00:00:00Z".into(),
        body: "{}".into(),
        gaps: Vec::new(),
    }
}

pub(super) fn rule() -> Rule {
    Rule {
        id: "r1".into(),
        title: "buckets are versioned".into(),
        description: String::new(),
        severity: Severity::High,
        resource_types: vec!["aws_s3_bucket".into()],
        compliance: Vec::new(),
        remediation: Remediation::default(),
        tags: Vec::new(),
        reads: Vec::new(),
    }
}

fn finding(asset_id: &str, status: Status) -> Finding {
    Finding {
        fingerprint: fingerprint("r1", asset_id),
        rule_id: "r1".into(),
        plugin: "p".into(),
        plugin_version: "1".into(),
        asset_id: asset_id.into(),
        resource_type: "aws_s3_bucket".into(),
        account: "111111111111".into(),
        region: "eu-west-1".into(),
        severity: Severity::High,
        status,
        message: format!("{asset_id} is {status}"),
        evidence: Vec::new(),
    }
}

/// One committed scan of `SCOPE` with these results (and collection errors).
fn scan(
    store: &mut Store,
    results: &[(&str, Status)],
    errors: &[CollectionError],
) -> (i64, ScanTotals) {
    let mut w = store
        .begin_scan(ScanMeta {
            started_at: "2026-12-01T00:00:00Z".into(),
            source: "test".into(),
            provider: "aws".into(),
            scope: SCOPE.into(),
        })
        .unwrap();
    let assets: Vec<Asset> = results.iter().map(|(id, _)| asset(id)).collect();
    w.add_assets(&assets).unwrap();
    w.add_rules("p", "1", "digest", &[rule()]).unwrap();
    w.add_collection_errors(errors).unwrap();
    let findings: Vec<Finding> = results.iter().map(|(id, s)| finding(id, *s)).collect();
    w.add_findings(&findings).unwrap();
    w.commit("2026-12-01T00:01:00Z").unwrap()
}

fn lifecycle(store: &Store, scan_id: i64, asset_id: &str) -> Option<String> {
    store
        .findings(&FindingFilter {
            scan: Some(scan_id),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .find(|f| f.resource.id == asset_id)
        .and_then(|f| f.lifecycle)
}

const A: &str = "arn:aws:s3:::a";
const B: &str = "arn:aws:s3:::b";

#[test]
fn a_failure_is_new_then_recurring_then_resolved_then_reopened() {
    let (_dir, mut store) = open();
    let (s1, t1) = scan(&mut store, &[(A, Status::Fail), (B, Status::Pass)], &[]);
    assert_eq!(lifecycle(&store, s1, A).as_deref(), Some("new"));
    assert_eq!(
        lifecycle(&store, s1, B),
        None,
        "a pass that never failed has no lifecycle"
    );
    assert_eq!(t1.by_lifecycle.get("new"), Some(&1));

    let (s2, _) = scan(&mut store, &[(A, Status::Fail), (B, Status::Pass)], &[]);
    assert_eq!(lifecycle(&store, s2, A).as_deref(), Some("recurring"));

    let (s3, t3) = scan(&mut store, &[(A, Status::Pass), (B, Status::Pass)], &[]);
    assert_eq!(lifecycle(&store, s3, A).as_deref(), Some("resolved"));
    assert_eq!(t3.by_lifecycle.get("resolved"), Some(&1));

    let (s4, _) = scan(&mut store, &[(A, Status::Fail), (B, Status::Pass)], &[]);
    assert_eq!(lifecycle(&store, s4, A).as_deref(), Some("reopened"));
}

#[test]
fn an_error_leaves_the_state_as_it_was() {
    let (_dir, mut store) = open();
    scan(&mut store, &[(A, Status::Fail)], &[]);
    scan(&mut store, &[(A, Status::Error)], &[]);
    let (s3, _) = scan(&mut store, &[(A, Status::Fail)], &[]);
    assert_eq!(
        lifecycle(&store, s3, A).as_deref(),
        Some("recurring"),
        "an unknown verdict in between neither resolves nor reopens"
    );
}

#[test]
fn a_vanished_failure_is_resolved_unless_its_type_was_not_collected() {
    let (_dir, mut store) = open();
    scan(&mut store, &[(A, Status::Fail), (B, Status::Fail)], &[]);
    // B's type could not be collected in its account and region this time:
    // its absence says nothing; A is simply gone.
    let not_collected = CollectionError {
        provider: "aws".into(),
        account: "111111111111".into(),
        region: "eu-west-1".into(),
        service: "s3".into(),
        operation: "ListBuckets".into(),
        kind: "access-denied".into(),
        message: "denied".into(),
        resource_types: vec!["aws_s3_bucket".into()],
    };
    let (_, t2) = scan(&mut store, &[], &[not_collected]);
    assert_eq!(t2.by_lifecycle.get("resolved").copied().unwrap_or(0), 0);
    let (_, t3) = scan(&mut store, &[(B, Status::Fail)], &[]);
    assert_eq!(
        t3.by_lifecycle.get("resolved"),
        Some(&1),
        "A is resolved once S3 is read again"
    );
    assert_eq!(t3.by_lifecycle.get("recurring"), Some(&1));
}

#[test]
fn a_scan_that_never_commits_leaves_no_trace() {
    let (_dir, mut store) = open();
    let (s1, _) = scan(&mut store, &[(A, Status::Fail)], &[]);
    {
        let mut w = store
            .begin_scan(ScanMeta {
                started_at: "2026-12-02T00:00:00Z".into(),
                source: "test".into(),
                provider: "aws".into(),
                scope: SCOPE.into(),
            })
            .unwrap();
        w.add_assets(&[asset(B)]).unwrap();
        w.add_findings(&[finding(B, Status::Fail)]).unwrap();
        // Dropped without commit: a killed scan.
    }
    assert_eq!(store.latest_scan_id().unwrap(), Some(s1));
    assert_eq!(store.scans(10).unwrap().len(), 1);
}

#[test]
fn migrations_bring_a_new_database_to_the_latest_schema_once() {
    let (dir, store) = open();
    let version = store.schema_version().unwrap();
    assert!(version >= 4, "schema {version}");
    drop(store);
    let again = Store::open(&dir.path().join("stance.db")).unwrap();
    assert_eq!(
        again.schema_version().unwrap(),
        version,
        "reopening migrates nothing"
    );
}

#[test]
fn a_database_from_a_newer_stance_is_refused_untouched() {
    let (dir, store) = open();
    let version = store.schema_version().unwrap();
    store
        .conn
        .pragma_update(None, "user_version", version + 1)
        .unwrap();
    drop(store);
    let err = Store::open(&dir.path().join("stance.db"))
        .err()
        .expect("a newer schema is refused");
    let text = err.to_string();
    assert!(
        text.contains(&format!("schema version {}", version + 1))
            && text.contains("Upgrade Stance"),
        "{text}"
    );
    let conn = rusqlite::Connection::open(dir.path().join("stance.db")).unwrap();
    let kept: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(kept, version + 1, "the database is left as it was");
}

/// SHA-256 of a file, to prove it was not touched.
fn checksum(path: &std::path::Path) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// Another application's SQLite file: its own tables, its own user_version
/// and application_id, rollback journal.
fn foreign(dir: &std::path::Path, name: &str, application_id: i64, user_version: i64) -> PathBuf {
    let path = dir.join(name);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA application_id = {application_id}; PRAGMA user_version = {user_version};
         CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
         INSERT INTO notes (body) VALUES ('keep me');"
    ))
    .unwrap();
    path
}

#[test]
fn a_foreign_database_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    for (name, app, version) in [
        ("plain.db", 0, 0),
        ("versioned.db", 0, 2),
        ("other-app.db", 0x0f05_5112, 1),
        ("other-app-newer.db", 0x0f05_5112, 99),
    ] {
        let path = foreign(dir.path(), name, app, version);
        let before = checksum(&path);
        for read_only in [false, true] {
            let err = if read_only {
                Store::open_read_only(&path).err()
            } else {
                Store::open(&path).err()
            }
            .unwrap_or_else(|| panic!("{name} was taken for a Stance database"));
            let text = err.to_string();
            assert!(
                text.contains("not a Stance database") && text.contains("left untouched"),
                "{name}: {text}"
            );
            assert!(!text.contains("CREATE TABLE"), "{name}: {text}");
            assert_eq!(checksum(&path), before, "{name} was changed");
            assert!(
                !dir.path().join(format!("{name}-wal")).exists(),
                "{name} was switched to WAL"
            );
        }
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "delete", "{name}");
    }
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "these are my notes, not a database\n".repeat(200)).unwrap();
    let before = checksum(&path);
    let err = Store::open(&path).err().expect("a text file is refused");
    assert!(err.to_string().contains("not a Stance database"), "{err}");
    assert_eq!(checksum(&path), before);
}

#[test]
fn new_databases_carry_the_stance_application_id_and_older_ones_get_it() {
    let (dir, store) = open();
    let id: i64 = store
        .conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .unwrap();
    assert_eq!(id, APPLICATION_ID);
    // A database of an older Stance: the schema, no application id.
    store.conn.pragma_update(None, "application_id", 0).unwrap();
    drop(store);
    let store = Store::open(&dir.path().join("stance.db")).unwrap();
    let id: i64 = store
        .conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .unwrap();
    assert_eq!(id, APPLICATION_ID, "an older Stance database is adopted");
}

#[test]
fn read_only_opening_changes_nothing_and_reads() {
    let (dir, mut store) = open();
    scan(&mut store, &[("a", Status::Fail)], &[]);
    drop(store);
    let path = dir.path().join("stance.db");
    let before = checksum(&path);
    let ro = Store::open_read_only(&path).unwrap();
    assert_eq!(ro.scans(10).unwrap().len(), 1);
    assert_eq!(ro.findings(&FindingFilter::default()).unwrap().len(), 1);
    drop(ro);
    assert_eq!(checksum(&path), before);
    // No database yet: an empty one, and no file created.
    let missing = dir.path().join("none/stance.db");
    let ro = Store::open_read_only(&missing).unwrap();
    assert!(ro.scans(10).unwrap().is_empty());
    assert_eq!(ro.path(), missing);
    assert!(!missing.exists() && !missing.parent().unwrap().exists());
}

#[test]
fn findings_stream_in_the_order_they_are_listed() {
    let (_dir, mut store) = open();
    scan(
        &mut store,
        &[
            ("a", Status::Fail),
            ("b", Status::Pass),
            ("c", Status::Fail),
        ],
        &[],
    );
    let filter = FindingFilter::default();
    let listed: Vec<String> = store
        .findings(&filter)
        .unwrap()
        .into_iter()
        .map(|f| f.fingerprint)
        .collect();
    let mut streamed = Vec::new();
    store
        .for_each_finding(&filter, |f| {
            streamed.push(f.fingerprint);
            Ok::<(), StoreError>(())
        })
        .unwrap();
    assert_eq!(streamed, listed);
    assert_eq!(streamed.len(), 3);
}
