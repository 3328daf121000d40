//! The compact layout of scan results (schema version 6) and the one
//! conversion into it from the wide layout of versions 1 to 5. Owns the
//! SQL of the layout's tables and views, the rule that decides which pass
//! is stored compactly, and the interning of names and finding content
//! that the writer and the conversion share. Never runs plugins, never
//! parses raw input.
//!
//! What is kept for one scan:
//!
//! - every failure and error, every pass that carries a message, evidence
//!   or a lifecycle (a pass that resolves a failure, or a pass of a finding
//!   that failed before in the scope), and every imported finding: a full
//!   row in `results`, with its message and evidence stored once per
//!   distinct content in `finding_content` (a failure that recurs with the
//!   same evidence points at the same content row);
//! - every other pass (never failed in the scope, no message, no evidence,
//!   the rule's severity and plugin, the asset's type, account and region):
//!   one row of `passes`, three integers (scan, asset, rule). Everything
//!   else a pass row shows is the scan's own rule row (plugin, version,
//!   severity), the scan's asset (type, account, region) and the
//!   fingerprint, which is `model::fingerprint(rule, asset)`;
//! - every asset: one row of `scan_assets` (scan, asset, version, and the
//!   collection time when it differs from the version's), pointing at an
//!   `asset_versions` row shared by every scan in which the asset looked
//!   the same; bodies stay deduplicated by hash in `asset_bodies`.
//!
//! Rule ids and asset ids are interned once in `rule_names` and
//! `asset_names`, so a (rule, asset) pair is the same two integers in every
//! scan. The views `findings` and `assets` show every scan with the columns
//! the wide layout had (a compact pass's `fingerprint` is NULL there; Stance
//! recomputes it), so SQL written against the old tables keeps counting and
//! reading the same rows.

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

/// The tables of the compact layout, and the conversion of the assets of a
/// version-5 database; the findings are converted by [`convert_findings`]
/// and [`FINISH`] drops the wide table and creates the views.
pub const START: &str = r#"
    CREATE TABLE rule_names (
        key     INTEGER PRIMARY KEY,
        rule_id TEXT NOT NULL UNIQUE
    );
    CREATE TABLE asset_names (
        key INTEGER PRIMARY KEY,
        id  TEXT NOT NULL UNIQUE
    );
    CREATE TABLE asset_versions (
        key           INTEGER PRIMARY KEY,
        asset         INTEGER NOT NULL,
        resource_type TEXT NOT NULL,
        provider      TEXT NOT NULL,
        account       TEXT NOT NULL,
        region        TEXT NOT NULL,
        name          TEXT NOT NULL,
        tags          TEXT NOT NULL,
        collected_at  TEXT NOT NULL,
        body_hash     TEXT NOT NULL
    );
    CREATE INDEX asset_versions_by_asset ON asset_versions(asset);
    CREATE TABLE scan_assets (
        scan_id      INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
        asset        INTEGER NOT NULL,
        version      INTEGER NOT NULL,
        collected_at TEXT,
        PRIMARY KEY (scan_id, asset)
    ) WITHOUT ROWID;
    CREATE TABLE finding_content (
        key      INTEGER PRIMARY KEY,
        hash     BLOB NOT NULL UNIQUE,
        message  TEXT NOT NULL,
        evidence TEXT NOT NULL
    );
    CREATE TABLE results (
        scan_id        INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
        asset          INTEGER NOT NULL,
        rule           INTEGER NOT NULL,
        fingerprint    TEXT NOT NULL,
        plugin         TEXT NOT NULL,
        plugin_version TEXT NOT NULL,
        resource_type  TEXT NOT NULL,
        account        TEXT NOT NULL,
        region         TEXT NOT NULL,
        severity       TEXT NOT NULL,
        severity_rank  INTEGER NOT NULL,
        status         TEXT NOT NULL,
        content        INTEGER NOT NULL,
        lifecycle      TEXT,
        first_seen     TEXT,
        last_seen      TEXT,
        source         TEXT NOT NULL DEFAULT 'stance',
        duplicate_of   TEXT,
        details        TEXT,
        muted_by       TEXT,
        PRIMARY KEY (scan_id, asset, rule)
    ) WITHOUT ROWID;
    CREATE TABLE passes (
        scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
        asset   INTEGER NOT NULL,
        rule    INTEGER NOT NULL,
        PRIMARY KEY (scan_id, asset, rule)
    ) WITHOUT ROWID;

    INSERT INTO rule_names (rule_id) SELECT DISTINCT rule_id FROM findings ORDER BY 1;
    INSERT INTO asset_names (id) SELECT id FROM assets UNION SELECT asset_id FROM findings;
    INSERT INTO asset_versions (asset, resource_type, provider, account, region, name, tags, collected_at, body_hash)
        SELECT n.key, a.resource_type, a.provider, a.account, a.region, a.name, a.tags, min(a.collected_at), a.body_hash
        FROM assets a JOIN asset_names n ON n.id = a.id
        GROUP BY n.key, a.resource_type, a.provider, a.account, a.region, a.name, a.tags, a.body_hash;
    INSERT INTO scan_assets (scan_id, asset, version, collected_at)
        SELECT a.scan_id, n.key, v.key, NULLIF(a.collected_at, v.collected_at)
        FROM assets a JOIN asset_names n ON n.id = a.id
        JOIN asset_versions v ON v.asset = n.key AND v.resource_type = a.resource_type
            AND v.provider = a.provider AND v.account = a.account AND v.region = a.region
            AND v.name = a.name AND v.tags = a.tags AND v.body_hash = a.body_hash;
    DROP TABLE assets;
    ALTER TABLE findings RENAME TO wide_findings;
    DELETE FROM finding_state WHERE ever_failed = 0 AND last_status = 'pass';
