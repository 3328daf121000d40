//! Detection runs, their alerts and failed batches, and the detectors'
//! key-value state. A run is one immediate transaction, like a scan: alerts
//! and the state the run left behind commit together or not at all, so a
//! killed run neither shows half its alerts nor moves correlation windows.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use super::writer::severity_rank;
use super::{Result, Store};
use crate::model::Alert;
use crate::model::FailureRecord;
use crate::model::{Evidence, Severity};

/// Counts of a finished run, as stored in `detection_runs.summary`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunTotals {
    /// Files, objects and stdin read (or tried).
    pub files: usize,
    /// Events handed to the detectors (inside the time range).
    pub events: usize,
    /// Events left out by `--since`/`--until`.
    pub out_of_range: usize,
    /// Batches of events handed to the detectors.
    pub batches: usize,
    /// Alerts raised for the first time.
    pub alerts: usize,
    /// Alerts an earlier run already raised.
    pub duplicates: usize,
    /// New alerts an active suppression silenced (stored, not routed, not counted in `alerts`).
    #[serde(default)]
    pub suppressed: usize,
    /// New alerts by severity.
    pub by_severity: BTreeMap<String, usize>,
    /// Detector calls that failed (trap, timeout, limit, plugin error); their events raised no alerts there.
    pub failed_batches: usize,
    /// Rules run: Sigma rules loaded plus the rules of the other detector plugins.
    pub rules: usize,
    /// Rules that did not load (`stance rules check` says why).
    pub rule_errors: Vec<String>,
    /// Inputs that could not be read in full.
    pub input_errors: Vec<String>,
    /// Keys of detector state kept after the run, by plugin.
    pub state_keys: BTreeMap<String, usize>,
}

impl RunTotals {
    /// Whether a batch failed, a rule did not load or an input was not read in full.
    pub fn has_errors(&self) -> bool {
        self.failed_batches > 0 || !self.rule_errors.is_empty() || !self.input_errors.is_empty()
    }
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRow {
    /// The alert's row id.
    pub id: i64,
    /// The detection run that raised it.
    pub run_id: i64,
    /// Its identity across runs (the model's `alert_fingerprint`).
    pub fingerprint: String,
    /// An earlier run raised the same alert.
    pub duplicate: bool,
    /// The rule that matched.
    pub rule_id: String,
    /// The rule's title.
    pub title: String,
    /// The detector plugin that carries the rule.
    pub plugin: String,
    /// The plugin's version.
    pub plugin_version: String,
    /// How bad.
    pub severity: Severity,
    /// One line saying what happened.
    pub message: String,
    /// The events that matched.
    pub event_ids: Vec<String>,
    /// A correlation's group (e.g. the user); `None` for single-event rules.
    pub group_key: Option<String>,
    /// Start of the matched window (RFC 3339).
    pub window_start: String,
    /// End of the matched window (RFC 3339); the same as the start for one event.
    pub window_end: String,
    /// The fields that made the match.
    pub evidence: Vec<Evidence>,
    /// Account of the first matched event (empty when unknown).
    pub account: String,
    /// Region of the first matched event (empty when unknown).
    pub region: String,
    /// Log source of the first matched event, such as `aws_cloudtrail`.
    pub source: String,
    /// The suppression that silenced this alert.
    pub suppressed_by: Option<i64>,
}

/// A suppression: alerts of `rule_id` (and `group_key`, and every `matches`
/// field = value) are stored silenced until `until` (RFC 3339, UTC).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suppression {
    /// The suppression's id, what `stance alerts unsuppress` takes.
    pub id: i64,
    /// The rule whose alerts it silences.
    pub rule_id: String,
    /// Only alerts of this correlation group; any group when `None`.
    pub group_key: Option<String>,
    /// `(field, value)` pairs: `account`, `region`, `source`, `plugin`,
    /// `title`, `message`, or an evidence path.
    pub matches: Vec<(String, String)>,
    /// When it expires (RFC 3339, UTC).
    pub until: String,
    /// Why, as given by whoever added it.
    pub reason: String,
    /// When it was added (RFC 3339, UTC).
    pub created_at: String,
}

impl Suppression {
    /// Whether the suppression is in force at `now` (RFC 3339, UTC).
    pub fn active(&self, now: &chrono::DateTime<chrono::Utc>) -> bool {
        chrono::DateTime::parse_from_rfc3339(&self.until).is_ok_and(|t| t > *now)
    }

