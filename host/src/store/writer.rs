//! Writing one scan: everything inside one immediate transaction that
//! commits only when the scan is complete, so a killed scan leaves earlier
//! scans intact and never shows up half-written. Finding lifecycle is
//! computed against the previous scans of the same scope at commit.

use std::collections::BTreeMap;

use rusqlite::{Connection, Transaction, TransactionBehavior, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Result, Store};
use crate::model::FailureRecord;
use crate::model::{
    Asset, CollectionError, Finding, ImportedFinding, MuteRef, Rule, Severity, Status,
};

/// What describes a scan before it runs.
#[derive(Debug, Clone)]
pub struct ScanMeta {
    /// When the scan started (RFC 3339, UTC).
    pub started_at: String,
    /// What is scanned, such as `snapshot:PATH`.
    pub source: String,
    /// The cloud provider, such as `aws`.
    pub provider: String,
    /// The accounts and regions covered; lifecycle compares scans of the same scope.
    pub scope: String,
}

/// Counts of a finished scan, as stored in `scans.summary`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct ScanTotals {
    /// Assets stored.
    pub assets: usize,
    /// Findings stored, imported ones included (those that repeat one of Stance's own excluded).
    pub findings: usize,
    /// Findings by status (`pass`, `fail`, `error`).
    pub by_status: BTreeMap<String, usize>,
    /// Failing findings by severity.
    pub failed_by_severity: BTreeMap<String, usize>,
    /// Failing findings by lifecycle, plus `resolved` (no longer failing).
    pub by_lifecycle: BTreeMap<String, usize>,
    /// Plugin batches that failed (their findings are `error`).
    pub plugin_failures: usize,
    /// What could not be collected (errors of the collection, not of plugins).
    #[serde(default)]
    pub collection_errors: usize,
    /// Findings imported from other sources, by source (duplicates of Stance's own excluded).
    #[serde(default)]
    pub imported: BTreeMap<String, usize>,
    /// Imported findings that repeat one of Stance's own.
    #[serde(default)]
    pub duplicates: usize,
    /// Failing findings a mute covers: counted in `by_status` (their status
    /// stays `fail`) and `by_lifecycle`, not in `failed_by_severity`.
    #[serde(default)]
    pub muted: usize,
}

/// One scan being written: an immediate transaction that [`ScanWriter::commit`]
/// commits; dropped without it, nothing of the scan is kept.
pub struct ScanWriter<'c> {
    tx: Transaction<'c>,
    scan_id: i64,
    meta: ScanMeta,
    assets: usize,
    failures: usize,
    collection_errors: usize,
}

impl Store {
    /// Start writing a scan. Blocks (up to the busy timeout) while another
    /// process is committing a scan; never fails with "database is locked"
    /// before that.
    pub fn begin_scan(&mut self, meta: ScanMeta) -> Result<ScanWriter<'_>> {
        let tx = Transaction::new(&mut self.conn, TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO scans (started_at, finished_at, status, source, provider, scope, stance_version, assets, summary)
             VALUES (?1, ?1, 'running', ?2, ?3, ?4, ?5, 0, '{}')",
            params![meta.started_at, meta.source, meta.provider, meta.scope, env!("CARGO_PKG_VERSION")],
        )?;
        let scan_id = tx.last_insert_rowid();
        Ok(ScanWriter {
            tx,
            scan_id,
            meta,
            assets: 0,
            failures: 0,
            collection_errors: 0,
        })
    }
}

fn body_hash(body: &str) -> String {
    hex::encode(&Sha256::digest(body.as_bytes())[..16])
}

