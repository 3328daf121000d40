//! What was exported to Security Hub: per (account, Security Hub region,
//! finding fingerprint) the last document that Security Hub accepted, its
//! record state and the scan it came from; and one row per export run.
//! `stance export securityhub` reads it to send only what changed, to
//! archive what was resolved since, and to refuse an older scan. The tables
//! are created the first time an export is recorded (`CREATE TABLE IF NOT
//! EXISTS`), so databases that never export carry none. Never talks to AWS.

use rusqlite::{OptionalExtension, params};

use super::{Result, Store};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS securityhub_exports (
    account      TEXT NOT NULL,
    region       TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    scope        TEXT NOT NULL,
    scan_id      INTEGER NOT NULL,
    record_state TEXT NOT NULL,
    digest       TEXT NOT NULL,
    document     TEXT NOT NULL,
    exported_at  TEXT NOT NULL,
    PRIMARY KEY (account, region, fingerprint)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS securityhub_export_runs (
    id          INTEGER PRIMARY KEY,
    account     TEXT NOT NULL,
    region      TEXT NOT NULL,
    scan_id     INTEGER NOT NULL,
    scope       TEXT NOT NULL,
    exported_at TEXT NOT NULL,
    imported    INTEGER NOT NULL,
    archived    INTEGER NOT NULL,
    unchanged   INTEGER NOT NULL,
    failed      INTEGER NOT NULL
);
";

/// One finding as Security Hub last accepted it from Stance.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportedFinding {
    /// Stance's fingerprint of the finding.
    pub fingerprint: String,
    /// The scope of the scan it came from.
    pub scope: String,
    /// The scan it came from.
    pub scan_id: i64,
    /// `ACTIVE` or `ARCHIVED`.
    pub record_state: String,
    /// A digest of the document sent.
    pub digest: String,
    /// The ASFF document sent (JSON).
    pub document: String,
}

/// The counts of one export run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportCounts {
    /// Findings created or updated (active).
    pub imported: usize,
    /// Findings archived as resolved.
    pub archived: usize,
    /// Findings left alone: Security Hub already holds them as they are.
    pub unchanged: usize,
    /// Findings Security Hub did not accept.
    pub failed: usize,
}

impl Store {
    /// The findings exported to Security Hub in `account` and `region`,
    /// by fingerprint; none when nothing was ever exported.
    pub fn exported_findings(&self, account: &str, region: &str) -> Result<Vec<ExportedFinding>> {
        if !self.has_table("securityhub_exports")? {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare(
            "SELECT fingerprint, scope, scan_id, record_state, digest, document
             FROM securityhub_exports WHERE account = ?1 AND region = ?2 ORDER BY fingerprint",
        )?;
        let rows = stmt.query_map(params![account, region], |r| {
            Ok(ExportedFinding {
                fingerprint: r.get(0)?,
                scope: r.get(1)?,
                scan_id: r.get(2)?,
                record_state: r.get(3)?,
                digest: r.get(4)?,
                document: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The newest scan of `scope` exported to `account` and `region`.
    pub fn last_export(&self, account: &str, region: &str, scope: &str) -> Result<Option<i64>> {
        if !self.has_table("securityhub_export_runs")? {
            return Ok(None);
        }
        Ok(self
            .conn
            .query_row(
                "SELECT max(scan_id) FROM securityhub_export_runs WHERE account = ?1 AND region = ?2 AND scope = ?3",
                params![account, region, scope],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    /// Record findings Security Hub accepted (one transaction).
    pub fn record_exported(
        &mut self,
        account: &str,
        region: &str,
        findings: &[ExportedFinding],
        now: &str,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute_batch(SCHEMA)?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO securityhub_exports (account, region, fingerprint, scope, scan_id, record_state, digest, document, exported_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (account, region, fingerprint) DO UPDATE SET
                    scope = excluded.scope, scan_id = excluded.scan_id, record_state = excluded.record_state,
                    digest = excluded.digest, document = excluded.document, exported_at = excluded.exported_at",
            )?;
            for f in findings {
                stmt.execute(params![
                    account,
                    region,
                    f.fingerprint,
                    f.scope,
                    f.scan_id,
                    f.record_state,
                    f.digest,
                    f.document,
                    now
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Record one export run of `scan` (of `scope`) to `account` and `region`.
    pub fn record_export_run(
        &mut self,
        account: &str,
        region: &str,
        (scan, scope): (i64, &str),
        counts: ExportCounts,
        now: &str,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute_batch(SCHEMA)?;
        tx.execute(
            "INSERT INTO securityhub_export_runs (account, region, scan_id, scope, exported_at, imported, archived, unchanged, failed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                account,
                region,
                scan,
                scope,
                now,
                counts.imported as i64,
                counts.archived as i64,
                counts.unchanged as i64,
                counts.failed as i64
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Is a finding of `scope` gone (its resource no longer exists, or its
    /// rule no longer runs) as of its latest scan? Lifecycle marks it
    /// `absent` then; a collection error leaves it `fail`.
    pub fn finding_absent(&self, scope: &str, fingerprint: &str) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT last_status = 'absent' FROM finding_state WHERE scope = ?1 AND fingerprint = ?2",
                params![scope, fingerprint],
                |r| r.get::<_, bool>(0),
            )
            .optional()?
            .unwrap_or(false))
    }

    fn has_table(&self, name: &str) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [name],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(fp: &str, scan: i64, state: &str) -> ExportedFinding {
        ExportedFinding {
            fingerprint: fp.into(),
            scope: "aws:123456789012:us-east-1".into(),
            scan_id: scan,
            record_state: state.into(),
            digest: format!("d-{scan}"),
            document: "{}".into(),
        }
    }

    #[test]
    fn exports_are_recorded_per_account_and_region_and_replaced_by_newer_ones() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.db")).unwrap();
        assert!(
            store
                .exported_findings("123456789012", "us-east-1")
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.last_export("123456789012", "us-east-1", "x").unwrap(),
            None
        );
        let now = "2026-11-20T00:00:00Z";
        store
            .record_exported(
                "123456789012",
                "us-east-1",
                &[finding("a", 1, "ACTIVE"), finding("b", 1, "ACTIVE")],
                now,
            )
            .unwrap();
        store
            .record_exported(
                "123456789012",
                "us-east-1",
                &[finding("a", 2, "ARCHIVED")],
                now,
            )
            .unwrap();
        let got = store
            .exported_findings("123456789012", "us-east-1")
            .unwrap();
        assert_eq!(
            got,
            vec![finding("a", 2, "ARCHIVED"), finding("b", 1, "ACTIVE")]
        );
        assert!(
            store
                .exported_findings("123456789012", "eu-west-1")
                .unwrap()
                .is_empty()
        );
        let counts = ExportCounts {
            imported: 2,
            ..ExportCounts::default()
        };
        store
            .record_export_run("123456789012", "us-east-1", (2, "aws:x"), counts, now)
            .unwrap();
        assert_eq!(
            store
                .last_export("123456789012", "us-east-1", "aws:x")
                .unwrap(),
            Some(2)
        );
        assert_eq!(
            store
                .last_export("123456789012", "us-east-1", "aws:y")
                .unwrap(),
            None
        );
    }
}
