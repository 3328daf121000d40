//! Comparing two complete scans of one scope (`stance diff`): which
//! failures are new, reopened, fixed, still failing (and which of those
//! changed severity or evidence), and which failures the later scan can say
//! nothing about. Owns the SQL of the comparison and the choice of the two
//! scans; never renders (that is `report::diff`).
//!
//! A finding is identified across scans by its fingerprint (rule and
//! resource). Imported findings that repeat one of Stance's own are left
//! out, as in every other view. The categories:
//!
//! - **new**: failing in `to`; not failing in `from`, and it never failed
//!   in this scope up to `from`.
//! - **reopened**: failing in `to`; not failing in `from`, but it failed in
//!   this scope before (a stored scan, or the scope's lifecycle memory, which
//!   outlives pruned scans, says so).
//! - **still failing**: failing in both (or failing in `to` after an `error`
//!   in `from` that followed a failure: an unknown verdict neither resolves
//!   nor reopens, as in the stored lifecycle).
//! - **fixed**: failing in `from`; in `to` it passes, or it is no longer
//!   reported because the resource is gone or the rule no longer ran (the
//!   stored lifecycle calls these `resolved`).
//! - **unknown**: failing in `from`; in `to` its rule erred on it, or its
//!   resource type could not be collected in its account and region, so it
//!   is neither fixed nor failing.
//!
//! When `from` is the scan just before `to` in the scope, new, reopened and
//! still failing are exactly the lifecycle stored with `to`'s findings.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{ResourceRef, ScanRow, Store, StoreError};
use crate::model::{Evidence, MuteRef, Severity, Status};

/// How a failure changed between the two scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Failing in `to`, never failing in the scope up to `from`.
    New,
    /// Failing in `to`, not in `from`, failing at some point before.
    Reopened,
    /// Failing in `from`, passing or gone in `to`.
    Fixed,
    /// Failing in both.
    StillFailing,
    /// Failing in `from`, no verdict in `to` (rule error, not collected).
    Unknown,
}

impl Change {
    /// Every change, in the order reports show them.
    pub const ALL: [Change; 5] = [
        Change::New,
        Change::Reopened,
        Change::Fixed,
        Change::StillFailing,
        Change::Unknown,
    ];

    /// The name used in JSON, CSV and headings (`still_failing`).
    pub fn as_str(self) -> &'static str {
        match self {
            Change::New => "new",
            Change::Reopened => "reopened",
            Change::Fixed => "fixed",
            Change::StillFailing => "still_failing",
            Change::Unknown => "unknown",
        }
    }
}

/// One failure that changed (or did not) between two scans.
#[derive(Debug, Clone, Serialize)]
pub struct DiffEntry {
    /// Its category.
    pub change: Change,
    /// For `fixed`: `passes`, `resource-gone`, `rule-removed` or
    /// `not-reported`; for `unknown`: `error` or `not-collected`.
    pub reason: Option<String>,
    /// Its identity across scans.
    pub fingerprint: String,
    /// The rule's id.
    pub rule_id: String,
    /// The rule's title; its id when the rule is not stored.
    pub title: String,
    /// Its severity in `to` when it fails there, else in `from`.
    pub severity: Severity,
    /// For a still-failing finding whose severity changed: its severity in `from`.
    pub severity_from: Option<Severity>,
    /// Its status in `from`; `None` when `from` did not report it.
    pub status_from: Option<Status>,
    /// Its status in `to`; `None` when `to` did not report it.
    pub status_to: Option<Status>,
    /// The resource.
    pub resource: ResourceRef,
    /// The failure's message (`to`'s when it fails there, else `from`'s).
    pub message: String,
    /// The evidence of that failure.
    pub evidence: Vec<Evidence>,
    /// For a still-failing finding whose evidence changed: the evidence in `from`.
    pub evidence_from: Option<Vec<Evidence>>,
    /// The first time it failed in this scope (RFC 3339).
    pub first_seen: Option<String>,
    /// `stance`, or the source of an imported finding.
    pub source: String,
    /// The mute that covers the failure in `to` (a new failure under a mute
    /// is listed, but `--fail-on` does not count it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub muted_by: Option<MuteRef>,
}

