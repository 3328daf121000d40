//! Unit tests of scan diffs (`diff`) and retention (`prune`): each category
//! of a diff, the errors that refuse a comparison, what a prune keeps and
//! removes, and lifecycle after a prune.

use super::tests::rule;
use super::*;
use crate::model::{Asset, CollectionError, Evidence, Finding, Severity, Status, fingerprint};

const SCOPE: &str = "aws:111111111111:eu-west-1";
const OTHER: &str = "aws:222222222222:eu-west-1";

/// One result of a test scan: asset, status, severity, and the value its evidence shows.
#[derive(Clone, Copy)]
struct R(&'static str, Status, Severity, &'static str);

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
        name: id.into(),
        tags: Vec::new(),
        collected_at: "2026-12-01T00:00:00Z".into(),
        // A body of its own per asset, so that bodies are told apart.
        body: format!("{{\"bucket\":\"{id}\"}}"),
        gaps: Vec::new(),
    }
}

fn finding(r: R) -> Finding {
    Finding {
        fingerprint: fingerprint("r1", r.0),
        rule_id: "r1".into(),
        plugin: "p".into(),
        plugin_version: "1".into(),
        asset_id: r.0.into(),
        resource_type: "aws_s3_bucket".into(),
        account: "111111111111".into(),
        region: "eu-west-1".into(),
        severity: r.2,
        status: r.1,
        message: format!("{} is {}", r.0, r.1),
        evidence: vec![Evidence {
            path: "versioning.status".into(),
            actual: r.3.into(),
            expected: "Enabled".into(),
        }],
    }
}

/// A committed scan of `scope` that finished at `at`, with these results
/// (their assets stored too) and collection errors.
fn scan_at(
    store: &mut Store,
    scope: &str,
    at: &str,
    results: &[R],
    errors: &[CollectionError],
) -> i64 {
    let mut w = store
        .begin_scan(ScanMeta {
            started_at: at.into(),
            source: "test".into(),
            provider: "aws".into(),
            scope: scope.into(),
        })
        .unwrap();
    let assets: Vec<Asset> = results.iter().map(|r| asset(r.0)).collect();
    w.add_assets(&assets).unwrap();
    w.add_rules("p", "1", "digest", &[rule()]).unwrap();
    w.add_collection_errors(errors).unwrap();
    let findings: Vec<Finding> = results.iter().map(|r| finding(*r)).collect();
    w.add_findings(&findings).unwrap();
    w.commit(at).unwrap().0
}

fn scan(store: &mut Store, results: &[R]) -> i64 {
    scan_at(store, SCOPE, "2026-12-01T00:00:00Z", results, &[])
}

fn fail(id: &'static str) -> R {
    R(id, Status::Fail, Severity::High, "Suspended")
}

fn pass(id: &'static str) -> R {
    R(id, Status::Pass, Severity::High, "Enabled")
}

/// The diff's entries as (change, resource, reason), sorted.
fn changes(d: &ScanDiff) -> Vec<(Change, String, Option<String>)> {
    let mut v: Vec<_> = d
        .entries
        .iter()
        .map(|e| (e.change, e.resource.id.clone(), e.reason.clone()))
        .collect();
    v.sort();
    v
}

fn diff(store: &Store, from: Option<i64>, to: Option<i64>) -> ScanDiff {
    let (f, t) = store.diff_scans(from, to).unwrap();
    store.diff(&f, &t).unwrap()
}

fn s3_not_collected() -> CollectionError {
    CollectionError {
        provider: "aws".into(),
        account: "111111111111".into(),
        region: "eu-west-1".into(),
        service: "s3".into(),
        operation: "ListBuckets".into(),
        kind: "access-denied".into(),
        message: "denied".into(),
        resource_types: vec!["aws_s3_bucket".into()],
    }
}