impl ScanWriter<'_> {
    /// The id of the scan being written.
    pub fn scan_id(&self) -> i64 {
        self.scan_id
    }

    /// Store assets of the scan; identical bodies are stored once across scans.
    pub fn add_assets(&mut self, assets: &[Asset]) -> Result<()> {
        let mut body = self
            .tx
            .prepare_cached("INSERT OR IGNORE INTO asset_bodies (hash, body) VALUES (?1, ?2)")?;
        let mut row = self.tx.prepare_cached(
            "INSERT INTO assets (scan_id, id, resource_type, provider, account, region, name, tags, collected_at, body_hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for a in assets {
            let hash = body_hash(&a.body);
            body.execute(params![hash, a.body])?;
            let tags: BTreeMap<&str, &str> = a
                .tags
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            row.execute(params![
                self.scan_id,
                a.id,
                a.resource_type,
                a.provider,
                a.account,
                a.region,
                a.name,
                serde_json::to_string(&tags).unwrap_or_else(|_| "{}".into()),
                a.collected_at,
                hash
            ])?;
        }
        self.assets += assets.len();
        Ok(())
    }

    /// Store the rules a plugin declared, with the plugin's name, version and digest.
    pub fn add_rules(
        &mut self,
        plugin: &str,
        version: &str,
        digest: &str,
        rules: &[Rule],
    ) -> Result<()> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO rules (scan_id, rule_id, plugin, plugin_version, plugin_digest, title, description, severity, resource_types, compliance, remediation, tags)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?;
        for r in rules {
            stmt.execute(params![
                self.scan_id,
                r.id,
                plugin,
                version,
                digest,
                r.title,
                r.description,
                r.severity.as_str(),
                json(&r.resource_types),
                json(&r.compliance),
                json(&r.remediation),
                json(&r.tags),
            ])?;
        }
        Ok(())
    }

    /// Store findings of the scan (lifecycle is computed at commit).
    pub fn add_findings(&mut self, findings: &[Finding]) -> Result<()> {
        self.add_findings_muted(findings, &|_| None)
    }

    /// Store findings of the scan, each failure with the mute that covers
    /// it (`muted`; its status stays `fail`).
    pub fn add_findings_muted(
        &mut self,
        findings: &[Finding],
        muted: &dyn Fn(&Finding) -> Option<MuteRef>,
    ) -> Result<()> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO findings (scan_id, fingerprint, rule_id, plugin, plugin_version, asset_id, resource_type, account, region, severity, severity_rank, status, message, evidence, muted_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        )?;
        for f in findings {
            let mute = (f.status == Status::Fail).then(|| muted(f)).flatten();
            stmt.execute(params![
                self.scan_id,
                f.fingerprint,
                f.rule_id,
                f.plugin,
                f.plugin_version,
                f.asset_id,
                f.resource_type,
                f.account,
                f.region,
                f.severity.as_str(),
                severity_rank(f.severity),
                f.status.as_str(),
                f.message,
                json(&f.evidence),
                mute.as_ref().map(json),
            ])?;
        }
        Ok(())
    }

    /// Record a failed plugin batch.
    pub fn add_failure(&mut self, failure: &FailureRecord) -> Result<()> {
        self.tx.execute(
            "INSERT INTO plugin_failures (scan_id, plugin, plugin_version, rule_id, batch, assets, kind, cause)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                self.scan_id,
                failure.plugin,
                failure.plugin_version,
                failure.rule_id,
                failure.batch as i64,
                failure.assets as i64,
                failure.kind,
                failure.cause
            ],
        )?;
        self.failures += 1;
        Ok(())
    }

    /// Record what could not be collected; it keeps absent findings of those
    /// resource types, accounts and regions from counting as resolved.
    pub fn add_collection_errors(&mut self, errors: &[CollectionError]) -> Result<()> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO collection_errors (scan_id, provider, account, region, service, operation, kind, message, resource_types)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for e in errors {
            stmt.execute(params![
                self.scan_id,
                e.provider,
                e.account,
                e.region,
                e.service,
                e.operation,
                e.kind,
                e.message,
                json(&e.resource_types)
            ])?;
        }
        self.collection_errors += errors.len();
        Ok(())
    }

    /// Store findings of other sources under their own rules (`SOURCE:ID`).
    pub fn add_imported(&mut self, findings: &[ImportedFinding]) -> Result<()> {
        let mut rule = self.tx.prepare_cached(
            "INSERT OR IGNORE INTO rules (scan_id, rule_id, plugin, plugin_version, plugin_digest, title, description, severity, resource_types, compliance, remediation, tags)
             VALUES (?1, ?2, ?3, '', '', ?4, '', ?5, ?6, ?7, ?8, '[]')",
        )?;
        let mut row = self.tx.prepare_cached(
            "INSERT OR IGNORE INTO findings (scan_id, fingerprint, rule_id, plugin, plugin_version, asset_id, resource_type, account, region, severity, severity_rank, status, message, evidence, source, details)
             VALUES (?1, ?2, ?3, ?4, '', ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, '[]', ?4, ?13)",
        )?;
        for f in findings {
            let rule_id = format!("{}:{}", f.source, f.rule_id);
            rule.execute(params![
                self.scan_id,
                rule_id,
                f.source,
                f.title,
                f.severity.as_str(),
                json(&[&f.resource_type]),
                json(&f.compliance),
                json(&f.remediation),
            ])?;
            row.execute(params![
                self.scan_id,
                crate::model::fingerprint(&rule_id, &f.resource_id),
                rule_id,
                f.source,
                f.resource_id,
                f.resource_type,
                f.account,
                f.region,
                f.severity.as_str(),
                severity_rank(f.severity),
                f.status.as_str(),
                f.message,
                json(&f.details),
            ])?;
        }
        Ok(())
    }

    /// Compute lifecycle, record the totals, and commit. Returns the scan id and totals.
    pub fn commit(self, finished_at: &str) -> Result<(i64, ScanTotals)> {
        let scope = self.meta.scope.clone();
        mark_duplicates(&self.tx, self.scan_id)?;
        update_lifecycle(&self.tx, self.scan_id, &scope, finished_at)?;
        let resolved_gone = resolve_absent(&self.tx, self.scan_id, &scope)?;
        update_state(&self.tx, self.scan_id, &scope)?;
        let mut totals = totals(&self.tx, self.scan_id)?;
        totals.assets = self.assets;
        totals.plugin_failures = self.failures;
        totals.collection_errors = self.collection_errors;
        *totals.by_lifecycle.entry("resolved".into()).or_default() += resolved_gone;
        self.tx.execute(
            "UPDATE scans SET status = 'complete', finished_at = ?2, assets = ?3, summary = ?4 WHERE id = ?1",
            params![self.scan_id, finished_at, self.assets as i64, json(&totals)],
        )?;
        self.tx.commit()?;
        Ok((self.scan_id, totals))
    }
}