impl DiffEntry {
    /// A still-failing finding whose severity changed.
    pub fn severity_changed(&self) -> bool {
        self.severity_from.is_some()
    }

    /// A still-failing finding whose evidence changed.
    pub fn evidence_changed(&self) -> bool {
        self.evidence_from.is_some()
    }
}

/// The comparison of two scans of one scope.
#[derive(Debug, Clone)]
pub struct ScanDiff {
    /// The earlier scan.
    pub from: ScanRow,
    /// The later scan.
    pub to: ScanRow,
    /// Whether `from` is the scan just before `to` in the scope.
    pub consecutive: bool,
    /// Every entry, by change, worst severity first, then rule and resource.
    pub entries: Vec<DiffEntry>,
}

impl ScanDiff {
    /// The entries of one change.
    pub fn of(&self, change: Change) -> impl Iterator<Item = &DiffEntry> {
        self.entries.iter().filter(move |e| e.change == change)
    }

    /// How many entries one change has.
    pub fn count(&self, change: Change) -> usize {
        self.of(change).count()
    }
}

/// Why two scans cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// The database holds no complete scan.
    #[error("no scans in {db} yet; run `stance scan` first")]
    NoScans {
        /// The database file.
        db: String,
    },
    /// A scan id names no complete scan.
    #[error("there is no complete scan #{id} in {db}; `stance scans` lists them")]
    UnknownScan {
        /// The id asked for.
        id: i64,
        /// The database file.
        db: String,
    },
    /// The scope has one scan only, or none on the side asked for.
    #[error("{0}")]
    NothingToCompare(String),
    /// The two scans are of different scopes.
    #[error(
        "scan #{from} and scan #{to} cover different scopes ({from_scope} and {to_scope}); diff compares two scans of the same scope (`stance scans --format json` shows each scan's scope)"
    )]
    ScopesDiffer {
        /// The earlier scan.
        from: i64,
        /// Its scope.
        from_scope: String,
        /// The later scan.
        to: i64,
        /// Its scope.
        to_scope: String,
    },
    /// `--from` is not earlier than `--to`.
    #[error("--from #{from} must be an earlier scan than --to #{to}")]
    Order {
        /// The scan given as `from`.
        from: i64,
        /// The scan given as `to`.
        to: i64,
    },
    /// Reading the database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// The two scans to compare: `from` and `to` as given, else `to` the
    /// latest scan (of `from`'s scope when `from` is given) and `from` the
    /// scan before `to` in its scope.
    pub fn diff_scans(
        &self,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<(ScanRow, ScanRow), DiffError> {
        let db = self.path().display().to_string();
        let get = |id: i64| -> Result<ScanRow, DiffError> {
            self.scan(id)?
                .ok_or(DiffError::UnknownScan { id, db: db.clone() })
        };
        let (from, to) = match (from.map(get).transpose()?, to.map(get).transpose()?) {
            (Some(f), Some(t)) => (f, t),
            (Some(f), None) => {
                let t = self.neighbour(&f.scope, f.id, true)?.ok_or_else(|| {
                    DiffError::NothingToCompare(format!(
                        "scan #{} is the latest scan of scope {}; there is no later scan to compare it with (give --to, or run another scan)",
                        f.id, f.scope
                    ))
                })?;
                (f, get(t)?)
            }
            (None, to) => {
                let t = match to {
                    Some(t) => t,
                    None => match self.latest_scan_id()? {
                        Some(id) => get(id)?,
                        None => return Err(DiffError::NoScans { db }),
                    },
                };
                let f = self
                    .neighbour(&t.scope, t.id, false)?
                    .ok_or_else(|| only_one(self, &t))?;
                (get(f)?, t)
            }
        };
        if from.scope != to.scope {
            return Err(DiffError::ScopesDiffer {
                from: from.id,
                from_scope: from.scope,
                to: to.id,
                to_scope: to.scope,
            });
        }
        if from.id >= to.id {
            return Err(DiffError::Order {
                from: from.id,
                to: to.id,
            });
        }
        Ok((from, to))
    }

    /// The latest complete scan of `scope` after `id` (`later`), or the one just before it.
    fn neighbour(&self, scope: &str, id: i64, later: bool) -> Result<Option<i64>, StoreError> {
        let sql = if later {
            "SELECT max(id) FROM scans WHERE scope = ?1 AND status = 'complete' AND id > ?2"
        } else {
            "SELECT max(id) FROM scans WHERE scope = ?1 AND status = 'complete' AND id < ?2"
        };
        Ok(self
            .conn
            .query_row(sql, params![scope, id], |r| r.get(0))
            .optional()?
            .flatten())
    }

    /// Compare two scans of one scope ([`Store::diff_scans`] chooses them).
    pub fn diff(&self, from: &ScanRow, to: &ScanRow) -> Result<ScanDiff, StoreError> {
        let consecutive = self.neighbour(&to.scope, to.id, false)? == Some(from.id);
        let mut entries = self.failing_in_to(from, to, consecutive)?;
        entries.extend(self.failing_only_in_from(from, to)?);
        entries.sort_by(|a, b| {
            a.change
                .cmp(&b.change)
                .then(b.severity.cmp(&a.severity))
                .then_with(|| a.rule_id.cmp(&b.rule_id))
                .then_with(|| a.resource.id.cmp(&b.resource.id))
        });
        Ok(ScanDiff {
            from: from.clone(),
            to: to.clone(),
            consecutive,
            entries,
        })
    }

    /// Failures of `to`, against `from`: new, reopened, still failing.
    fn failing_in_to(
        &self,
        from: &ScanRow,
        to: &ScanRow,
        consecutive: bool,
    ) -> Result<Vec<DiffEntry>, StoreError> {
        let mut stmt = self.conn.prepare(FAILING_IN_TO)?;
        let rows = stmt.query_map(params![to.id, from.id, to.scope, from.finished_at], |r| {
            let evidence: String = r.get(10)?;
            let from_status: Option<String> = r.get(14)?;
            let from_severity: Option<String> = r.get(15)?;
            let from_evidence: Option<String> = r.get(16)?;
            let lifecycle: Option<String> = r.get(13)?;
            let failed_before: bool = r.get(17)?;
            let muted_by: Option<String> = r.get(18)?;
            let status_from = from_status.and_then(|s| s.parse::<Status>().ok());
            let change = match status_from {
                Some(Status::Fail) => Change::StillFailing,
                _ if consecutive => match lifecycle.as_deref() {
                    Some("reopened") => Change::Reopened,
                    Some("recurring") => Change::StillFailing,
                    _ => Change::New,
                },
                Some(Status::Error) if failed_before => Change::StillFailing,
                _ if failed_before => Change::Reopened,
                _ => Change::New,
            };
            let severity = parse_severity(&r.get::<_, String>(8)?);
            let still = change == Change::StillFailing && status_from == Some(Status::Fail);
            Ok(DiffEntry {
                change,
                reason: None,
                fingerprint: r.get(0)?,
                rule_id: r.get(1)?,
                title: r.get(2)?,
                severity,
                severity_from: from_severity
                    .map(|s| parse_severity(&s))
                    .filter(|s| still && *s != severity),
                status_from,
                status_to: Some(Status::Fail),
                resource: resource(r, 3)?,
                message: r.get(9)?,
                evidence: serde_json::from_str(&evidence).unwrap_or_default(),
                evidence_from: from_evidence
                    .filter(|e| still && *e != evidence)
                    .map(|e| serde_json::from_str(&e).unwrap_or_default()),
                first_seen: r.get(11)?,
                source: r.get(12)?,
                muted_by: muted_by.and_then(|m| serde_json::from_str(&m).ok()),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Failures of `from` that do not fail in `to`: fixed or unknown.
    fn failing_only_in_from(
        &self,
        from: &ScanRow,
        to: &ScanRow,
    ) -> Result<Vec<DiffEntry>, StoreError> {
        let mut stmt = self.conn.prepare(FAILING_ONLY_IN_FROM)?;
        let rows = stmt.query_map(params![to.id, from.id], |r| {
            let to_status: Option<String> = r.get(13)?;
            let status_to = to_status.and_then(|s| s.parse::<Status>().ok());
            let (asset_kept, rule_kept, not_collected): (bool, bool, bool) =
                (r.get(14)?, r.get(15)?, r.get(16)?);
            let source: String = r.get(12)?;
            let (change, reason) = match status_to {
                Some(Status::Pass) => (Change::Fixed, "passes"),
                Some(_) => (Change::Unknown, "error"),
                None if not_collected => (Change::Unknown, "not-collected"),
                None if !rule_kept => (Change::Fixed, "rule-removed"),
                None if !asset_kept && source == "stance" => (Change::Fixed, "resource-gone"),
                None => (Change::Fixed, "not-reported"),
            };
            let evidence: String = r.get(10)?;
            Ok(DiffEntry {
                change,
                reason: Some(reason.to_string()),
                fingerprint: r.get(0)?,
                rule_id: r.get(1)?,
                title: r.get(2)?,
                severity: parse_severity(&r.get::<_, String>(8)?),
                severity_from: None,
                status_from: Some(Status::Fail),
                status_to,
                resource: resource(r, 3)?,
                message: r.get(9)?,
                evidence: serde_json::from_str(&evidence).unwrap_or_default(),
                evidence_from: None,
                first_seen: r.get(11)?,
                source,
                muted_by: None,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// The error for a `to` scan with no earlier scan in its scope.
fn only_one(store: &Store, to: &ScanRow) -> DiffError {
    let count: i64 = store
        .conn
        .query_row(
            "SELECT count(*) FROM scans WHERE scope = ?1 AND status = 'complete'",
            [&to.scope],
            |r| r.get(0),
        )
        .unwrap_or(1);
    DiffError::NothingToCompare(if count <= 1 {
        format!(
            "scope {} has only one scan (#{}); diff needs two scans of the same scope: run another scan of it first",
            to.scope, to.id
        )
    } else {
        format!(
            "scan #{} is the first scan of scope {}; there is no earlier scan to compare it with (give --from, or a later --to)",
            to.id, to.scope
        )
    })
}

fn parse_severity(s: &str) -> Severity {
    s.parse().unwrap_or(Severity::Info)
}

/// The resource of a row: id, type, name, account, region from column `at`.
fn resource(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<ResourceRef> {
    Ok(ResourceRef {
        id: r.get(at)?,
        resource_type: r.get(at + 1)?,
        name: r.get(at + 2)?,
        account: r.get(at + 3)?,
        region: r.get(at + 4)?,
    })
}

/// Failing findings of scan ?1 with their status in scan ?2 (the earlier; a
/// compact pass there is `pass`), and whether they failed in scope ?3 before
/// (a complete scan before ?2, or a first failure before ?2 finished at ?4,
/// which pruned scans leave behind). A finding is the same (rule, resource)
/// pair of keys in every scan.
const FAILING_IN_TO: &str = "SELECT t.fingerprint, rn.rule_id, COALESCE(r.title, rn.rule_id),
        an.id, t.resource_type, COALESCE(v.name, ''), t.account, t.region,
        t.severity, c.message, c.evidence, t.first_seen, t.source, t.lifecycle,
        COALESCE(f.status, CASE WHEN fp.scan_id IS NOT NULL THEN 'pass' END), f.severity, fc.evidence,
        CASE WHEN f.status IS NULL OR f.status != 'fail' THEN
            (t.first_seen IS NOT NULL AND t.first_seen < ?4)
            OR EXISTS (SELECT 1 FROM scans s JOIN results x ON x.scan_id = s.id AND x.asset = t.asset AND x.rule = t.rule
                       WHERE s.scope = ?3 AND s.status = 'complete' AND s.id < ?2 AND x.status = 'fail')
        ELSE 0 END,
        t.muted_by
 FROM results t
 JOIN rule_names rn ON rn.key = t.rule
 JOIN asset_names an ON an.key = t.asset
 JOIN finding_content c ON c.key = t.content
 LEFT JOIN results f ON f.scan_id = ?2 AND f.asset = t.asset AND f.rule = t.rule AND f.duplicate_of IS NULL
 LEFT JOIN finding_content fc ON fc.key = f.content
 LEFT JOIN passes fp ON fp.scan_id = ?2 AND fp.asset = t.asset AND fp.rule = t.rule
 LEFT JOIN rules r ON r.scan_id = t.scan_id AND r.rule_id = rn.rule_id
 LEFT JOIN scan_assets sa ON sa.scan_id = t.scan_id AND sa.asset = t.asset
 LEFT JOIN asset_versions v ON v.key = sa.version
 WHERE t.scan_id = ?1 AND t.status = 'fail' AND t.duplicate_of IS NULL";

/// Failing findings of scan ?2 that do not fail in scan ?1 (the later), with
/// their status there (a compact pass is `pass`), whether their asset and
/// rule are still in ?1, and whether ?1 could not collect their resource
/// type (or read their source) in their account and region: the checks of
/// the stored lifecycle.
const FAILING_ONLY_IN_FROM: &str = "SELECT f.fingerprint, rn.rule_id, COALESCE(r.title, rn.rule_id),
        an.id, f.resource_type, COALESCE(v.name, ''), f.account, f.region,
        f.severity, c.message, c.evidence, f.first_seen, f.source,
        COALESCE(t.status, CASE WHEN tp.scan_id IS NOT NULL THEN 'pass' END),
        EXISTS (SELECT 1 FROM scan_assets ta WHERE ta.scan_id = ?1 AND ta.asset = f.asset),
        EXISTS (SELECT 1 FROM rules tr WHERE tr.scan_id = ?1 AND tr.rule_id = rn.rule_id),
        EXISTS (SELECT 1 FROM collection_errors e, json_each(e.resource_types) ty
                WHERE e.scan_id = ?1 AND ty.value = f.resource_type
                  AND e.account = f.account AND e.region = f.region)
        OR EXISTS (SELECT 1 FROM collection_errors e
                   WHERE e.scan_id = ?1 AND rn.rule_id LIKE e.service || ':%'
                     AND e.account = f.account AND e.region = f.region)
 FROM results f
 JOIN rule_names rn ON rn.key = f.rule
 JOIN asset_names an ON an.key = f.asset
 JOIN finding_content c ON c.key = f.content
 LEFT JOIN results t ON t.scan_id = ?1 AND t.asset = f.asset AND t.rule = f.rule AND t.duplicate_of IS NULL
 LEFT JOIN passes tp ON tp.scan_id = ?1 AND tp.asset = f.asset AND tp.rule = f.rule
 LEFT JOIN rules r ON r.scan_id = f.scan_id AND r.rule_id = rn.rule_id
 LEFT JOIN scan_assets sa ON sa.scan_id = f.scan_id AND sa.asset = f.asset
 LEFT JOIN asset_versions v ON v.key = sa.version
 WHERE f.scan_id = ?2 AND f.status = 'fail' AND f.duplicate_of IS NULL
   AND (t.status IS NULL OR t.status != 'fail')";