#[test]
fn a_diff_of_consecutive_scans_sorts_every_failure_into_its_category() {
    let (_dir, mut store) = open();
    scan(
        &mut store,
        &[fail("a"), fail("b"), pass("c"), fail("d"), fail("g")],
    );
    scan(
        &mut store,
        &[pass("a"), fail("b"), pass("c"), fail("d"), fail("g")],
    );
    let critical = R("d", Status::Fail, Severity::Critical, "Disabled");
    let errored = R("g", Status::Error, Severity::High, "");
    let s3 = scan(
        &mut store,
        &[fail("a"), pass("b"), fail("c"), critical, errored],
    );
    let d = diff(&store, None, None);
    assert_eq!(d.to.id, s3);
    assert!(d.consecutive);
    let s = |c, id: &str, r: Option<&str>| (c, id.to_string(), r.map(String::from));
    assert_eq!(
        changes(&d),
        vec![
            s(Change::New, "c", None),
            s(Change::Reopened, "a", None),
            s(Change::Fixed, "b", Some("passes")),
            s(Change::StillFailing, "d", None),
            s(Change::Unknown, "g", Some("error")),
        ]
    );
    let d_entry = d.of(Change::StillFailing).next().unwrap();
    assert_eq!(d_entry.severity, Severity::Critical);
    assert_eq!(d_entry.severity_from, Some(Severity::High));
    let before = d_entry
        .evidence_from
        .as_ref()
        .expect("the evidence changed");
    assert_eq!(before[0].actual, "Suspended");
    assert_eq!(d_entry.evidence[0].actual, "Disabled");
    // The stored lifecycle of the later scan says the same.
    let lifecycle: Vec<(String, Option<String>)> = store
        .findings(&FindingFilter {
            scan: Some(s3),
            statuses: vec![Status::Fail],
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|f| (f.resource.id, f.lifecycle))
        .collect();
    assert!(lifecycle.contains(&("a".into(), Some("reopened".into()))));
    assert!(lifecycle.contains(&("c".into(), Some("new".into()))));
}

#[test]
fn a_vanished_failure_is_fixed_unless_its_type_was_not_collected() {
    let (_dir, mut store) = open();
    scan(&mut store, &[fail("a"), fail("b")]);
    // b's bucket is deleted: fixed, resource gone.
    scan(&mut store, &[fail("a")]);
    let d = diff(&store, None, None);
    assert_eq!(
        changes(&d),
        vec![
            (Change::Fixed, "b".into(), Some("resource-gone".into())),
            (Change::StillFailing, "a".into(), None),
        ]
    );
    // S3 could not be read: a's absence says nothing.
    scan_at(
        &mut store,
        SCOPE,
        "2026-12-01T00:00:00Z",
        &[],
        &[s3_not_collected()],
    );
    let d = diff(&store, None, None);
    assert_eq!(
        changes(&d),
        vec![(Change::Unknown, "a".into(), Some("not-collected".into()))]
    );
}

#[test]
fn across_scans_in_between_a_failure_is_new_only_if_it_never_failed_before_from() {
    let (_dir, mut store) = open();
    let s1 = scan(&mut store, &[fail("a"), pass("b"), pass("c")]);
    let s2 = scan(&mut store, &[pass("a"), pass("b"), pass("c")]);
    scan(&mut store, &[pass("a"), fail("b"), pass("c")]);
    scan(&mut store, &[pass("a"), pass("b"), pass("c")]);
    let s5 = scan(&mut store, &[fail("a"), fail("b"), pass("c")]);
    // From s2: a failed before s2 (in s1) and is reopened; b first failed
    // after s2 (in s3) and is new in this window, though its stored
    // lifecycle in s5 is `reopened`.
    let d = diff(&store, Some(s2), Some(s5));
    assert!(!d.consecutive);
    assert_eq!(
        changes(&d),
        vec![
            (Change::New, "b".into(), None),
            (Change::Reopened, "a".into(), None),
        ]
    );
    // From s1, a is still failing.
    let d = diff(&store, Some(s1), Some(s5));
    assert_eq!(
        changes(&d),
        vec![
            (Change::New, "b".into(), None),
            (Change::StillFailing, "a".into(), None),
        ]
    );
    // --from alone compares with the latest scan of its scope.
    assert_eq!(diff(&store, Some(s1), None).to.id, s5);
}

#[test]
fn diffs_of_unknown_scans_other_scopes_a_single_scan_or_the_wrong_order_are_refused() {
    let (_dir, mut store) = open();
    let err = |s: &Store, f: Option<i64>, t: Option<i64>| {
        s.diff_scans(f, t).expect_err("refused").to_string()
    };
    assert!(err(&store, None, None).contains("no scans in"));
    let s1 = scan(&mut store, &[fail("a")]);
    let e = err(&store, None, None);
    assert!(e.contains("only one scan") && e.contains(SCOPE), "{e}");
    let o1 = scan_at(&mut store, OTHER, "2026-12-01T00:00:00Z", &[fail("a")], &[]);
    let e = err(&store, Some(s1), Some(o1));
    assert!(
        e.contains("different scopes") && e.contains(SCOPE) && e.contains(OTHER),
        "{e}"
    );
    let e = err(&store, Some(99), None);
    assert!(e.contains("no complete scan #99"), "{e}");
    let e = err(&store, Some(s1), Some(99));
    assert!(e.contains("no complete scan #99"), "{e}");
    let s2 = scan(&mut store, &[fail("a")]);
    let e = err(&store, Some(s2), Some(s1));
    assert!(e.contains("must be an earlier scan"), "{e}");
    let e = err(&store, Some(s2), None);
    assert!(e.contains("latest scan of scope"), "{e}");
    assert_eq!(diff(&store, None, Some(s2)).from.id, s1);
}

fn count(store: &Store, sql: &str) -> i64 {
    store.conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn scan_ids(store: &Store) -> Vec<i64> {
    let mut ids: Vec<i64> = store.scans(100).unwrap().iter().map(|s| s.id).collect();
    ids.sort();
    ids
}

fn keep(n: usize) -> PrunePolicy {
    PrunePolicy {
        keep_scans: Some(n),
        before: None,
    }
}

#[test]
fn keep_scans_keeps_the_newest_of_each_scope_and_everything_they_need() {
    let (_dir, mut store) = open();
    let s1 = scan(&mut store, &[fail("old-only"), fail("a")]);
    let o1 = scan_at(&mut store, OTHER, "2026-12-01T00:00:00Z", &[fail("x")], &[]);
    let s2 = scan(&mut store, &[fail("a")]);
    let s3 = scan(&mut store, &[fail("a")]);
    let plan = store.prune_plan(&keep(2)).unwrap();
    assert_eq!(plan.scans.iter().map(|s| s.id).collect::<Vec<_>>(), [s1]);
    assert_eq!(plan.scans[0].findings, 2);
    assert_eq!(scan_ids(&store).len(), 4, "a plan changes nothing");

    let report = store.prune(&keep(2), true, &|_| {}).unwrap();
    assert_eq!(report.scans.len(), 1);
    assert_eq!(
        scan_ids(&store),
        [o1, s2, s3],
        "the other scope's only scan stays"
    );
    assert_eq!(
        count(
            &store,
            &format!("SELECT count(*) FROM findings WHERE scan_id = {s1}")
        ),
        0
    );
    assert_eq!(
        count(
            &store,
            &format!("SELECT count(*) FROM assets WHERE scan_id = {s1}")
        ),
        0
    );
    assert_eq!(
        count(
            &store,
            &format!("SELECT count(*) FROM rules WHERE scan_id = {s1}")
        ),
        0
    );
    // The body of the asset only the pruned scan had is gone; the others stay.
    assert_eq!(report.asset_bodies, 1);
    assert_eq!(count(&store, "SELECT count(*) FROM asset_bodies"), 2);
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM asset_bodies WHERE hash NOT IN (SELECT body_hash FROM assets)"
        ),
        0
    );
    // A scan this small frees no whole page: nothing to vacuum (the
    // vacuum itself is tested in a_prune_gives_the_space_back).
    assert_eq!(report.vacuum, "none");
    // Pruning again: nothing more to go, nothing to vacuum.
    let again = store.prune(&keep(2), true, &|_| {}).unwrap();
    assert!(again.scans.is_empty());
    assert_eq!(again.vacuum, "none");

    // Keeping one leaves the newest scan of each scope.
    store.prune(&keep(1), false, &|_| {}).unwrap();
    assert_eq!(scan_ids(&store), [o1, s3]);
}