"#;

/// After the conversion: the wide table goes, the views take its place.
pub const FINISH: &str = r#"
    DROP TABLE wide_findings;

    CREATE VIEW assets AS
    SELECT sa.scan_id AS scan_id, n.id AS id, v.resource_type AS resource_type,
           v.provider AS provider, v.account AS account, v.region AS region, v.name AS name,
           v.tags AS tags, COALESCE(sa.collected_at, v.collected_at) AS collected_at,
           v.body_hash AS body_hash
    FROM scan_assets sa
    JOIN asset_names n ON n.key = sa.asset
    JOIN asset_versions v ON v.key = sa.version;

    CREATE VIEW findings AS
    SELECT r.scan_id AS scan_id, r.fingerprint AS fingerprint, rn.rule_id AS rule_id,
           r.plugin AS plugin, r.plugin_version AS plugin_version, an.id AS asset_id,
           r.resource_type AS resource_type, r.account AS account, r.region AS region,
           r.severity AS severity, r.severity_rank AS severity_rank, r.status AS status,
           c.message AS message, c.evidence AS evidence, r.lifecycle AS lifecycle,
           r.first_seen AS first_seen, r.last_seen AS last_seen, r.source AS source,
           r.duplicate_of AS duplicate_of, r.details AS details, r.muted_by AS muted_by
    FROM results r
    JOIN rule_names rn ON rn.key = r.rule
    JOIN asset_names an ON an.key = r.asset
    JOIN finding_content c ON c.key = r.content
    UNION ALL
    SELECT p.scan_id, NULL, rn.rule_id, ru.plugin, ru.plugin_version, an.id,
           v.resource_type, v.account, v.region, ru.severity,
           CASE ru.severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2
                WHEN 'low' THEN 1 ELSE 0 END,
           'pass', '', '[]', NULL, NULL, NULL, 'stance', NULL, NULL, NULL
    FROM passes p
    JOIN rule_names rn ON rn.key = p.rule
    JOIN asset_names an ON an.key = p.asset
    JOIN rules ru ON ru.scan_id = p.scan_id AND ru.rule_id = rn.rule_id
    JOIN scan_assets sa ON sa.scan_id = p.scan_id AND sa.asset = p.asset
    JOIN asset_versions v ON v.key = sa.version;

    CREATE TRIGGER findings_delete INSTEAD OF DELETE ON findings BEGIN
        DELETE FROM results WHERE scan_id = OLD.scan_id
            AND asset = (SELECT key FROM asset_names WHERE id = OLD.asset_id)
            AND rule = (SELECT key FROM rule_names WHERE rule_id = OLD.rule_id);
        DELETE FROM passes WHERE scan_id = OLD.scan_id
            AND asset = (SELECT key FROM asset_names WHERE id = OLD.asset_id)
            AND rule = (SELECT key FROM rule_names WHERE rule_id = OLD.rule_id);
    END;
