//! Retention (`stance prune`): deleting old scans with everything that
//! hangs off them, old detection runs with their alerts, the asset bodies
//! and lifecycle memory nothing needs any more, and giving the space back.
//! Never touches a scan in progress, the newest scan of a scope, detector
//! state or suppressions; never renders.
//!
//! Safe beside other processes: the work is a series of short immediate
//! transactions under the store's busy timeout. A scan being pruned is
//! first marked `pruning` (in the transaction that chose it), so no query
//! sees it half-deleted; its findings and assets then go in chunks, and the
//! scan row with its rules, plugin failures and collection errors last. A
//! prune that is killed half-way leaves `pruning` scans that the next prune
//! finishes first.
//!
//! Lifecycle stays right for the scans that remain because it is computed
//! against the scope's lifecycle memory (`finding_state`), not against old
//! scans: that memory is kept for every finding that ever failed (so a
//! failure that comes back after its scans were pruned is `reopened`, with
//! its first `first_seen`). Only the memory of findings that never failed
//! and were last seen in a pruned scan is dropped; it carries nothing the
//! next scan would compute differently.

use std::path::Path;

use rusqlite::{Connection, ErrorCode, Transaction, TransactionBehavior, params};
use serde::Serialize;

use super::{Result, Store};

/// Rows deleted per transaction, so that a concurrent scan never waits long.
const CHUNK: i64 = 50_000;

/// Free pages given back per incremental-vacuum transaction.
const VACUUM_PAGES: i64 = 16_384;

/// What to prune.
#[derive(Debug, Clone, Default)]
pub struct PrunePolicy {
    /// Keep the newest N complete scans of each scope (at least 1).
    pub keep_scans: Option<usize>,
    /// Scans and detection runs that finished before this time (RFC 3339,
    /// UTC). With `keep_scans`, a scan goes only when both say so.
    pub before: Option<String>,
}

impl PrunePolicy {
    /// The newest scans of each scope that are always kept.
    fn keep(&self) -> i64 {
        self.keep_scans.unwrap_or(1).max(1) as i64
    }
}

/// A scan that was (or would be) pruned.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrunedScan {
    /// Its id.
    pub id: i64,
    /// Its scope.
    pub scope: String,
    /// When it finished (RFC 3339).
    pub finished_at: String,
    /// Its assets.
    pub assets: i64,
    /// Its findings.
    pub findings: i64,
}

/// A detection run that was (or would be) pruned.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrunedRun {
    /// Its id.
    pub id: i64,
    /// When it finished (RFC 3339).
    pub finished_at: String,
    /// Its alerts (duplicates and suppressed ones included).
    pub alerts: i64,
}

/// What a prune did (or, dry, would do).
#[derive(Debug, Clone, Default, Serialize)]
pub struct PruneReport {
    /// Nothing was changed: what would go.
    pub dry_run: bool,
    /// The scans pruned, oldest first.
    pub scans: Vec<PrunedScan>,
    /// The detection runs pruned, oldest first.
    pub runs: Vec<PrunedRun>,
    /// Complete scans left.
    pub scans_kept: i64,
    /// Asset bodies no remaining scan refers to, removed.
    pub asset_bodies: usize,
    /// Lifecycle memory removed (findings that never failed, last seen in a pruned scan).
    pub lifecycle_states: usize,
    /// How space was reclaimed: `full` (VACUUM, once; it also turns on
    /// incremental auto-vacuum), `incremental`, or `none`.
    pub vacuum: String,
    /// Database file plus write-ahead log before, in bytes.
    pub bytes_before: u64,
    /// The same after.
    pub bytes_after: u64,
    /// Whether the write-ahead log could be truncated (another process
    /// reading or writing keeps it; it is reused by later writes).
    pub wal_truncated: bool,
}

/// The scans `policy` selects (and any a killed prune left `pruning`), oldest first.
const VICTIMS: &str = "SELECT id, scope, finished_at, assets FROM (
     SELECT id, scope, finished_at, assets,
            ROW_NUMBER() OVER (PARTITION BY scope ORDER BY id DESC) AS newer
     FROM scans WHERE status = 'complete')
 WHERE newer > ?1 AND (?2 IS NULL OR julianday(finished_at) < julianday(?2))
 UNION ALL
 SELECT id, scope, finished_at, assets FROM scans WHERE status = 'pruning'
 ORDER BY id";

/// Complete detection runs that finished before ?1, oldest first.
const OLD_RUNS: &str =
    "SELECT id, finished_at, (SELECT count(*) FROM alerts a WHERE a.run_id = r.id)
 FROM detection_runs r WHERE status = 'complete' AND julianday(finished_at) < julianday(?1)
 ORDER BY id";