#[test]
fn older_than_never_prunes_the_newest_scan_and_with_keep_both_must_agree() {
    let (_dir, mut store) = open();
    let day = |d: u32| format!("2026-11-{d:02}T00:00:00Z");
    let s1 = scan_at(&mut store, SCOPE, &day(1), &[fail("a")], &[]);
    let s2 = scan_at(&mut store, SCOPE, &day(2), &[fail("a")], &[]);
    let s3 = scan_at(&mut store, SCOPE, &day(3), &[fail("a")], &[]);
    let o1 = scan_at(&mut store, OTHER, &day(1), &[fail("x")], &[]);
    let before = |t: &str, keep: Option<usize>| PrunePolicy {
        keep_scans: keep,
        before: Some(t.into()),
    };
    let ids = |p: &PrunePolicy| -> Vec<i64> {
        store
            .prune_plan(p)
            .unwrap()
            .scans
            .iter()
            .map(|s| s.id)
            .collect()
    };
    assert_eq!(ids(&before("2026-11-02T12:00:00Z", None)), [s1, s2]);
    assert_eq!(
        ids(&before("2026-12-31T00:00:00Z", None)),
        [s1, s2],
        "the newest scan of each scope stays however old"
    );
    assert_eq!(ids(&before("2026-12-31T00:00:00Z", Some(2))), [s1]);
    assert_eq!(ids(&before("2026-11-01T12:00:00Z", Some(1))), [s1]);
    store
        .prune(&before("2026-11-02T12:00:00Z", None), false, &|_| {})
        .unwrap();
    assert_eq!(scan_ids(&store), [s3, o1]);
}