"#;

/// What a pass is compared with to be stored compactly: the scan's row of
/// its rule, and the scan's asset.
pub struct PassDefaults<'a> {
    /// The rule's severity, plugin and plugin version in this scan.
    pub rule: (&'a str, &'a str, &'a str),
    /// The asset's resource type, account and region in this scan.
    pub asset: (&'a str, &'a str, &'a str),
}

/// One result as the writer or the conversion holds it.
pub struct ResultFields<'a> {
    pub fingerprint: &'a str,
    pub rule_id: &'a str,
    pub asset_id: &'a str,
    pub plugin: &'a str,
    pub plugin_version: &'a str,
    pub resource_type: &'a str,
    pub account: &'a str,
    pub region: &'a str,
    pub severity: &'a str,
    pub status: &'a str,
    pub message: &'a str,
    /// The evidence as stored (JSON text).
    pub evidence: &'a str,
}

/// Whether a pass is one the compact form shows exactly as it is: nothing
/// of its own but its existence. `remembered` is whether the scope's
/// lifecycle memory says it failed before (then it carries a lifecycle or
/// a last failure time, and is kept whole). The fingerprint is checked
/// because the compact form recomputes it.
pub fn compact_pass(f: &ResultFields<'_>, d: Option<&PassDefaults<'_>>, remembered: bool) -> bool {
    let Some(d) = d else { return false };
    f.status == "pass"
        && !remembered
        && f.message.is_empty()
        && f.evidence == "[]"
        && (f.severity, f.plugin, f.plugin_version) == d.rule
        && (f.resource_type, f.account, f.region) == d.asset
        && f.fingerprint == crate::model::fingerprint(f.rule_id, f.asset_id)
}

/// A fingerprint as a number, for the writer's set of remembered failures.
pub fn fingerprint_bits(fingerprint: &str) -> Option<u128> {
    (fingerprint.len() == 32)
        .then(|| u128::from_str_radix(fingerprint, 16).ok())
        .flatten()
}

/// The key of a rule id, interned when new.
pub fn rule_key(conn: &Connection, rule_id: &str) -> rusqlite::Result<i64> {
    intern(
        conn,
        "SELECT key FROM rule_names WHERE rule_id = ?1",
        "INSERT INTO rule_names (rule_id) VALUES (?1)",
        rule_id,
    )
}

/// The key of an asset id (or an imported finding's resource id), interned when new.
pub fn asset_key(conn: &Connection, id: &str) -> rusqlite::Result<i64> {
    intern(
        conn,
        "SELECT key FROM asset_names WHERE id = ?1",
        "INSERT INTO asset_names (id) VALUES (?1)",
        id,
    )
}

fn intern(conn: &Connection, select: &str, insert: &str, value: &str) -> rusqlite::Result<i64> {
    let found = conn
        .prepare_cached(select)?
        .query_row([value], |r| r.get(0))
        .optional()?;
    match found {
        Some(key) => Ok(key),
        None => {
            conn.prepare_cached(insert)?.execute([value])?;
            Ok(conn.last_insert_rowid())
        }
    }
}