impl Store {
    /// What `policy` would prune, changing nothing.
    pub fn prune_plan(&self, policy: &PrunePolicy) -> Result<PruneReport> {
        let mut report = PruneReport {
            dry_run: true,
            vacuum: "none".into(),
            bytes_before: file_bytes(self.path()),
            ..Default::default()
        };
        report.scans = victims(&self.conn, policy)?;
        for s in &mut report.scans {
            s.findings = findings_of(&self.conn, s.id)?;
        }
        if let Some(before) = &policy.before {
            report.runs = old_runs(&self.conn, before)?;
        }
        report.scans_kept = complete_scans(&self.conn)? - report.scans.len() as i64;
        report.bytes_after = report.bytes_before;
        Ok(report)
    }

    /// Prune what `policy` selects, then (when `vacuum`) give the space back.
    /// `progress` hears of each step.
    pub fn prune(
        &mut self,
        policy: &PrunePolicy,
        vacuum: bool,
        progress: &dyn Fn(&str),
    ) -> Result<PruneReport> {
        let mut report = PruneReport {
            bytes_before: file_bytes(self.path()),
            vacuum: "none".into(),
            ..Default::default()
        };
        while let Some(scan) = self.claim_next(policy)? {
            progress(&format!("scan #{} ({})", scan.id, scan.scope));
            self.delete_claimed(scan.id)?;
            report.scans.push(scan);
        }
        if let Some(before) = &policy.before {
            report.runs = self.prune_runs(before)?;
        }
        progress("unreferenced asset bodies and lifecycle memory");
        let (bodies, states) = self.collect_garbage()?;
        report.asset_bodies = bodies;
        report.lifecycle_states = states;
        report.scans_kept = complete_scans(&self.conn)?;
        if vacuum {
            progress("reclaiming space");
            report.vacuum = self.reclaim()?.into();
        }
        report.wal_truncated = self.truncate_wal()?;
        report.bytes_after = file_bytes(self.path());
        Ok(report)
    }

    /// In one immediate transaction: choose the next scan to prune (under
    /// the write lock, so a scan that committed meanwhile counts) and mark
    /// it `pruning`, so that no query sees it any more.
    fn claim_next(&mut self, policy: &PrunePolicy) -> Result<Option<PrunedScan>> {
        let tx = Transaction::new(&mut self.conn, TransactionBehavior::Immediate)?;
        let Some(mut scan) = victims(&tx, policy)?.into_iter().next() else {
            return Ok(None);
        };
        scan.findings = findings_of(&tx, scan.id)?;
        tx.execute(
            "UPDATE scans SET status = 'pruning' WHERE id = ?1",
            [scan.id],
        )?;
        tx.commit()?;
        Ok(Some(scan))
    }