#[test]
fn lifecycle_after_a_prune_still_knows_what_failed_in_pruned_scans() {
    let (_dir, mut store) = open();
    // a fails then is fixed; b never fails and its asset goes away.
    scan(&mut store, &[fail("a"), pass("b")]);
    scan(&mut store, &[pass("a"), pass("b")]);
    scan(&mut store, &[pass("a")]);
    let report = store.prune(&keep(1), true, &|_| {}).unwrap();
    assert_eq!(report.scans.len(), 2);
    assert_eq!(
        report.lifecycle_states, 1,
        "b never failed and was last seen in a pruned scan"
    );
    // a comes back: reopened (not new), with the first time it ever failed.
    let s4 = scan_at(
        &mut store,
        SCOPE,
        "2026-12-09T00:00:00Z",
        &[fail("a"), fail("b")],
        &[],
    );
    let rows = store
        .findings(&FindingFilter {
            scan: Some(s4),
            ..Default::default()
        })
        .unwrap();
    let a = rows.iter().find(|f| f.resource.id == "a").unwrap();
    assert_eq!(a.lifecycle.as_deref(), Some("reopened"));
    assert_eq!(a.first_seen.as_deref(), Some("2026-12-01T00:00:00Z"));
    let b = rows.iter().find(|f| f.resource.id == "b").unwrap();
    assert_eq!(b.lifecycle.as_deref(), Some("new"));
    // And the diff against the scan left says reopened too.
    let d = diff(&store, None, None);
    assert_eq!(
        changes(&d),
        vec![
            (Change::New, "b".into(), None),
            (Change::Reopened, "a".into(), None),
        ]
    );
}

#[test]
fn a_prune_killed_half_way_is_finished_by_the_next_and_never_shows_half_a_scan() {
    let (_dir, mut store) = open();
    let s1 = scan(&mut store, &[fail("a"), fail("b")]);
    let s2 = scan(&mut store, &[fail("a")]);
    // What a killed prune leaves: the scan claimed, part of it deleted.
    store
        .conn
        .execute_batch(&format!(
            "UPDATE scans SET status = 'pruning' WHERE id = {s1};
             DELETE FROM findings WHERE scan_id = {s1} AND asset_id = 'a';"
        ))
        .unwrap();
    assert_eq!(scan_ids(&store), [s2], "a scan being pruned is not listed");
    assert!(store.diff_scans(Some(s1), Some(s2)).is_err());
    // The next prune, even one that selects nothing, finishes it.
    let report = store.prune(&keep(5), false, &|_| {}).unwrap();
    assert_eq!(report.scans.iter().map(|s| s.id).collect::<Vec<_>>(), [s1]);
    assert_eq!(count(&store, "SELECT count(*) FROM scans"), 1);
    assert_eq!(
        count(
            &store,
            &format!("SELECT count(*) FROM findings WHERE scan_id = {s1}")
        ),
        0
    );
}