/// The key of a (message, evidence) pair, stored once however many
/// findings of however many scans say it.
pub fn content_key(conn: &Connection, message: &str, evidence: &str) -> rusqlite::Result<i64> {
    let mut h = Sha256::new();
    h.update(message.as_bytes());
    h.update([0]);
    h.update(evidence.as_bytes());
    let hash = &h.finalize()[..16];
    let found = conn
        .prepare_cached("SELECT key FROM finding_content WHERE hash = ?1")?
        .query_row([hash], |r| r.get(0))
        .optional()?;
    match found {
        Some(key) => Ok(key),
        None => {
            conn.prepare_cached(
                "INSERT INTO finding_content (hash, message, evidence) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![hash, message, evidence])?;
            Ok(conn.last_insert_rowid())
        }
    }
}

/// The full-row insert of the writer and the conversion.
pub const INSERT_RESULT: &str = "INSERT INTO results (scan_id, asset, rule, fingerprint, plugin, plugin_version, resource_type, account, region, severity, severity_rank, status, content, lifecycle, first_seen, last_seen, source, duplicate_of, details, muted_by)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)";

/// The compact-pass insert.
pub const INSERT_PASS: &str = "INSERT INTO passes (scan_id, asset, rule) VALUES (?1, ?2, ?3)";

/// Every row of the wide table with the keys of its names and what the
/// compact form would show for it.
const WIDE_ROWS: &str = "SELECT f.scan_id, f.fingerprint, f.rule_id, f.asset_id, f.plugin, f.plugin_version,
        f.resource_type, f.account, f.region, f.severity, f.severity_rank, f.status, f.message, f.evidence,
        f.lifecycle, f.first_seen, f.last_seen, f.source, f.duplicate_of, f.details, f.muted_by,
        rn.key, an.key, ru.severity, ru.plugin, ru.plugin_version, v.resource_type, v.account, v.region
 FROM wide_findings f
 JOIN rule_names rn ON rn.rule_id = f.rule_id
 JOIN asset_names an ON an.id = f.asset_id
 LEFT JOIN rules ru ON ru.scan_id = f.scan_id AND ru.rule_id = f.rule_id
 LEFT JOIN scan_assets sa ON sa.scan_id = f.scan_id AND sa.asset = an.key
 LEFT JOIN asset_versions v ON v.key = sa.version";

/// Move every row of the wide `findings` table (renamed `wide_findings` by
/// [`START`]) into `results` or `passes`, by the same rule the writer
/// follows, so that the `findings` view answers exactly as the table did.
pub fn convert_findings(conn: &Connection) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(WIDE_ROWS)?;
    let mut rows = stmt.query([])?;
    let mut full = conn.prepare(INSERT_RESULT)?;
    let mut pass = conn.prepare(INSERT_PASS)?;
    while let Some(r) = rows.next()? {
        let text = |i: usize| r.get::<_, String>(i);
        let opt = |i: usize| r.get::<_, Option<String>>(i);
        let (scan, rule, asset): (i64, i64, i64) = (r.get(0)?, r.get(21)?, r.get(22)?);
        let (fingerprint, rule_id, asset_id) = (text(1)?, text(2)?, text(3)?);
        let (plugin, version, rtype, account, region) =
            (text(4)?, text(5)?, text(6)?, text(7)?, text(8)?);
        let (severity, status, message, evidence) = (text(9)?, text(11)?, text(12)?, text(13)?);
        let extra = [opt(14)?, opt(15)?, opt(16)?, opt(18)?, opt(19)?, opt(20)?];
        let source = text(17)?;
        let fields = ResultFields {
            fingerprint: &fingerprint,
            rule_id: &rule_id,
            asset_id: &asset_id,
            plugin: &plugin,
            plugin_version: &version,
            resource_type: &rtype,
            account: &account,
            region: &region,
            severity: &severity,
            status: &status,
            message: &message,
            evidence: &evidence,
        };
        let rule_row = (opt(23)?, opt(24)?, opt(25)?);
        let asset_row = (opt(26)?, opt(27)?, opt(28)?);
        let defaults = match (rule_row, asset_row) {
            ((Some(s), Some(p), Some(v)), (Some(t), Some(a), Some(g))) => Some((s, p, v, t, a, g)),
            _ => None,
        };
        let defaults_ref = defaults.as_ref().map(|(s, p, v, t, a, g)| PassDefaults {
            rule: (s.as_str(), p.as_str(), v.as_str()),
            asset: (t.as_str(), a.as_str(), g.as_str()),
        });
        let plain = source == "stance" && extra.iter().all(Option::is_none);
        if plain && compact_pass(&fields, defaults_ref.as_ref(), false) {
            pass.execute(params![scan, asset, rule])?;
            continue;
        }
        let content = content_key(conn, &message, &evidence)?;
        let [
            lifecycle,
            first_seen,
            last_seen,
            duplicate_of,
            details,
            muted_by,
        ] = extra;
        full.execute(params![
            scan,
            asset,
            rule,
            fingerprint,
            plugin,
            version,
            rtype,
            account,
            region,
            severity,
            r.get::<_, i64>(10)?,
            status,
            content,
            lifecycle,
            first_seen,
            last_seen,
            source,
            duplicate_of,
            details,
            muted_by
        ])?;
    }
    Ok(())
}
