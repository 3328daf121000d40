//! Unit tests of the compact layout (`layout`): a pass that shows nothing
//! of its own is three integers and reads back whole; lifecycle across
//! compact and whole passes; asset versions shared by scans; a prune that
//! leaves nothing unreferenced; and a database of the wide layout (schema
//! version 5) that migrates in place and answers exactly as before.

use std::collections::BTreeMap;

use super::tests::rule;
use super::writer::severity_rank;
use super::*;
use crate::model::{Asset, Evidence, Finding, Severity, Status, fingerprint};

const SCOPE: &str = "aws:111111111111:eu-west-1";

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("stance.db")).unwrap();
    (dir, store)
}

fn asset(id: &str, marker: &str) -> Asset {
    Asset {
        id: id.into(),
        resource_type: "aws_s3_bucket".into(),
        provider: "aws".into(),
        account: "111111111111".into(),
        region: "eu-west-1".into(),
        name: format!("name-{id}"),
        tags: vec![("team".into(), "data".into())],
        collected_at: "2026-12-01T00:00:00Z".into(),
        body: format!("{{\"bucket\":\"{id}\",\"m\":\"{marker}\"}}"),
        gaps: Vec::new(),
    }
}

/// A result as the built-in engine reports it: a pass says nothing, a
/// failure says why.
fn finding(asset_id: &str, status: Status) -> Finding {
    let failing = status != Status::Pass;
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
        message: if failing {
            format!("{asset_id} is not versioned")
        } else {
            String::new()
        },
        evidence: if failing {
            vec![Evidence {
                path: "versioning.status".into(),
                actual: "Suspended".into(),
                expected: "Enabled".into(),
            }]
        } else {
            Vec::new()
        },
    }
}

/// A committed scan with these results; every asset listed is stored.
fn scan(store: &mut Store, results: &[(&str, Status)], marker: &str) -> (i64, ScanTotals) {
    let mut w = store
        .begin_scan(ScanMeta {
            started_at: "2026-12-01T00:00:00Z".into(),
            source: "test".into(),
            provider: "aws".into(),
            scope: SCOPE.into(),
        })
        .unwrap();
    let assets: Vec<Asset> = results.iter().map(|(id, _)| asset(id, marker)).collect();
    w.add_assets(&assets).unwrap();
    w.add_rules("p", "1", "digest", &[rule()]).unwrap();
    let findings: Vec<Finding> = results.iter().map(|(id, s)| finding(id, *s)).collect();
    w.add_findings(&findings).unwrap();
    w.commit("2026-12-01T00:01:00Z").unwrap()
}

