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

fn rule() -> Rule {
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
