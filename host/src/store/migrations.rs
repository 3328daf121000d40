//! Versioned schema migrations, tracked in `PRAGMA user_version`, and the
//! recognition of a Stance database (`PRAGMA application_id`, else the
//! tables its `user_version` implies). Each migration runs in its own
//! immediate transaction, so two processes that open a fresh database at
//! once migrate it exactly once.

use std::collections::BTreeSet;

use rusqlite::{Connection, ErrorCode, TransactionBehavior};

use super::{APPLICATION_ID, layout};

pub enum MigrationError {
    Sql(rusqlite::Error),
    /// A migration's SQL failed; the message is SQLite's, without the SQL.
    Step {
        version: i64,
        message: String,
    },
    TooNew {
        found: i64,
    },
    Foreign(String),
}

impl From<rusqlite::Error> for MigrationError {
    fn from(e: rusqlite::Error) -> Self {
        MigrationError::Sql(e)
    }
}

/// One migration: SQL, or the conversion to the compact layout (SQL and
/// a step in Rust, [`super::layout`]).
enum Step {
    Sql(&'static str),
    Compact,
}

impl Step {
    /// The SQL of the step, for the tables it creates.
    fn sql(&self) -> &'static str {
        match self {
            Step::Sql(sql) => sql,
            Step::Compact => layout::START,
        }
    }

    fn run(&self, conn: &Connection) -> rusqlite::Result<()> {
        match self {
            Step::Sql(sql) => conn.execute_batch(sql),
            Step::Compact => {
                conn.execute_batch(layout::START)?;
                layout::convert_findings(conn)?;
                conn.execute_batch(layout::FINISH)
            }
        }
    }
}

/// Migrations in order; migration `i` brings the schema to version `i + 1`.
const MIGRATIONS: &[Step] = &[
    // 1: scans, assets (bodies deduplicated by hash), rules, findings,
    // plugin failures, and the cross-scan state behind finding lifecycle.
    Step::Sql(
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
    ),
    // 2: live collection. Findings imported from other sources (Security Hub,
    // Inspector2) with their details and the Stance finding they duplicate;
    // what could not be collected; and where each finding's resource lives,
    // so that a resource type that was not collected is not taken as resolved.
    Step::Sql(
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
    ),
    // 3: detection. Runs of `stance detect`, the alerts they raised (one row
    // per run and alert; `duplicate` when an earlier run raised the same
    // alert), failed batches, and the detectors' key-value state, which
    // outlives runs so that correlation windows span them.
    Step::Sql(
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
    ),
    // 4: alert suppressions. A suppression silences the alerts of a rule
    // (optionally one group key, optionally alerts whose field has a value)
    // until it expires; an alert it silenced keeps its id in `suppressed_by`.
    Step::Sql(
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
    ),
    // 5: mutes. A failing finding a mute covered keeps its status and holds
    // the mute (id, reason, owner, expiry) as JSON in `muted_by`.
    Step::Sql(
        r#"
    ALTER TABLE findings ADD COLUMN muted_by TEXT;
    "#,
    ),
    // 6: compact results. Passes that show nothing of their own become
    // three integers; names, asset versions and finding content are stored
    // once; `findings` and `assets` become views with their old columns
    // (see `layout`).
    Step::Compact,
];

/// The schema version this Stance writes.
pub fn known() -> i64 {
    MIGRATIONS.len() as i64
}

/// What a database file is, read without changing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// No tables and no version: a new file (or one SQLite just created).
    Empty,
    /// A Stance database at this schema version (possibly newer than [`known`]).
    Stance { version: i64 },
    /// Something else, described for the error.
    Foreign(String),
}