pub(crate) fn severity_rank(s: Severity) -> i64 {
    match s {
        Severity::Info => 0,
        Severity::Low => 1,
        Severity::Medium => 2,
        Severity::High => 3,
        Severity::Critical => 4,
    }
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// Lifecycle of this scan's findings against the scope's state before it.
fn update_lifecycle(tx: &Connection, scan: i64, scope: &str, now: &str) -> Result<()> {
    tx.execute(
        "UPDATE findings SET lifecycle = 'new', first_seen = ?3, last_seen = ?3
         WHERE scan_id = ?1 AND status = 'fail'
           AND NOT EXISTS (SELECT 1 FROM finding_state s WHERE s.scope = ?2 AND s.fingerprint = findings.fingerprint)",
        params![scan, scope, now],
    )?;
    tx.execute(
        "UPDATE findings SET
            lifecycle = CASE
                WHEN findings.status = 'fail' AND s.last_status = 'fail' THEN 'recurring'
                WHEN findings.status = 'fail' AND s.ever_failed = 1 THEN 'reopened'
                WHEN findings.status = 'fail' THEN 'new'
                WHEN findings.status = 'pass' AND s.last_status = 'fail' THEN 'resolved'
                ELSE NULL END,
            first_seen = CASE WHEN findings.status = 'fail' THEN COALESCE(s.first_seen, ?3) END,
            last_seen = CASE WHEN findings.status = 'fail' THEN ?3 ELSE s.last_seen END
         FROM finding_state s
         WHERE findings.scan_id = ?1 AND s.scope = ?2 AND s.fingerprint = findings.fingerprint",
        params![scan, scope, now],
    )?;
    Ok(())
}

/// Findings that failed last time and are not reported at all now (the
/// resource is gone, or the rule no longer exists) count as resolved;
/// unless their resource type could not be collected in their account and
/// region this time, or (for imported findings) their source could not be
/// read there: either says nothing about them.
fn resolve_absent(tx: &Connection, scan: i64, scope: &str) -> Result<usize> {
    let n = tx.execute(
        "UPDATE finding_state SET last_status = 'absent', last_scan_id = ?1
         WHERE scope = ?2 AND last_status = 'fail'
           AND NOT EXISTS (SELECT 1 FROM findings f WHERE f.scan_id = ?1 AND f.fingerprint = finding_state.fingerprint)
           AND NOT EXISTS (
               SELECT 1 FROM collection_errors e, json_each(e.resource_types) t
               WHERE e.scan_id = ?1 AND t.value = finding_state.resource_type
                 AND e.account = finding_state.account AND e.region = finding_state.region)
           AND NOT EXISTS (
               SELECT 1 FROM collection_errors e
               WHERE e.scan_id = ?1 AND finding_state.rule_id LIKE e.service || ':%'
                 AND e.account = finding_state.account AND e.region = finding_state.region)",
        params![scan, scope],
    )?;
    Ok(n)
}

/// An imported finding repeats one of Stance's own when a Stance rule mapped
/// to the same AWS FSBP control judged the same resource.
fn mark_duplicates(tx: &Connection, scan: i64) -> Result<()> {
    tx.execute(
        "UPDATE findings SET duplicate_of = (
             SELECT ours.fingerprint
             FROM findings ours
             JOIN rules r ON r.scan_id = ours.scan_id AND r.rule_id = ours.rule_id, json_each(r.compliance) c
             JOIN rules imp ON imp.scan_id = findings.scan_id AND imp.rule_id = findings.rule_id, json_each(imp.compliance) ic
             WHERE ours.scan_id = findings.scan_id AND ours.source = 'stance'
               AND ours.asset_id = findings.asset_id
               AND json_extract(c.value, '$.framework') = 'aws-fsbp'
               AND json_extract(ic.value, '$.framework') = 'aws-fsbp'
               AND json_extract(c.value, '$.control') = json_extract(ic.value, '$.control')
             ORDER BY ours.fingerprint LIMIT 1)
         WHERE scan_id = ?1 AND source != 'stance'",
        params![scan],
    )?;
    Ok(())
}