fn count(store: &Store, sql: &str) -> i64 {
    store.conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn all(store: &Store, scan: i64) -> Vec<FindingRow> {
    store
        .findings(&FindingFilter {
            scan: Some(scan),
            ..Default::default()
        })
        .unwrap()
}

fn by_asset(store: &Store, scan: i64) -> BTreeMap<String, FindingRow> {
    all(store, scan)
        .into_iter()
        .map(|f| (f.resource.id.clone(), f))
        .collect()
}

#[test]
fn a_pass_that_never_failed_is_three_integers_and_reads_back_whole() {
    let (_dir, mut store) = open();
    let (s1, totals) = scan(
        &mut store,
        &[
            ("a", Status::Pass),
            ("b", Status::Fail),
            ("c", Status::Pass),
        ],
        "x",
    );
    assert_eq!(count(&store, "SELECT count(*) FROM passes"), 2);
    assert_eq!(count(&store, "SELECT count(*) FROM results"), 1);
    assert_eq!(
        count(
            &store,
            &format!("SELECT count(*) FROM findings WHERE scan_id = {s1}")
        ),
        3,
        "the findings view shows every result"
    );
    assert_eq!(totals.by_status.get("pass"), Some(&2));
    assert_eq!(totals.findings, 3);
    let rows = by_asset(&store, s1);
    let a = &rows["a"];
    assert_eq!(a.fingerprint, fingerprint("r1", "a"));
    assert_eq!((a.status, a.severity), (Status::Pass, Severity::High));
    assert_eq!((a.plugin.as_str(), a.plugin_version.as_str()), ("p", "1"));
    assert_eq!(a.title, "buckets are versioned");
    assert_eq!(a.resource.name, "name-a");
    assert_eq!(a.resource.resource_type, "aws_s3_bucket");
    assert_eq!(
        (a.resource.account.as_str(), a.resource.region.as_str()),
        ("111111111111", "eu-west-1")
    );
    assert_eq!((a.message.as_str(), a.evidence.len()), ("", 0));
    assert_eq!(
        (
            a.lifecycle.clone(),
            a.first_seen.clone(),
            a.last_seen.clone()
        ),
        (None, None, None)
    );
    assert_eq!(rows["b"].evidence.len(), 1);
    assert_eq!(
        count(&store, "SELECT count(*) FROM finding_state"),
        1,
        "a pass that never failed needs no lifecycle memory"
    );
    let passing = store
        .findings(&FindingFilter {
            scan: Some(s1),
            statuses: vec![Status::Pass],
            min_severity: Some(Severity::High),
            resource_type: Some("aws_s3*".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(passing.len(), 2, "filters apply to compact passes");
}

#[test]
fn lifecycle_runs_through_compact_and_whole_passes() {
    let (_dir, mut store) = open();
    let (s1, _) = scan(&mut store, &[("a", Status::Pass), ("b", Status::Pass)], "x");
    let (s2, t2) = scan(&mut store, &[("a", Status::Fail), ("b", Status::Pass)], "x");
    assert_eq!(t2.by_lifecycle.get("new"), Some(&1));
    let (s3, t3) = scan(&mut store, &[("a", Status::Pass), ("b", Status::Fail)], "x");
    assert_eq!(t3.by_lifecycle.get("resolved"), Some(&1));
    assert_eq!(t3.by_lifecycle.get("new"), Some(&1));
    let rows = by_asset(&store, s3);
    assert_eq!(rows["a"].lifecycle.as_deref(), Some("resolved"));
    assert_eq!(rows["a"].last_seen.as_deref(), Some("2026-12-01T00:01:00Z"));
    // a passes again: no lifecycle, but it remembers when it last failed.
    let (s4, _) = scan(&mut store, &[("a", Status::Pass)], "x");
    let rows = by_asset(&store, s4);
    assert_eq!(rows["a"].lifecycle, None);
    assert_eq!(rows["a"].last_seen.as_deref(), Some("2026-12-01T00:01:00Z"));
    assert_eq!(
        count(
            &store,
            &format!("SELECT count(*) FROM passes WHERE scan_id = {s4}")
        ),
        0,
        "a pass of a finding that failed before is kept whole"
    );
    // b is absent from s4: resolved by its asset's disappearance.
    let state: String = store
        .conn
        .query_row(
            "SELECT last_status FROM finding_state WHERE fingerprint = ?1",
            [fingerprint("r1", "b")],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(state, "absent");
    let (s5, _) = scan(&mut store, &[("a", Status::Fail), ("b", Status::Fail)], "x");
    let rows = by_asset(&store, s5);
    assert_eq!(rows["a"].lifecycle.as_deref(), Some("reopened"));
    assert_eq!(rows["b"].lifecycle.as_deref(), Some("reopened"));
    assert_eq!(
        rows["a"].first_seen.as_deref(),
        Some("2026-12-01T00:01:00Z")
    );
    assert_eq!(by_asset(&store, s1)["a"].lifecycle, None);
    assert_eq!(by_asset(&store, s2)["a"].lifecycle.as_deref(), Some("new"));
    let (from, to) = store.diff_scans(Some(s2), Some(s3)).unwrap();
    let d = store.diff(&from, &to).unwrap();
    let fixed: Vec<_> = d.of(Change::Fixed).collect();
    assert_eq!(fixed.len(), 1);
    assert_eq!(fixed[0].status_to, Some(Status::Pass));
    let new: Vec<_> = d.of(Change::New).collect();
    assert_eq!(
        new[0].status_from,
        Some(Status::Pass),
        "a compact pass in `from` is a pass"
    );
}

#[test]
fn assets_that_look_the_same_share_one_version_and_a_prune_leaves_nothing_behind() {
    let (_dir, mut store) = open();
    let (s1, _) = scan(
        &mut store,
        &[("a", Status::Fail), ("b", Status::Pass)],
        "one",
    );
    scan(
        &mut store,
        &[("a", Status::Fail), ("b", Status::Pass)],
        "one",
    );
    assert_eq!(count(&store, "SELECT count(*) FROM asset_versions"), 2);
    assert_eq!(
        count(&store, "SELECT count(*) FROM finding_content"),
        1,
        "a recurring failure's evidence is stored once"
    );
    assert_eq!(count(&store, "SELECT count(*) FROM assets"), 4);
    let (s3, _) = scan(&mut store, &[("c", Status::Fail)], "two");
    assert_eq!(count(&store, "SELECT count(*) FROM asset_versions"), 3);
    let assets = store
        .assets(&AssetFilter {
            scan: Some(s1),
            resource_type: None,
            with_body: true,
        })
        .unwrap();
    assert_eq!(assets.len(), 2);
    assert_eq!(assets[0].tags["team"], "data");
    assert_eq!(assets[0].body["m"], "one");
    let report = store
        .prune(
            &PrunePolicy {
                keep_scans: Some(1),
                before: None,
            },
            false,
            &|_| {},
        )
        .unwrap();
    assert_eq!(report.scans.len(), 2);
    assert_eq!(report.asset_bodies, 2);
    for (table, left) in [
        ("asset_versions", 1),
        ("asset_names", 1),
        ("finding_content", 1),
        ("asset_bodies", 1),
        ("passes", 0),
        ("results", 1),
        ("scan_assets", 1),
    ] {
        assert_eq!(
            count(&store, &format!("SELECT count(*) FROM {table}")),
            left,
            "{table}"
        );
    }
    assert_eq!(all(&store, s3).len(), 1);
}

/// Rows as the wide layout (schema version 5) stored them: (scan, rule,
/// asset, status, severity, message, evidence, lifecycle, first_seen,
/// last_seen, source, muted_by).
type WideRow = (
    i64,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
    Option<&'static str>,
);

/// A version-5 database as the Stance before the compact layout wrote it:
/// two scans of one scope, with ordinary passes, a pass with a message, a
/// failure that recurs, a resolved pass, a muted failure, an error, and an
/// imported finding.
fn wide_database(path: &std::path::Path) -> Store {
    let mut conn = rusqlite::Connection::open(path).unwrap();
    migrations::migrate_until(&mut conn, 5).ok().unwrap();
    conn.execute_batch(
        "INSERT INTO scans VALUES (1, 't1', 't1', 'complete', 'test', 'aws', 'S', '0', 3, '{}');
         INSERT INTO scans VALUES (2, 't2', 't2', 'complete', 'test', 'aws', 'S', '0', 3, '{}');
         INSERT INTO asset_bodies VALUES ('h1', '{\"a\":1}'), ('h2', '{\"a\":2}');
         INSERT INTO rules VALUES (1, 'r1', 'p', '1', 'd', 'R one', '', 'high', '[]', '[]', '{}', '[]');
         INSERT INTO rules VALUES (2, 'r1', 'p', '1', 'd', 'R one', '', 'high', '[]', '[]', '{}', '[]');
         INSERT INTO rules VALUES (2, 'r2', 'p', '1', 'd', 'R two', '', 'low', '[]', '[]', '{}', '[]');
         INSERT INTO rules VALUES (2, 'securityhub:S3.1', 'securityhub', '', '', 'imp', '', 'medium', '[]', '[]', '{}', '[]');",
    )
    .unwrap();
    for (scan, id, hash, at) in [
        (1, "a", "h1", "c1"),
        (1, "b", "h1", "c1"),
        (1, "c", "h2", "c1"),
        (2, "a", "h1", "c2"),
        (2, "b", "h2", "c2"),
        (2, "c", "h2", "c1"),
    ] {
        conn.execute(
            "INSERT INTO assets VALUES (?1, ?2, 'aws_s3_bucket', 'aws', '1', 'r', ?2, '{}', ?4, ?3)",
            rusqlite::params![scan, id, hash, at],
        )
        .unwrap();
    }
    let ev = r#"[{"path":"v","actual":"x","expected":"y"}]"#;
    let rows: [WideRow; 10] = [
        (
            1, "r1", "a", "pass", "high", "", "[]", None, None, None, "stance", None,
        ),
        (
            1,
            "r1",
            "b",
            "fail",
            "high",
            "b bad",
            ev,
            Some("new"),
            Some("t1"),
            Some("t1"),
            "stance",
            None,
        ),
        (
            1, "r1", "c", "pass", "high", "c ok", "[]", None, None, None, "stance", None,
        ),
        (
            2, "r1", "a", "pass", "high", "", "[]", None, None, None, "stance", None,
        ),
        (
            2,
            "r1",
            "b",
            "pass",
            "high",
            "",
            "[]",
            Some("resolved"),
            None,
            Some("t1"),
            "stance",
            None,
        ),
        (
            2,
            "r1",
            "c",
            "fail",
            "critical",
            "c bad",
            ev,
            Some("new"),
            Some("t2"),
            Some("t2"),
            "stance",
            None,
        ),
        (
            2,
            "r2",
            "a",
            "fail",
            "low",
            "a bad",
            ev,
            Some("new"),
            Some("t2"),
            Some("t2"),
            "stance",
            Some(r#"{"id":"m1","reason":"ok"}"#),
        ),
        (
            2, "r2", "b", "error", "low", "trap", "[]", None, None, None, "stance", None,
        ),
        (
            2, "r2", "c", "pass", "low", "", "[]", None, None, None, "stance", None,
        ),
        (
            2,
            "securityhub:S3.1",
            "a",
            "fail",
            "medium",
            "imp",
            "[]",
            None,
            None,
            None,
            "securityhub",
            None,
        ),
    ];
    for (
        scan,
        rule,
        asset,
        status,
        severity,
        message,
        evidence,
        lifecycle,
        first,
        last,
        source,
        muted,
    ) in rows
    {
        let rank = severity_rank(severity.parse().unwrap());
        let plugin = if source == "stance" { "p" } else { source };
        let version = if source == "stance" { "1" } else { "" };
        conn.execute(
            "INSERT INTO findings (scan_id, fingerprint, rule_id, plugin, plugin_version, asset_id, resource_type, account, region, severity, severity_rank, status, message, evidence, lifecycle, first_seen, last_seen, source, muted_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'aws_s3_bucket', '1', 'r', ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            rusqlite::params![scan, fingerprint(rule, asset), rule, plugin, version, asset, severity, rank, status, message, evidence, lifecycle, first, last, source, muted],
        )
        .unwrap();
    }
    conn.execute_batch(&format!(
        "INSERT INTO finding_state (scope, fingerprint, rule_id, asset_id, first_seen, last_seen, last_status, ever_failed, last_scan_id, resource_type, account, region) VALUES
           ('S', '{}', 'r1', 'a', NULL, NULL, 'pass', 0, 2, 'aws_s3_bucket', '1', 'r'),
           ('S', '{}', 'r1', 'b', 't1', 't1', 'pass', 1, 2, 'aws_s3_bucket', '1', 'r'),
           ('S', '{}', 'r1', 'c', 't2', 't2', 'fail', 1, 2, 'aws_s3_bucket', '1', 'r'),
           ('S', '{}', 'r2', 'a', 't2', 't2', 'fail', 1, 2, 'aws_s3_bucket', '1', 'r');",
        fingerprint("r1", "a"),
        fingerprint("r1", "b"),
        fingerprint("r1", "c"),
        fingerprint("r2", "a"),
    ))
    .unwrap();
    Store {
        conn,
        path: path.to_path_buf(),
    }
}

/// What every reader of findings sees of a scan, as JSON, every status,
/// duplicates and muted failures included.
fn answers(store: &Store, scan: i64) -> serde_json::Value {
    let rows = store
        .findings(&FindingFilter {
            scan: Some(scan),
            include_duplicates: true,
            ..Default::default()
        })
        .unwrap();
    serde_json::to_value(rows).unwrap()
}

#[test]
fn a_wide_database_migrates_in_place_and_answers_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stance.db");
    let old = wide_database(&path);
    let before = [answers(&old, 1), answers(&old, 2)];
    let assets_before = serde_json::to_value(
        old.assets(&AssetFilter {
            scan: Some(2),
            resource_type: None,
            with_body: true,
        })
        .unwrap(),
    )
    .unwrap();
    assert_eq!(before[1].as_array().unwrap().len(), 7);
    drop(old);
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), migrations::known());
    assert_eq!(answers(&store, 1), before[0]);
    assert_eq!(answers(&store, 2), before[1]);
    let assets_after = store
        .assets(&AssetFilter {
            scan: Some(2),
            resource_type: None,
            with_body: true,
        })
        .unwrap();
    assert_eq!(serde_json::to_value(assets_after).unwrap(), assets_before);
    assert_eq!(
        count(&store, "SELECT count(*) FROM passes"),
        3,
        "only the passes that show nothing of their own became compact"
    );
    assert_eq!(count(&store, "SELECT count(*) FROM findings"), 10);
    assert_eq!(count(&store, "SELECT count(*) FROM finding_state"), 3);
    assert_eq!(count(&store, "SELECT count(*) FROM asset_versions"), 4);
    // Lifecycle goes on from the migrated memory.
    let mut w = store
        .begin_scan(ScanMeta {
            started_at: "t3".into(),
            source: "test".into(),
            provider: "aws".into(),
            scope: "S".into(),
        })
        .unwrap();
    let mut c = finding("c", Status::Fail);
    (c.account, c.region, c.severity) = ("1".into(), "r".into(), Severity::Critical);
    w.add_findings(&[c]).unwrap();
    let (s3, totals) = w.commit("t3").unwrap();
    assert_eq!(totals.by_lifecycle.get("recurring"), Some(&1));
    assert_eq!(
        totals.by_lifecycle.get("resolved"),
        Some(&1),
        "r2 on a is gone"
    );
    assert_eq!(all(&store, s3)[0].first_seen.as_deref(), Some("t2"));
}