/// Recognise a database by its header and tables; reads only.
pub fn identify(conn: &Connection) -> rusqlite::Result<Identity> {
    let header = conn.query_row(
        "SELECT (SELECT application_id FROM pragma_application_id), (SELECT user_version FROM pragma_user_version)",
        [],
        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
    );
    let (app, version) = match header {
        Ok(h) => h,
        Err(e) if e.sqlite_error_code() == Some(ErrorCode::NotADatabase) => {
            return Ok(Identity::Foreign("it is not an SQLite database".into()));
        }
        Err(e) => return Err(e),
    };
    if app == APPLICATION_ID {
        return Ok(Identity::Stance { version });
    }
    if app != 0 {
        return Ok(Identity::Foreign(format!(
            "its SQLite application_id is {app:#010x}; Stance's is {APPLICATION_ID:#010x}"
        )));
    }
    let tables = tables(conn)?;
    if tables.is_empty() && version == 0 {
        return Ok(Identity::Empty);
    }
    // A database of a Stance before application ids: every table its
    // user_version implies is there.
    if (1..=known()).contains(&version) && created_by(version).is_subset(&tables) {
        return Ok(Identity::Stance { version });
    }
    let shown: Vec<&str> = tables.iter().take(5).map(String::as_str).collect();
    let more = if tables.len() > shown.len() {
        ", …"
    } else {
        ""
    };
    Ok(Identity::Foreign(format!(
        "user_version {version}, no Stance application_id, tables: {}{more}",
        if shown.is_empty() {
            "none".to_string()
        } else {
            shown.join(", ")
        }
    )))
}

/// The tables and views of the database (`findings` and `assets` are
/// views since version 6), SQLite's own left out.
fn tables(conn: &Connection) -> rusqlite::Result<BTreeSet<String>> {
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
    )?;
    let names = stmt.query_map([], |r| r.get::<_, String>(0))?;
    names.collect()
}

/// The tables the migrations up to `version` create.
fn created_by(version: i64) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for step in MIGRATIONS.iter().take(version.max(0) as usize) {
        let words: Vec<&str> = step.sql().split_whitespace().collect();
        for w in words.windows(3) {
            if w[0] == "CREATE" && w[1] == "TABLE" {
                names.insert(w[2].to_string());
            }
        }
    }
    names
}

/// Bring the database to the latest schema, marking it as Stance's. The
/// database is identified again inside each transaction, so a file another
/// process filled in the meantime is still refused.
pub fn migrate(conn: &mut Connection) -> Result<(), MigrationError> {
    migrate_until(conn, known())
}

/// Bring the database to schema version `target` (tests build databases of
/// older versions with it).
pub fn migrate_until(conn: &mut Connection, target: i64) -> Result<(), MigrationError> {
    let known = known();
    let mut created = false;
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version = match identify(&tx)? {
            Identity::Foreign(what) => return Err(MigrationError::Foreign(what)),
            Identity::Empty => {
                created = true;
                0
            }
            Identity::Stance { version } => version,
        };
        if version > known {
            return Err(MigrationError::TooNew { found: version });
        }
        let app: i64 = tx.pragma_query_value(None, "application_id", |r| r.get(0))?;
        if app != APPLICATION_ID {
            tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        }
        if version >= target {
            tx.commit()?;
            return compact_new(conn, created);
        }
        MIGRATIONS[version as usize]
            .run(&tx)
            .map_err(|e| MigrationError::Step {
                version: version + 1,
                message: short(&e),
            })?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}

/// A database this process just created holds the pages of the tables
/// later migrations replaced (the wide `findings` and `assets`): give
/// them back, so a new database starts without free pages.
fn compact_new(conn: &Connection, created: bool) -> Result<(), MigrationError> {
    if created {
        let free: i64 = conn.pragma_query_value(None, "freelist_count", |r| r.get(0))?;
        if free > 0 {
            conn.execute_batch("VACUUM")?;
        }
    }
    Ok(())
}

/// SQLite's message without the statement it quotes.
fn short(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqlInputError { msg, .. } => msg.clone(),
        rusqlite::Error::SqliteFailure(_, Some(msg)) => msg.clone(),
        other => other.to_string(),
    }
}