    /// Whether it covers the alert (expiry not considered). The rule id is a
    /// glob, as in mutes (`crate::mutes::glob`): `stance-test-*`.
    pub fn covers(&self, a: &Alert) -> bool {
        if !crate::mutes::glob::matches(&self.rule_id, &a.rule_id) {
            return false;
        }
        if self.group_key.is_some() && a.group_key != self.group_key {
            return false;
        }
        self.matches.iter().all(|(field, value)| {
            let actual = match field.as_str() {
                "account" => Some(a.account.clone()),
                "region" => Some(a.region.clone()),
                "source" => Some(a.source.clone()),
                "plugin" => Some(a.plugin.clone()),
                "title" => Some(a.title.clone()),
                "message" => Some(a.message.clone()),
                "group_key" => a.group_key.clone(),
                path => a
                    .evidence
                    .iter()
                    .find(|e| e.path == path)
                    .map(|e| match &e.actual {
                        serde_json::Value::String(s) => s.clone(),
                        v => v.to_string(),
                    }),
            };
            actual.as_deref() == Some(value.as_str())
        })
    }
}

/// A complete detection run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetectionRunRow {
    /// The run's id.
    pub id: i64,
    /// When it started (RFC 3339, UTC).
    pub started_at: String,
    /// When it committed (RFC 3339, UTC).
    pub finished_at: String,
    /// Its inputs, as given (files, directories, `s3://` locations, `-`).
    pub inputs: Vec<String>,
    /// The version of Stance that ran it.
    pub stance_version: String,
    /// Its counts.
    pub totals: RunTotals,
    /// Its failed batches, in batch order.
    pub failures: Vec<FailureRecord>,
}

/// Which alerts to list.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    /// One run; all runs when `None`.
    pub run: Option<i64>,
    /// Only these severities; any when empty.
    pub severities: Vec<Severity>,
    /// Only this severity and worse.
    pub min_severity: Option<Severity>,
    /// Only these rules; any when empty.
    pub rules: Vec<String>,
    /// Only alerts whose window ends at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Also alerts an earlier run already raised.
    pub include_duplicates: bool,
    /// Also alerts a suppression silenced.
    pub include_suppressed: bool,
    /// At most this many rows; all when `None`.
    pub limit: Option<usize>,
}

/// One detection run being written: an immediate transaction that
/// [`DetectionWriter::finish`] commits; dropped without it, nothing of the run is kept.
pub struct DetectionWriter<'c> {
    tx: Transaction<'c>,
    run_id: i64,
}