    /// Delete a claimed scan: findings and assets in chunks, then the rest.
    fn delete_claimed(&mut self, scan: i64) -> Result<()> {
        for sql in [
            "DELETE FROM results WHERE scan_id = ?1 AND (asset, rule) IN
                 (SELECT asset, rule FROM results WHERE scan_id = ?1 LIMIT ?2)",
            "DELETE FROM passes WHERE scan_id = ?1 AND (asset, rule) IN
                 (SELECT asset, rule FROM passes WHERE scan_id = ?1 LIMIT ?2)",
            "DELETE FROM scan_assets WHERE scan_id = ?1 AND asset IN
                 (SELECT asset FROM scan_assets WHERE scan_id = ?1 LIMIT ?2)",
        ] {
            loop {
                let tx = Transaction::new(&mut self.conn, TransactionBehavior::Immediate)?;
                let n = tx.execute(sql, params![scan, CHUNK])?;
                tx.commit()?;
                if (n as i64) < CHUNK {
                    break;
                }
                // Let a writer waiting on the busy timeout in.
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        let tx = Transaction::new(&mut self.conn, TransactionBehavior::Immediate)?;
        for table in ["rules", "plugin_failures", "collection_errors"] {
            tx.execute(&format!("DELETE FROM {table} WHERE scan_id = ?1"), [scan])?;
        }
        tx.execute(
            "DELETE FROM scans WHERE id = ?1 AND status = 'pruning'",
            [scan],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Delete complete detection runs that finished before `before`, one
    /// transaction each, with their alerts and failed batches.
    fn prune_runs(&mut self, before: &str) -> Result<Vec<PrunedRun>> {
        let runs = old_runs(&self.conn, before)?;
        let mut done = Vec::with_capacity(runs.len());
        for run in runs {
            let tx = Transaction::new(&mut self.conn, TransactionBehavior::Immediate)?;
            tx.execute("DELETE FROM alerts WHERE run_id = ?1", [run.id])?;
            tx.execute("DELETE FROM detection_failures WHERE run_id = ?1", [run.id])?;
            let n = tx.execute(
                "DELETE FROM detection_runs WHERE id = ?1 AND status = 'complete'",
                [run.id],
            )?;
            tx.commit()?;
            if n > 0 {
                done.push(run);
            }
        }
        Ok(done)
    }

    /// Remove asset versions, asset names, finding content and asset
    /// bodies no stored scan refers to, and the lifecycle memory of
    /// findings that never failed and were last seen in a scan that is
    /// gone. Returns the bodies and memories removed.
    fn collect_garbage(&mut self) -> Result<(usize, usize)> {
        let tx = Transaction::new(&mut self.conn, TransactionBehavior::Immediate)?;
        // A compact pass's asset is always one of its scan's assets, so the
        // scans' assets and whole results are every reference to a name.
        tx.execute_batch(
            "DELETE FROM asset_versions WHERE key NOT IN (SELECT version FROM scan_assets);
             DELETE FROM asset_names WHERE key NOT IN
                 (SELECT asset FROM scan_assets UNION ALL SELECT asset FROM results);
             DELETE FROM finding_content WHERE key NOT IN (SELECT content FROM results);",
        )?;
        let bodies = tx.execute(
            "DELETE FROM asset_bodies WHERE hash NOT IN (SELECT body_hash FROM asset_versions)",
            [],
        )?;
        tx.commit()?;
        let tx = Transaction::new(&mut self.conn, TransactionBehavior::Immediate)?;
        let states = tx.execute(
            "DELETE FROM finding_state WHERE ever_failed = 0 AND last_status != 'fail'
               AND last_scan_id NOT IN (SELECT id FROM scans)",
            [],
        )?;
        tx.commit()?;
        Ok((bodies, states))
    }

    /// Give free pages back to the file system: nothing when none is free;
    /// incrementally when the database is in incremental auto-vacuum mode,
    /// else with one VACUUM that also switches it to that mode (so later
    /// prunes are cheap).
    fn reclaim(&mut self) -> Result<&'static str> {
        let free: i64 = self
            .conn
            .pragma_query_value(None, "freelist_count", |r| r.get(0))?;
        if free == 0 {
            return Ok("none");
        }
        let mode: i64 = self
            .conn
            .pragma_query_value(None, "auto_vacuum", |r| r.get(0))?;
        if mode == 2 {
            loop {
                let free: i64 = self
                    .conn
                    .pragma_query_value(None, "freelist_count", |r| r.get(0))?;
                if free == 0 {
                    return Ok("incremental");
                }
                // Each step of the pragma frees one page: run it to the end.
                let mut stmt = self
                    .conn
                    .prepare(&format!("PRAGMA incremental_vacuum({VACUUM_PAGES})"))?;
                let mut rows = stmt.query([])?;
                while rows.next()?.is_some() {}
            }
        }
        self.conn
            .execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;")?;
        Ok("full")
    }

    /// Checkpoint and truncate the write-ahead log, waiting at most a few
    /// seconds for other processes; false when one kept it.
    fn truncate_wal(&mut self) -> Result<bool> {
        self.conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let done = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok(r.get::<_, i64>(0)? == 0)
            });
        self.conn.busy_timeout(super::BUSY_TIMEOUT)?;
        match done {
            Ok(done) => Ok(done),
            Err(e) if busy(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

/// Whether SQLite gave up waiting for another process.
fn busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

fn victims(conn: &Connection, policy: &PrunePolicy) -> Result<Vec<PrunedScan>> {
    let mut stmt = conn.prepare(VICTIMS)?;
    let rows = stmt.query_map(params![policy.keep(), policy.before], |r| {
        Ok(PrunedScan {
            id: r.get(0)?,
            scope: r.get(1)?,
            finished_at: r.get(2)?,
            assets: r.get(3)?,
            findings: 0,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn old_runs(conn: &Connection, before: &str) -> Result<Vec<PrunedRun>> {
    let mut stmt = conn.prepare(OLD_RUNS)?;
    let rows = stmt.query_map([before], |r| {
        Ok(PrunedRun {
            id: r.get(0)?,
            finished_at: r.get(1)?,
            alerts: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The findings of a scan: whole rows and compact passes.
fn findings_of(conn: &Connection, scan: i64) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT (SELECT count(*) FROM results WHERE scan_id = ?1)
              + (SELECT count(*) FROM passes WHERE scan_id = ?1)",
        [scan],
        |r| r.get(0),
    )?)
}

fn complete_scans(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM scans WHERE status = 'complete'",
        [],
        |r| r.get(0),
    )?)
}

/// The size of the database file and its write-ahead log, in bytes.
pub fn file_bytes(db: &Path) -> u64 {
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    size(db) + size(&super::sidecar(db, "-wal"))
}
