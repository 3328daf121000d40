//! Versioned schema migrations, tracked in `PRAGMA user_version`. Each
//! migration runs in its own immediate transaction, so two processes that
//! open a fresh database at once migrate it exactly once.

use rusqlite::{Connection, TransactionBehavior};

pub enum MigrationError {
    Sql(rusqlite::Error),
    TooNew { found: i64, known: i64 },
}

impl From<rusqlite::Error> for MigrationError {
    fn from(e: rusqlite::Error) -> Self {
        MigrationError::Sql(e)
    }
}

/// Migrations in order; migration `i` brings the schema to version `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: scans, assets (bodies deduplicated by hash), rules, findings,
    // plugin failures, and the cross-scan state behind finding lifecycle.
    r#"
    CREATE TABLE scans (
        id             INTEGER PRIMARY KEY,
        started_at     TEXT NOT NULL,
        finished_at    TEXT NOT NULL,
        status         TEXT NOT NULL,
        source         TEXT NOT NULL,
        provider       TEXT NOT NULL,
        scope          TEXT NOT NULL,
        stance_version TEXT NOT NULL,
        assets         INTEGER NOT NULL,
        summary        TEXT NOT NULL
    );
    CREATE INDEX scans_by_scope ON scans(scope, id);

    CREATE TABLE asset_bodies (
        hash TEXT PRIMARY KEY,
        body TEXT NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE assets (
        scan_id       INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
        id            TEXT NOT NULL,
        resource_type TEXT NOT NULL,
        provider      TEXT NOT NULL,
        account       TEXT NOT NULL,
        region        TEXT NOT NULL,
        name          TEXT NOT NULL,
        tags          TEXT NOT NULL,
        collected_at  TEXT NOT NULL,
        body_hash     TEXT NOT NULL,
        PRIMARY KEY (scan_id, id)
    ) WITHOUT ROWID;
    CREATE INDEX assets_by_type ON assets(scan_id, resource_type);

    CREATE TABLE rules (
        scan_id        INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
        rule_id        TEXT NOT NULL,
        plugin         TEXT NOT NULL,
        plugin_version TEXT NOT NULL,
        plugin_digest  TEXT NOT NULL,
        title          TEXT NOT NULL,
        description    TEXT NOT NULL,
        severity       TEXT NOT NULL,
        resource_types TEXT NOT NULL,
        compliance     TEXT NOT NULL,
        remediation    TEXT NOT NULL,
        tags           TEXT NOT NULL,
        PRIMARY KEY (scan_id, rule_id)
    ) WITHOUT ROWID;

    CREATE TABLE findings (
        scan_id        INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
        fingerprint    TEXT NOT NULL,
        rule_id        TEXT NOT NULL,
        plugin         TEXT NOT NULL,
        plugin_version TEXT NOT NULL,
        asset_id       TEXT NOT NULL,
        resource_type  TEXT NOT NULL,
        account        TEXT NOT NULL,
        region         TEXT NOT NULL,
        severity       TEXT NOT NULL,
        severity_rank  INTEGER NOT NULL,
        status         TEXT NOT NULL,
        message        TEXT NOT NULL,
        evidence       TEXT NOT NULL,
        lifecycle      TEXT,
        first_seen     TEXT,
        last_seen      TEXT,
        PRIMARY KEY (scan_id, fingerprint)
    ) WITHOUT ROWID;
    CREATE INDEX findings_by_status ON findings(scan_id, status, severity_rank);

    CREATE TABLE plugin_failures (
        scan_id        INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
        plugin         TEXT NOT NULL,
        plugin_version TEXT NOT NULL,
        rule_id        TEXT,
        batch          INTEGER NOT NULL,
        assets         INTEGER NOT NULL,
        kind           TEXT NOT NULL,
        cause          TEXT NOT NULL
    );
    CREATE INDEX plugin_failures_by_scan ON plugin_failures(scan_id);

    CREATE TABLE finding_state (
        scope        TEXT NOT NULL,
        fingerprint  TEXT NOT NULL,
        rule_id      TEXT NOT NULL,
        asset_id     TEXT NOT NULL,
        first_seen   TEXT,
        last_seen    TEXT,
        last_status  TEXT NOT NULL,
        ever_failed  INTEGER NOT NULL,
        last_scan_id INTEGER NOT NULL,
        PRIMARY KEY (scope, fingerprint)
    ) WITHOUT ROWID;
    "#,
    // 2: live collection. Findings imported from other sources (Security Hub,
    // Inspector2) with their details and the Stance finding they duplicate;
    // what could not be collected; and where each finding's resource lives,
    // so that a resource type that was not collected is not taken as resolved.
    r#"
    ALTER TABLE findings ADD COLUMN source TEXT NOT NULL DEFAULT 'stance';
    ALTER TABLE findings ADD COLUMN duplicate_of TEXT;
    ALTER TABLE findings ADD COLUMN details TEXT;
    CREATE INDEX findings_by_asset ON findings(scan_id, asset_id);

    CREATE TABLE collection_errors (
        scan_id        INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
        provider       TEXT NOT NULL,
        account        TEXT NOT NULL,
        region         TEXT NOT NULL,
        service        TEXT NOT NULL,
        operation      TEXT NOT NULL,
        kind           TEXT NOT NULL,
        message        TEXT NOT NULL,
        resource_types TEXT NOT NULL
    );
    CREATE INDEX collection_errors_by_scan ON collection_errors(scan_id);

    ALTER TABLE finding_state ADD COLUMN resource_type TEXT;
    ALTER TABLE finding_state ADD COLUMN account TEXT;
    ALTER TABLE finding_state ADD COLUMN region TEXT;
    "#,
    // 3: detection. Runs of `stance detect`, the alerts they raised (one row
    // per run and alert; `duplicate` when an earlier run raised the same
    // alert), failed batches, and the detectors' key-value state, which
    // outlives runs so that correlation windows span them.
    r#"
    CREATE TABLE detection_runs (
        id             INTEGER PRIMARY KEY,
        started_at     TEXT NOT NULL,
        finished_at    TEXT NOT NULL,
        status         TEXT NOT NULL,
        inputs         TEXT NOT NULL,
        stance_version TEXT NOT NULL,
        events         INTEGER NOT NULL,
        alerts         INTEGER NOT NULL,
        summary        TEXT NOT NULL
    );

    CREATE TABLE alerts (
        id             INTEGER PRIMARY KEY,
        run_id         INTEGER NOT NULL REFERENCES detection_runs(id) ON DELETE CASCADE,
        fingerprint    TEXT NOT NULL,
        duplicate      INTEGER NOT NULL,
        rule_id        TEXT NOT NULL,
        title          TEXT NOT NULL,
        plugin         TEXT NOT NULL,
        plugin_version TEXT NOT NULL,
        severity       TEXT NOT NULL,
        severity_rank  INTEGER NOT NULL,
        message        TEXT NOT NULL,
        event_ids      TEXT NOT NULL,
        group_key      TEXT,
        window_start   TEXT NOT NULL,
        window_end     TEXT NOT NULL,
        evidence       TEXT NOT NULL,
        account        TEXT NOT NULL,
        region         TEXT NOT NULL,
        source         TEXT NOT NULL
    );
    CREATE INDEX alerts_by_run ON alerts(run_id, severity_rank);
    CREATE INDEX alerts_by_fingerprint ON alerts(fingerprint);
    CREATE INDEX alerts_by_window ON alerts(window_end);

    CREATE TABLE detection_failures (
        run_id         INTEGER NOT NULL REFERENCES detection_runs(id) ON DELETE CASCADE,
        plugin         TEXT NOT NULL,
        plugin_version TEXT NOT NULL,
        rule_id        TEXT,
        batch          INTEGER NOT NULL,
        events         INTEGER NOT NULL,
        kind           TEXT NOT NULL,
        cause          TEXT NOT NULL
    );
    CREATE INDEX detection_failures_by_run ON detection_failures(run_id);

    CREATE TABLE detector_state (
        plugin     TEXT NOT NULL,
        key        TEXT NOT NULL,
        value      BLOB NOT NULL,
        PRIMARY KEY (plugin, key)
    ) WITHOUT ROWID;
    "#,
    // 4: alert suppressions. A suppression silences the alerts of a rule
    // (optionally one group key, optionally alerts whose field has a value)
    // until it expires; an alert it silenced keeps its id in `suppressed_by`.
    r#"
    CREATE TABLE alert_suppressions (
        id          INTEGER PRIMARY KEY,
        rule_id     TEXT NOT NULL,
        group_key   TEXT,
        matches     TEXT NOT NULL,
        until       TEXT NOT NULL,
        reason      TEXT NOT NULL,
        created_at  TEXT NOT NULL
    );
    ALTER TABLE alerts ADD COLUMN suppressed_by INTEGER;
    "#,
];

pub fn migrate(conn: &mut Connection) -> Result<(), MigrationError> {
    let known = MIGRATIONS.len() as i64;
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > known {
            return Err(MigrationError::TooNew {
                found: version,
                known,
            });
        }
        if version == known {
            return Ok(());
        }
        tx.execute_batch(MIGRATIONS[version as usize])?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}