/// Remember this scan's pass/fail outcomes; `error` leaves the previous state as it was.
fn update_state(tx: &Connection, scan: i64, scope: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO finding_state (scope, fingerprint, rule_id, asset_id, first_seen, last_seen, last_status, ever_failed, last_scan_id, resource_type, account, region)
         SELECT ?2, fingerprint, rule_id, asset_id, first_seen, last_seen, status, status = 'fail', ?1, resource_type, account, region
         FROM findings WHERE scan_id = ?1 AND status IN ('pass', 'fail') AND duplicate_of IS NULL
         ON CONFLICT (scope, fingerprint) DO UPDATE SET
            resource_type = excluded.resource_type,
            account = excluded.account,
            region = excluded.region,
            last_status = excluded.last_status,
            ever_failed = finding_state.ever_failed OR excluded.ever_failed,
            first_seen = COALESCE(finding_state.first_seen, excluded.first_seen),
            last_seen = COALESCE(excluded.last_seen, finding_state.last_seen),
            last_scan_id = excluded.last_scan_id",
        params![scan, scope],
    )?;
    Ok(())
}

fn totals(tx: &Connection, scan: i64) -> Result<ScanTotals> {
    let mut t = ScanTotals::default();
    let mut stmt = tx.prepare(
        "SELECT status, severity, lifecycle, source, duplicate_of IS NOT NULL, muted_by IS NOT NULL, count(*)
         FROM findings WHERE scan_id = ?1 GROUP BY 1, 2, 3, 4, 5, 6",
    )?;
    let rows = stmt.query_map([scan], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, bool>(4)?,
            r.get::<_, bool>(5)?,
            r.get::<_, i64>(6)? as usize,
        ))
    })?;
    for row in rows {
        let (status, severity, lifecycle, source, duplicate, muted, n) = row?;
        if duplicate {
            t.duplicates += n;
            continue;
        }
        if source != "stance" {
            *t.imported.entry(source).or_default() += n;
        }
        t.findings += n;
        *t.by_status.entry(status.clone()).or_default() += n;
        if status == "fail" && muted {
            t.muted += n;
        } else if status == "fail" {
            *t.failed_by_severity.entry(severity).or_default() += n;
        }
        if let Some(l) = lifecycle {
            *t.by_lifecycle.entry(l).or_default() += n;
        }
    }
    Ok(t)
}
