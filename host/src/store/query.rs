//! Read-side queries: scans, findings (joined with their rule and asset),
//! and assets. These rows are what reports print; their JSON form is the
//! documented output schema (`docs/output-schema.md`).

use rusqlite::{OptionalExtension, params_from_iter, types::Value as Sql};
use serde::Serialize;

use super::writer::{ScanTotals, severity_rank};
use super::{Result, Store};
use crate::model::{ComplianceRef, Evidence, Remediation, Severity, Status};

/// A complete scan (`stance scans`).
#[derive(Debug, Clone, Serialize)]
pub struct ScanRow {
    /// The scan's id.
    pub id: i64,
    /// When it started (RFC 3339, UTC).
    pub started_at: String,
    /// When it committed (RFC 3339, UTC).
    pub finished_at: String,
    /// What was scanned, such as `snapshot:examples/demo-account.json`.
    pub source: String,
    /// The cloud provider, such as `aws`.
    pub provider: String,
    /// The accounts and regions covered, such as `aws:123456789012:eu-west-1,us-east-1`;
    /// lifecycle compares scans of the same scope.
    pub scope: String,
    /// The version of Stance that ran it.
    pub stance_version: String,
    /// Assets stored.
    pub assets: i64,
    /// Its counts, as stored when it committed.
    pub summary: ScanTotals,
}