impl Store {
    /// Record a suppression; returns its id.
    pub fn add_suppression(
        &self,
        rule_id: &str,
        group_key: Option<&str>,
        matches: &[(String, String)],
        until: &str,
        reason: &str,
        created_at: &str,
    ) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO alert_suppressions (rule_id, group_key, matches, until, reason, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                rule_id,
                group_key,
                serde_json::to_string(matches).unwrap_or_else(|_| "[]".into()),
                until,
                reason,
                created_at
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Every suppression, oldest first.
    pub fn suppressions(&self) -> Result<Vec<Suppression>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, rule_id, group_key, matches, until, reason, created_at FROM alert_suppressions ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            let matches: String = r.get(3)?;
            Ok(Suppression {
                id: r.get(0)?,
                rule_id: r.get(1)?,
                group_key: r.get(2)?,
                matches: serde_json::from_str(&matches).unwrap_or_default(),
                until: r.get(4)?,
                reason: r.get(5)?,
                created_at: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Delete a suppression; false when there is none with that id.
    pub fn remove_suppression(&self, id: i64) -> Result<bool> {
        Ok(self
            .conn
            .execute("DELETE FROM alert_suppressions WHERE id = ?1", [id])?
            > 0)
    }

    /// The state a detector kept, by key.
    pub fn detector_state(&self, plugin: &str) -> Result<BTreeMap<String, Vec<u8>>> {
        let mut stmt = self
            .conn
            .prepare("SELECT key, value FROM detector_state WHERE plugin = ?1")?;
        let rows = stmt.query_map([plugin], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Start a detection run (blocks while another process commits one).
    pub fn begin_detection(
        &mut self,
        started_at: &str,
        inputs: &[String],
    ) -> Result<DetectionWriter<'_>> {
        let tx = Transaction::new(&mut self.conn, TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO detection_runs (started_at, finished_at, status, inputs, stance_version, events, alerts, summary)
             VALUES (?1, ?1, 'running', ?2, ?3, 0, 0, '{}')",
            params![
                started_at,
                serde_json::to_string(inputs).unwrap_or_else(|_| "[]".into()),
                env!("CARGO_PKG_VERSION")
            ],
        )?;
        let run_id = tx.last_insert_rowid();
        Ok(DetectionWriter { tx, run_id })
    }

    /// The newest complete detection run; `None` when there is none.
    pub fn latest_detection_run_id(&self) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row(
                "SELECT max(id) FROM detection_runs WHERE status = 'complete'",
                [],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    /// Complete runs, newest first (`id` alone when given).
    pub fn detection_runs(&self, id: Option<i64>, limit: usize) -> Result<Vec<DetectionRunRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, started_at, finished_at, inputs, stance_version, summary FROM detection_runs
             WHERE status = 'complete' AND (?1 IS NULL OR id = ?1) ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![id, limit as i64], |r| {
            let inputs: String = r.get(3)?;
            let summary: String = r.get(5)?;
            Ok(DetectionRunRow {
                id: r.get(0)?,
                started_at: r.get(1)?,
                finished_at: r.get(2)?,
                inputs: serde_json::from_str(&inputs).unwrap_or_default(),
                stance_version: r.get(4)?,
                totals: serde_json::from_str(&summary).unwrap_or_default(),
                failures: Vec::new(),
            })
        })?;
        let mut runs: Vec<DetectionRunRow> = rows.collect::<rusqlite::Result<_>>()?;
        let mut fstmt = self.conn.prepare(
            "SELECT plugin, plugin_version, rule_id, batch, events, kind, cause FROM detection_failures WHERE run_id = ?1 ORDER BY batch",
        )?;
        for run in &mut runs {
            run.failures = fstmt
                .query_map([run.id], |r| {
                    Ok(FailureRecord {
                        plugin: r.get(0)?,
                        plugin_version: r.get(1)?,
                        rule_id: r.get(2)?,
                        batch: r.get::<_, i64>(3)? as usize,
                        assets: r.get::<_, i64>(4)? as usize,
                        kind: r.get(5)?,
                        cause: r.get(6)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
        }
        Ok(runs)
    }

    /// Alerts of complete runs, newest first, most severe first within a run.
    pub fn alerts(&self, f: &AlertFilter) -> Result<Vec<AlertRow>> {
        let mut sql = String::from(
            "SELECT a.id, a.run_id, a.fingerprint, a.duplicate, a.rule_id, a.title, a.plugin, a.plugin_version,
                    a.severity, a.message, a.event_ids, a.group_key, a.window_start, a.window_end,
                    a.evidence, a.account, a.region, a.source, a.suppressed_by
             FROM alerts a JOIN detection_runs r ON r.id = a.run_id WHERE r.status = 'complete'",
        );
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        let mut arg = |sql: &mut String, clause: &str, v: rusqlite::types::Value| {
            args.push(v);
            sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
        };
        if let Some(run) = f.run {
            arg(&mut sql, " AND a.run_id = ?", run.into());
        }
        if !f.include_duplicates {
            sql.push_str(" AND a.duplicate = 0");
        }
        if !f.include_suppressed {
            sql.push_str(" AND a.suppressed_by IS NULL");
        }
        if let Some(min) = f.min_severity {
            arg(
                &mut sql,
                " AND a.severity_rank >= ?",
                severity_rank(min).into(),
            );
        }
        if !f.severities.is_empty() {
            let list: Vec<String> = f
                .severities
                .iter()
                .map(|s| severity_rank(*s).to_string())
                .collect();
            sql.push_str(&format!(" AND a.severity_rank IN ({})", list.join(",")));
        }
        if !f.rules.is_empty() {
            sql.push_str(" AND a.rule_id IN (");
            for (i, r) in f.rules.iter().enumerate() {
                if i > 0 {
                    sql.push(',');
                }
                arg(&mut sql, "?", r.clone().into());
            }
            sql.push(')');
        }
        if let Some(since) = &f.since {
            arg(&mut sql, " AND a.window_end >= ?", since.clone().into());
        }
        sql.push_str(" ORDER BY a.run_id DESC, a.severity_rank DESC, a.window_start, a.id");
        if let Some(limit) = f.limit {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), alert_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl DetectionWriter<'_> {
    /// The id of the run being written.
    pub fn run_id(&self) -> i64 {
        self.run_id
    }

    /// Store a batch's alerts, each with the suppression that silenced it
    /// (if any); returns, for each, whether it is new (no earlier alert, in
    /// this run or a complete earlier one, has its fingerprint).
    pub fn add_alerts(&mut self, alerts: &[(Alert, Option<i64>)]) -> Result<Vec<bool>> {
        let mut seen = self.tx.prepare_cached(
            "SELECT 1 FROM alerts a JOIN detection_runs r ON r.id = a.run_id
             WHERE a.fingerprint = ?1 AND (r.status = 'complete' OR r.id = ?2) LIMIT 1",
        )?;
        let mut insert = self.tx.prepare_cached(
            "INSERT INTO alerts (run_id, fingerprint, duplicate, rule_id, title, plugin, plugin_version, severity, severity_rank,
                                 message, event_ids, group_key, window_start, window_end, evidence, account, region, source, suppressed_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
        )?;
        let mut fresh = Vec::with_capacity(alerts.len());
        for (a, suppressed_by) in alerts {
            let dup = seen
                .query_row(params![a.fingerprint, self.run_id], |_| Ok(()))
                .optional()?
                .is_some();
            insert.execute(params![
                self.run_id,
                a.fingerprint,
                dup as i64,
                a.rule_id,
                a.title,
                a.plugin,
                a.plugin_version,
                a.severity.as_str(),
                severity_rank(a.severity),
                a.message,
                serde_json::to_string(&a.event_ids).unwrap_or_else(|_| "[]".into()),
                a.group_key,
                a.window_start,
                a.window_end,
                serde_json::to_string(&a.evidence).unwrap_or_else(|_| "[]".into()),
                a.account,
                a.region,
                a.source,
                suppressed_by,
            ])?;
            fresh.push(!dup);
        }
        Ok(fresh)
    }

    /// Record a failed batch of the run.
    pub fn add_failure(&mut self, f: &FailureRecord) -> Result<()> {
        self.tx.execute(
            "INSERT INTO detection_failures (run_id, plugin, plugin_version, rule_id, batch, events, kind, cause)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                self.run_id,
                f.plugin,
                f.plugin_version,
                f.rule_id,
                f.batch as i64,
                f.assets as i64,
                f.kind,
                f.cause
            ],
        )?;
        Ok(())
    }

    /// Persist the keys a detector changed (`None`: deleted).
    pub fn save_state(
        &mut self,
        plugin: &str,
        changes: &[(String, Option<Vec<u8>>)],
    ) -> Result<()> {
        let mut put = self.tx.prepare_cached(
            "INSERT INTO detector_state (plugin, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value",
        )?;
        let mut del = self
            .tx
            .prepare_cached("DELETE FROM detector_state WHERE plugin = ?1 AND key = ?2")?;
        for (k, v) in changes {
            match v {
                Some(v) => put.execute(params![plugin, k, v])?,
                None => del.execute(params![plugin, k])?,
            };
        }
        Ok(())
    }

    /// Mark the run complete and commit everything.
    pub fn finish(self, finished_at: &str, totals: &RunTotals) -> Result<()> {
        self.tx.execute(
            "UPDATE detection_runs SET finished_at = ?2, status = 'complete', events = ?3, alerts = ?4, summary = ?5 WHERE id = ?1",
            params![
                self.run_id,
                finished_at,
                totals.events as i64,
                totals.alerts as i64,
                serde_json::to_string(totals).unwrap_or_else(|_| "{}".into())
            ],
        )?;
        self.tx.commit()?;
        Ok(())
    }
}

/// A row of the alerts query.
fn alert_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AlertRow> {
    let sev: String = r.get(8)?;
    let ids: String = r.get(10)?;
    let evidence: String = r.get(14)?;
    Ok(AlertRow {
        id: r.get(0)?,
        run_id: r.get(1)?,
        fingerprint: r.get(2)?,
        duplicate: r.get::<_, i64>(3)? != 0,
        rule_id: r.get(4)?,
        title: r.get(5)?,
        plugin: r.get(6)?,
        plugin_version: r.get(7)?,
        severity: sev.parse().unwrap_or(Severity::Info),
        message: r.get(9)?,
        event_ids: serde_json::from_str(&ids).unwrap_or_default(),
        group_key: r.get(11)?,
        window_start: r.get(12)?,
        window_end: r.get(13)?,
        evidence: serde_json::from_str(&evidence).unwrap_or_default(),
        account: r.get(15)?,
        region: r.get(16)?,
        source: r.get(17)?,
        suppressed_by: r.get(18)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suppression_rule_is_a_glob_shared_with_mutes() {
        let alert = Alert {
            fingerprint: "f".into(),
            rule_id: "stance-test-console-bruteforce".into(),
            title: "t".into(),
            plugin: "sigma".into(),
            plugin_version: "0".into(),
            severity: crate::model::Severity::High,
            message: "m".into(),
            event_ids: vec![],
            group_key: None,
            window_start: String::new(),
            window_end: String::new(),
            evidence: vec![],
            account: "1".into(),
            region: "us-east-1".into(),
            source: "cloudtrail".into(),
        };
        let with_rule = |rule: &str| Suppression {
            id: 1,
            rule_id: rule.into(),
            group_key: None,
            matches: vec![],
            until: String::new(),
            reason: "r".into(),
            created_at: String::new(),
        };
        assert!(with_rule("stance-test-console-bruteforce").covers(&alert));
        assert!(with_rule("stance-test-*").covers(&alert));
        assert!(!with_rule("stance-prod-*").covers(&alert));
        assert!(!with_rule("stance-test-console").covers(&alert));
    }
}