#[test]
fn older_than_prunes_detection_runs_with_their_alerts() {
    let (_dir, mut store) = open();
    let run = |store: &mut Store, at: &str| {
        let w = store
            .begin_detection(at, &["trail.json".to_string()])
            .unwrap();
        let id = w.run_id();
        w.finish(at, &RunTotals::default()).unwrap();
        id
    };
    let r1 = run(&mut store, "2026-10-01T00:00:00Z");
    let r2 = run(&mut store, "2026-12-01T00:00:00Z");
    store
        .conn
        .execute_batch(&format!(
            "INSERT INTO alerts (run_id, fingerprint, duplicate, rule_id, title, plugin, plugin_version, severity, severity_rank,
                                 message, event_ids, window_start, window_end, evidence, account, region, source)
             VALUES ({r1}, 'f1', 0, 'r', 't', 'p', '1', 'high', 3, 'm', '[]', 'x', 'x', '[]', '', '', 'aws_cloudtrail'),
                    ({r2}, 'f2', 0, 'r', 't', 'p', '1', 'high', 3, 'm', '[]', 'x', 'x', '[]', '', '', 'aws_cloudtrail');"
        ))
        .unwrap();
    let policy = PrunePolicy {
        keep_scans: None,
        before: Some("2026-11-01T00:00:00Z".into()),
    };
    let report = store.prune(&policy, false, &|_| {}).unwrap();
    assert_eq!(report.runs.len(), 1);
    assert_eq!(report.runs[0].alerts, 1);
    assert_eq!(count(&store, "SELECT count(*) FROM detection_runs"), 1);
    assert_eq!(count(&store, "SELECT count(*) FROM alerts"), 1);
    // --keep-scans alone leaves detection alone.
    let report = store.prune(&keep(1), false, &|_| {}).unwrap();
    assert!(report.runs.is_empty());
}

#[test]
fn a_prune_gives_the_space_back() {
    let (dir, mut store) = open();
    let many: Vec<String> = (0..2000).map(|i| format!("bucket-{i:05}")).collect();
    let big_scan = |store: &mut Store| {
        let mut w = store
            .begin_scan(ScanMeta {
                started_at: "2026-12-01T00:00:00Z".into(),
                source: "test".into(),
                provider: "aws".into(),
                scope: SCOPE.into(),
            })
            .unwrap();
        let assets: Vec<Asset> = many.iter().map(|id| asset(id)).collect();
        w.add_assets(&assets).unwrap();
        let findings: Vec<Finding> = many
            .iter()
            .map(|id| Finding {
                asset_id: id.clone(),
                fingerprint: fingerprint("r1", id),
                message: "x".repeat(500),
                ..finding(fail("z"))
            })
            .collect();
        w.add_findings(&findings).unwrap();
        w.commit("2026-12-01T00:00:00Z").unwrap();
    };
    for _ in 0..3 {
        big_scan(&mut store);
    }
    let path = dir.path().join("stance.db");
    let report = store.prune(&keep(1), true, &|_| {}).unwrap();
    assert_eq!(report.vacuum, "full");
    assert!(report.wal_truncated);
    assert!(
        report.bytes_after * 2 < report.bytes_before,
        "{} → {}",
        report.bytes_before,
        report.bytes_after
    );
    assert_eq!(report.bytes_after, prune::file_bytes(&path));
    let free = |s: &Store| -> i64 {
        s.conn
            .pragma_query_value(None, "freelist_count", |r| r.get(0))
            .unwrap()
    };
    assert_eq!(free(&store), 0);
    // The next prune that frees pages gives them back incrementally.
    big_scan(&mut store);
    let report = store.prune(&keep(1), true, &|_| {}).unwrap();
    assert_eq!(report.vacuum, "incremental");
    assert!(
        report.bytes_after < report.bytes_before,
        "{} → {}",
        report.bytes_before,
        report.bytes_after
    );
    assert_eq!(free(&store), 0);
    // Nothing freed: nothing to vacuum.
    assert_eq!(store.prune(&keep(1), true, &|_| {}).unwrap().vacuum, "none");
}