/// The asset a finding is about (`resource` in JSON).
#[derive(Debug, Clone, Serialize)]
pub struct ResourceRef {
    /// The asset's id.
    pub id: String,
    /// Its resource type (`type` in JSON).
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Its name; empty when the asset is not stored (an imported finding's resource).
    pub name: String,
    /// Its account.
    pub account: String,
    /// Its region.
    pub region: String,
}

/// A stored finding with its rule and asset (`docs/output-schema.md`).
#[derive(Debug, Clone, Serialize)]
pub struct FindingRow {
    /// The scan that produced it.
    pub scan_id: i64,
    /// Its identity across scans: (rule id, resource id) hashed.
    pub fingerprint: String,
    /// The rule's id.
    pub rule_id: String,
    /// The rule's title; its id when the rule is not stored.
    pub title: String,
    /// The plugin that evaluated the rule.
    pub plugin: String,
    /// The plugin's version.
    pub plugin_version: String,
    /// The rule's severity, unless the plugin overrode it for this finding.
    pub severity: Severity,
    /// `pass`, `fail` or `error`.
    pub status: Status,
    /// `new`, `recurring` or `reopened` for a failure, `resolved` for a pass that failed last time; else `None`.
    pub lifecycle: Option<String>,
    /// The asset it is about.
    pub resource: ResourceRef,
    /// The plugin's message.
    pub message: String,
    /// What the rule looked at.
    pub evidence: Vec<Evidence>,
    /// The rule's compliance mappings.
    pub compliance: Vec<ComplianceRef>,
    /// How to fix a failure, from the rule.
    pub remediation: Remediation,
    /// For a failure: the first scan time it failed in this scope (RFC 3339).
    pub first_seen: Option<String>,
    /// For a failure: the latest scan time it failed in this scope (RFC 3339).
    pub last_seen: Option<String>,
    /// `stance` for Stance's own rules; `securityhub`, `inspector2` for imported findings.
    pub source: String,
    /// The fingerprint of the Stance finding an imported one repeats.
    pub duplicate_of: Option<String>,
    /// Source-specific detail of imported findings (CVE, CVSS, package, versions).
    pub details: Option<serde_json::Value>,
    /// The mute covering this failure, if one did when the scan ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub muted_by: Option<crate::model::MuteRef>,
}

/// Which findings to list.
#[derive(Debug, Clone, Default)]
pub struct FindingFilter {
    /// A scan id; the latest complete scan when `None`.
    pub scan: Option<i64>,
    /// Only these severities; any when empty.
    pub severities: Vec<Severity>,
    /// At or above this severity.
    pub min_severity: Option<Severity>,
    /// Empty means every status.
    pub statuses: Vec<Status>,
    /// Only these rules; any when empty.
    pub rules: Vec<String>,
    /// Only this lifecycle (`new`, `recurring`, `reopened`, `resolved`).
    pub lifecycle: Option<String>,
    /// Only this resource type (exact).
    pub resource_type: Option<String>,
    /// Only these sources (`stance`, `securityhub`, `inspector2`); empty means all.
    pub sources: Vec<String>,
    /// Also list imported findings that repeat one of Stance's own.
    pub include_duplicates: bool,
    /// Leave out failures a mute covers (`--show-muted` keeps them).
    pub hide_muted: bool,
}

/// A failure that `--fail-on-new` counts: unmuted, and new or reopened
/// since the previous scan of the scope, or muted in that scan and no
/// longer (its mute expired or was removed).
#[derive(Debug, Clone, Serialize)]
pub struct NewFailure {
    /// The rule's id.
    pub rule_id: String,
    /// The resource's id.
    pub resource: String,
    /// Its severity.
    pub severity: Severity,
    /// `new`, `reopened`, or `unmuted` (it was muted in the previous scan).
    pub why: String,
}

/// A stored asset (`stance assets`).
#[derive(Debug, Clone, Serialize)]
pub struct AssetRow {
    /// The scan it was stored in.
    pub scan_id: i64,
    /// The asset's id.
    pub id: String,
    /// Its resource type (`type` in JSON).
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Its provider.
    pub provider: String,
    /// Its account.
    pub account: String,
    /// Its region.
    pub region: String,
    /// Its name.
    pub name: String,
    /// Its tags, as a JSON object.
    pub tags: serde_json::Value,
    /// When it was collected (RFC 3339).
    pub collected_at: String,
    /// Its configuration; `null` unless [`AssetFilter::with_body`] was set.
    pub body: serde_json::Value,
}

/// Which assets to list.
#[derive(Debug, Clone, Default)]
pub struct AssetFilter {
    /// A scan id; the latest complete scan when `None`.
    pub scan: Option<i64>,
    /// Exact type or `prefix*`.
    pub resource_type: Option<String>,
    /// Also read each asset's body (slower; `null` otherwise).
    pub with_body: bool,
}

fn json_col<T: serde::de::DeserializeOwned + Default>(text: &str) -> T {
    serde_json::from_str(text).unwrap_or_default()
}

impl Store {
    /// The newest complete scan; `None` when there is none.
    pub fn latest_scan_id(&self) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row(
                "SELECT max(id) FROM scans WHERE status = 'complete'",
                [],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    /// The latest complete scans, newest first.
    pub fn scans(&self, limit: usize) -> Result<Vec<ScanRow>> {
        self.scan_rows(
            "status = 'complete' ORDER BY id DESC LIMIT ?1",
            limit as i64,
        )
    }

    /// Scan `id`; `None` when it does not exist or did not complete.
    pub fn scan(&self, id: i64) -> Result<Option<ScanRow>> {
        Ok(self.scan_rows("status = 'complete' AND id = ?1", id)?.pop())
    }

    fn scan_rows(&self, condition: &str, arg: i64) -> Result<Vec<ScanRow>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT id, started_at, finished_at, source, provider, scope, stance_version, assets, summary
             FROM scans WHERE {condition}"
        ))?;
        let rows = stmt.query_map([arg], |r| {
            Ok(ScanRow {
                id: r.get(0)?,
                started_at: r.get(1)?,
                finished_at: r.get(2)?,
                source: r.get(3)?,
                provider: r.get(4)?,
                scope: r.get(5)?,
                stance_version: r.get(6)?,
                assets: r.get(7)?,
                summary: json_col(&r.get::<_, String>(8)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Findings of one scan, worst first.
    pub fn findings(&self, filter: &FindingFilter) -> Result<Vec<FindingRow>> {
        let mut rows = Vec::new();
        self.for_each_finding(filter, |row| {
            rows.push(row);
            Ok::<(), super::StoreError>(())
        })?;
        Ok(rows)
    }

    /// Hand each finding of [`Store::findings`] to `f` as it is read, in the
    /// same order, without holding them all: how large outputs are written.
    /// Stops at the first error `f` returns.
    pub fn for_each_finding<E, F>(
        &self,
        filter: &FindingFilter,
        mut f: F,
    ) -> std::result::Result<(), E>
    where
        E: From<super::StoreError>,
        F: FnMut(FindingRow) -> std::result::Result<(), E>,
    {
        let sql_err = |e: rusqlite::Error| E::from(super::StoreError::Sql(e));
        let scan = match filter.scan {
            Some(s) => s,
            None => match self.latest_scan_id().map_err(E::from)? {
                Some(s) => s,
                None => return Ok(()),
            },
        };
        let mut sql = String::from(FINDINGS_SELECT);
        let mut args: Vec<Sql> = vec![Sql::Integer(scan)];
        filter.restrict(&mut sql, &mut args);
        sql.push_str(" ORDER BY f.severity_rank DESC, f.status, f.rule_id, f.asset_id");
        let mut stmt = self.conn.prepare(&sql).map_err(sql_err)?;
        let rows = stmt
            .query_map(params_from_iter(args), finding_row)
            .map_err(sql_err)?;
        for row in rows {
            f(row.map_err(sql_err)?)?;
        }
        Ok(())
    }

    /// The complete scan of the same scope just before scan `id`; `None`
    /// for the scope's first.
    pub fn previous_scan_id(&self, id: i64) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row(
                "SELECT max(p.id) FROM scans p, scans s
                 WHERE s.id = ?1 AND p.scope = s.scope AND p.id < s.id AND p.status = 'complete'",
                [id],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    /// The failures of scan `id` that `--fail-on-new` counts, at or above
    /// `min` when given, worst first (see [`NewFailure`]).
    pub fn new_failures(&self, id: i64, min: Option<Severity>) -> Result<Vec<NewFailure>> {
        let previous = self.previous_scan_id(id)?;
        let mut stmt = self.conn.prepare(
            "SELECT rn.rule_id, an.id, f.severity,
                    CASE WHEN f.lifecycle IN ('new', 'reopened') THEN f.lifecycle ELSE 'unmuted' END
             FROM results f
             JOIN rule_names rn ON rn.key = f.rule
             JOIN asset_names an ON an.key = f.asset
             WHERE f.scan_id = ?1 AND f.status = 'fail' AND f.muted_by IS NULL
               AND f.duplicate_of IS NULL AND f.severity_rank >= ?3
               AND (f.lifecycle IN ('new', 'reopened')
                    OR EXISTS (SELECT 1 FROM results p WHERE p.scan_id = ?2
                               AND p.asset = f.asset AND p.rule = f.rule AND p.muted_by IS NOT NULL))
             ORDER BY f.severity_rank DESC, rn.rule_id, an.id",
        )?;
        let rank = min.map_or(0, severity_rank);
        let rows = stmt.query_map(rusqlite::params![id, previous, rank], |r| {
            let severity: String = r.get(2)?;
            Ok(NewFailure {
                rule_id: r.get(0)?,
                resource: r.get(1)?,
                severity: severity.parse().unwrap_or(Severity::Info),
                why: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Plugin failures recorded in a scan: (plugin, rule, batch, assets, kind, cause).
    pub fn plugin_failures(&self, scan: i64) -> Result<Vec<crate::model::FailureRecord>> {
        let mut stmt = self.conn.prepare(
            "SELECT plugin, plugin_version, rule_id, batch, assets, kind, cause FROM plugin_failures WHERE scan_id = ?1 ORDER BY plugin, batch",
        )?;
        let rows = stmt.query_map([scan], |r| {
            Ok(crate::model::FailureRecord {
                plugin: r.get(0)?,
                plugin_version: r.get(1)?,
                rule_id: r.get(2)?,
                batch: r.get::<_, i64>(3)? as usize,
                assets: r.get::<_, i64>(4)? as usize,
                kind: r.get(5)?,
                cause: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The rules a scan ran (and the rules of imported findings), as the plugins described them.
    pub fn rules(&self, scan: i64) -> Result<Vec<crate::model::Rule>> {
        let mut stmt = self.conn.prepare(
            "SELECT rule_id, title, description, severity, resource_types, compliance, remediation, tags
             FROM rules WHERE scan_id = ?1 ORDER BY rule_id",
        )?;
        let rows = stmt.query_map([scan], |r| {
            let severity: String = r.get(3)?;
            Ok(crate::model::Rule {
                id: r.get(0)?,
                title: r.get(1)?,
                description: r.get(2)?,
                severity: severity.parse().unwrap_or(Severity::Info),
                resource_types: json_col(&r.get::<_, String>(4)?),
                compliance: json_col(&r.get::<_, String>(5)?),
                remediation: json_col(&r.get::<_, String>(6)?),
                tags: json_col(&r.get::<_, String>(7)?),
                reads: Vec::new(),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// What could not be collected in a scan.
    pub fn collection_errors(&self, scan: i64) -> Result<Vec<crate::model::CollectionError>> {
        let mut stmt = self.conn.prepare(
            "SELECT provider, account, region, service, operation, kind, message, resource_types
             FROM collection_errors WHERE scan_id = ?1 ORDER BY account, region, service, operation",
        )?;
        let rows = stmt.query_map([scan], |r| {
            Ok(crate::model::CollectionError {
                provider: r.get(0)?,
                account: r.get(1)?,
                region: r.get(2)?,
                service: r.get(3)?,
                operation: r.get(4)?,
                kind: r.get(5)?,
                message: r.get(6)?,
                resource_types: json_col(&r.get::<_, String>(7)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Assets of one scan, by type and id; none when there is no scan.
    pub fn assets(&self, filter: &AssetFilter) -> Result<Vec<AssetRow>> {
        let Some(scan) = filter
            .scan
            .map_or_else(|| self.latest_scan_id(), |s| Ok(Some(s)))?
        else {
            return Ok(Vec::new());
        };
        let mut sql = String::from(
            "SELECT a.scan_id, a.id, a.resource_type, a.provider, a.account, a.region, a.name, a.tags, a.collected_at, ",
        );
        sql.push_str(if filter.with_body { "b.body" } else { "'null'" });
        sql.push_str(
            " FROM assets a LEFT JOIN asset_bodies b ON b.hash = a.body_hash WHERE a.scan_id = ?",
        );
        let mut args: Vec<Sql> = vec![Sql::Integer(scan)];
        if let Some(t) = &filter.resource_type {
            match t.strip_suffix('*') {
                Some(prefix) => {
                    sql.push_str(" AND substr(a.resource_type, 1, ?) = ?");
                    args.push(Sql::Integer(prefix.len() as i64));
                    args.push(Sql::Text(prefix.into()));
                }
                None => {
                    sql.push_str(" AND a.resource_type = ?");
                    args.push(Sql::Text(t.clone()));
                }
            }
        }
        sql.push_str(" ORDER BY a.resource_type, a.id");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), |r| {
            Ok(AssetRow {
                scan_id: r.get(0)?,
                id: r.get(1)?,
                resource_type: r.get(2)?,
                provider: r.get(3)?,
                account: r.get(4)?,
                region: r.get(5)?,
                name: r.get(6)?,
                tags: json_col(&r.get::<_, String>(7)?),
                collected_at: r.get(8)?,
                body: json_col(
                    &r.get::<_, Option<String>>(9)?
                        .unwrap_or_else(|| "null".into()),
                ),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// The columns of a [`FindingRow`], joined with its rule and asset, of one
/// scan: every reader of findings goes through the `findings` view, which
/// shows whole rows and compact passes alike (`layout`).
const FINDINGS_SELECT: &str = "SELECT f.scan_id, f.fingerprint, f.rule_id, COALESCE(r.title, f.rule_id), f.plugin, f.plugin_version,
        f.severity, f.status, f.lifecycle, f.asset_id, f.resource_type, COALESCE(a.name, ''),
        f.account, f.region, f.message, f.evidence, COALESCE(r.compliance, '[]'),
        COALESCE(r.remediation, '{}'), f.first_seen, f.last_seen, f.source, f.duplicate_of, f.details, f.muted_by
 FROM findings f
 LEFT JOIN rules r ON r.scan_id = f.scan_id AND r.rule_id = f.rule_id
 LEFT JOIN assets a ON a.scan_id = f.scan_id AND a.id = f.asset_id
 WHERE f.scan_id = ?";

impl FindingFilter {
    /// Add this filter's conditions to a query over `findings f`, every
    /// value as a parameter.
    fn restrict(&self, sql: &mut String, args: &mut Vec<Sql>) {
        let text = |v: &str| Sql::Text(v.to_string());
        let mut any_of = |column: &str, values: Vec<Sql>| {
            if !values.is_empty() {
                sql.push_str(&format!(
                    " AND {column} IN ({})",
                    vec!["?"; values.len()].join(",")
                ));
                args.extend(values);
            }
        };
        any_of(
            "f.severity",
            self.severities.iter().map(|s| text(s.as_str())).collect(),
        );
        any_of(
            "f.status",
            self.statuses.iter().map(|s| text(s.as_str())).collect(),
        );
        any_of("f.rule_id", self.rules.iter().map(|r| text(r)).collect());
        any_of(
            "f.lifecycle",
            self.lifecycle.iter().map(|l| text(l)).collect(),
        );
        any_of("f.source", self.sources.iter().map(|s| text(s)).collect());
        if !self.include_duplicates {
            sql.push_str(" AND f.duplicate_of IS NULL");
        }
        if self.hide_muted {
            sql.push_str(" AND f.muted_by IS NULL");
        }
        if let Some(min) = self.min_severity {
            sql.push_str(" AND f.severity_rank >= ?");
            args.push(Sql::Integer(severity_rank(min)));
        }
        if let Some(t) = &self.resource_type {
            match t.strip_suffix('*') {
                Some(prefix) => {
                    sql.push_str(" AND substr(f.resource_type, 1, ?) = ?");
                    args.push(Sql::Integer(prefix.len() as i64));
                    args.push(text(prefix));
                }
                None => {
                    sql.push_str(" AND f.resource_type = ?");
                    args.push(text(t));
                }
            }
        }
    }
}

/// A row of [`FINDINGS_SELECT`]; a compact pass gets its fingerprint back
/// from its rule and resource.
fn finding_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FindingRow> {
    let severity: String = r.get(6)?;
    let status: String = r.get(7)?;
    let rule_id: String = r.get(2)?;
    let fingerprint = match r.get::<_, Option<String>>(1)? {
        Some(fp) => fp,
        None => crate::model::fingerprint(&rule_id, &r.get::<_, String>(9)?),
    };
    Ok(FindingRow {
        scan_id: r.get(0)?,
        fingerprint,
        rule_id,
        title: r.get(3)?,
        plugin: r.get(4)?,
        plugin_version: r.get(5)?,
        severity: severity.parse().unwrap_or(Severity::Info),
        status: status.parse().unwrap_or(Status::Error),
        lifecycle: r.get(8)?,
        resource: ResourceRef {
            id: r.get(9)?,
            resource_type: r.get(10)?,
            name: r.get(11)?,
            account: r.get(12)?,
            region: r.get(13)?,
        },
        message: r.get(14)?,
        evidence: json_col(&r.get::<_, String>(15)?),
        compliance: json_col(&r.get::<_, String>(16)?),
        remediation: json_col(&r.get::<_, String>(17)?),
        first_seen: r.get(18)?,
        last_seen: r.get(19)?,
        source: r.get(20)?,
        duplicate_of: r.get(21)?,
        muted_by: r
            .get::<_, Option<String>>(23)?
            .and_then(|m| serde_json::from_str(&m).ok()),
        details: r
            .get::<_, Option<String>>(22)?
            .and_then(|d| serde_json::from_str(&d).ok()),
    })
}
