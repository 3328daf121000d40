//! Writing one scan: everything inside one immediate transaction that
//! commits only when the scan is complete, so a killed scan leaves earlier
//! scans intact and never shows up half-written. Finding lifecycle is
//! computed against the previous scans of the same scope at commit.

use std::collections::{BTreeMap, HashMap, HashSet};

use rusqlite::{Connection, Transaction, TransactionBehavior, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Result, Store, layout, lifecycle};
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
    imported: usize,
    known: Known,
}

/// What the writer knows of the scan so far, to store a pass compactly
/// without asking the database: the scan's rules and assets with their
/// keys, and the fingerprints the scope remembers as having failed.
#[derive(Default)]
struct Known {
    rules: HashMap<String, RuleInfo>,
    assets: HashMap<String, AssetInfo>,
    /// (resource type, account, region) of the scan's assets, each once.
    places: Vec<(String, String, String)>,
    place_index: HashMap<(String, String, String), u32>,
    failed_before: HashSet<u128>,
}

struct RuleInfo {
    key: i64,
    severity: &'static str,
    plugin: String,
    version: String,
}

struct AssetInfo {
    key: i64,
    place: u32,
}

impl Known {
    /// Fingerprints that failed at some point in `scope` (their passes are
    /// kept whole: they carry a lifecycle or a last failure time).
    fn load(tx: &Connection, scope: &str) -> Result<Known> {
        let mut stmt = tx.prepare(
            "SELECT fingerprint FROM finding_state WHERE scope = ?1 AND ever_failed = 1",
        )?;
        let rows = stmt.query_map([scope], |r| r.get::<_, String>(0))?;
        let mut known = Known::default();
        for fp in rows {
            if let Some(bits) = layout::fingerprint_bits(&fp?) {
                known.failed_before.insert(bits);
            }
        }
        Ok(known)
    }

    fn place(&mut self, a: &Asset) -> u32 {
        let key = (a.resource_type.clone(), a.account.clone(), a.region.clone());
        if let Some(p) = self.place_index.get(&key) {
            return *p;
        }
        let p = self.places.len() as u32;
        self.places.push(key.clone());
        self.place_index.insert(key, p);
        p
    }
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
        let known = Known::load(&tx, &meta.scope)?;
        Ok(ScanWriter {
            tx,
            scan_id,
            meta,
            assets: 0,
            failures: 0,
            collection_errors: 0,
            imported: 0,
            known,
        })
    }
}

fn body_hash(body: &str) -> String {
    hex::encode(&Sha256::digest(body.as_bytes())[..16])
}

/// An asset as stored in `asset_versions` (everything but when it was collected).
struct Version<'a> {
    resource_type: &'a str,
    provider: &'a str,
    account: &'a str,
    region: &'a str,
    name: &'a str,
    tags: &'a str,
    body_hash: &'a str,
}

impl ScanWriter<'_> {
    /// The id of the scan being written.
    pub fn scan_id(&self) -> i64 {
        self.scan_id
    }

    /// Store assets of the scan; an asset that looks as it did in an earlier
    /// scan points at the same stored version, and identical bodies are
    /// stored once across scans.
    pub fn add_assets(&mut self, assets: &[Asset]) -> Result<()> {
        for a in assets {
            let tags: BTreeMap<&str, &str> = a
                .tags
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let tags = serde_json::to_string(&tags).unwrap_or_else(|_| "{}".into());
            let hash = body_hash(&a.body);
            let version = Version {
                resource_type: &a.resource_type,
                provider: &a.provider,
                account: &a.account,
                region: &a.region,
                name: &a.name,
                tags: &tags,
                body_hash: &hash,
            };
            let (key, version, collected_at) = self.asset_version(a, &version)?;
            let own_time = (collected_at != a.collected_at).then_some(a.collected_at.as_str());
            self.tx
                .prepare_cached(
                    "INSERT INTO scan_assets (scan_id, asset, version, collected_at) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![self.scan_id, key, version, own_time])?;
            let place = self.known.place(a);
            self.known
                .assets
                .insert(a.id.clone(), AssetInfo { key, place });
        }
        self.assets += assets.len();
        Ok(())
    }

    /// The asset's name key and its stored version equal to `v` (stored,
    /// with its body, when there is none), with the version's collection time.
    fn asset_version(&mut self, a: &Asset, v: &Version<'_>) -> Result<(i64, i64, String)> {
        let mut found: Option<i64> = None;
        {
            let mut stmt = self.tx.prepare_cached(
                "SELECT n.key, v.key, v.resource_type, v.provider, v.account, v.region, v.name, v.tags, v.body_hash, v.collected_at
                 FROM asset_names n LEFT JOIN asset_versions v ON v.asset = n.key WHERE n.id = ?1 ORDER BY v.key DESC",
            )?;
            let mut rows = stmt.query([&a.id])?;
            while let Some(r) = rows.next()? {
                found = Some(r.get(0)?);
                let Some(version) = r.get::<_, Option<i64>>(1)? else {
                    break;
                };
                let same = [
                    v.resource_type,
                    v.provider,
                    v.account,
                    v.region,
                    v.name,
                    v.tags,
                    v.body_hash,
                ]
                .iter()
                .enumerate()
                .all(|(i, want)| {
                    r.get_ref(i + 2).ok().and_then(|c| c.as_str().ok()) == Some(*want)
                });
                if same {
                    return Ok((r.get(0)?, version, r.get(9)?));
                }
            }
        }
        let key = match found {
            Some(k) => k,
            None => layout::asset_key(&self.tx, &a.id)?,
        };
        self.tx
            .prepare_cached("INSERT OR IGNORE INTO asset_bodies (hash, body) VALUES (?1, ?2)")?
            .execute(params![v.body_hash, a.body])?;
        self.tx
            .prepare_cached(
                "INSERT INTO asset_versions (asset, resource_type, provider, account, region, name, tags, collected_at, body_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                key,
                v.resource_type,
                v.provider,
                v.account,
                v.region,
                v.name,
                v.tags,
                a.collected_at,
                v.body_hash
            ])?;
        Ok((key, self.tx.last_insert_rowid(), a.collected_at.clone()))
    }

    /// Store the rules a plugin declared, with the plugin's name, version and digest.
    pub fn add_rules(
        &mut self,
        plugin: &str,
        version: &str,
        digest: &str,
        rules: &[Rule],
    ) -> Result<()> {
        for r in rules {
            self.tx
                .prepare_cached(
                    "INSERT INTO rules (scan_id, rule_id, plugin, plugin_version, plugin_digest, title, description, severity, resource_types, compliance, remediation, tags)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )?
                .execute(params![
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
            let key = layout::rule_key(&self.tx, &r.id)?;
            let info = RuleInfo {
                key,
                severity: r.severity.as_str(),
                plugin: plugin.to_string(),
                version: version.to_string(),
            };
            self.known.rules.insert(r.id.clone(), info);
        }
        Ok(())
    }

    /// Store findings of the scan (lifecycle is computed at commit).
    pub fn add_findings(&mut self, findings: &[Finding]) -> Result<()> {
        self.add_findings_muted(findings, &|_| None)
    }

    /// Store findings of the scan, each failure with the mute that covers
    /// it (`muted`; its status stays `fail`). A pass that shows nothing of
    /// its own is stored as three integers (see `layout`).
    pub fn add_findings_muted(
        &mut self,
        findings: &[Finding],
        muted: &dyn Fn(&Finding) -> Option<MuteRef>,
    ) -> Result<()> {
        for f in findings {
            let evidence = json(&f.evidence);
            let fields = layout::ResultFields {
                fingerprint: &f.fingerprint,
                rule_id: &f.rule_id,
                asset_id: &f.asset_id,
                plugin: &f.plugin,
                plugin_version: &f.plugin_version,
                resource_type: &f.resource_type,
                account: &f.account,
                region: &f.region,
                severity: f.severity.as_str(),
                status: f.status.as_str(),
                message: &f.message,
                evidence: &evidence,
            };
            if f.status == Status::Pass && self.try_compact(&fields)? {
                continue;
            }
            let mute = (f.status == Status::Fail).then(|| muted(f)).flatten();
            let full = Full {
                fields,
                severity_rank: severity_rank(f.severity),
                source: "stance",
                details: None,
                muted_by: mute.as_ref().map(json),
            };
            self.insert_full(&full, false)?;
        }
        Ok(())
    }

    /// Store a pass compactly when it shows nothing of its own; false when
    /// it must be kept whole.
    fn try_compact(&mut self, f: &layout::ResultFields<'_>) -> Result<bool> {
        let (Some(rule), Some(asset)) = (
            self.known.rules.get(f.rule_id),
            self.known.assets.get(f.asset_id),
        ) else {
            return Ok(false);
        };
        let place = &self.known.places[asset.place as usize];
        let defaults = layout::PassDefaults {
            rule: (rule.severity, &rule.plugin, &rule.version),
            asset: (&place.0, &place.1, &place.2),
        };
        let remembered = layout::fingerprint_bits(f.fingerprint)
            .is_some_and(|b| self.known.failed_before.contains(&b));
        if !layout::compact_pass(f, Some(&defaults), remembered) {
            return Ok(false);
        }
        self.tx
            .prepare_cached(layout::INSERT_PASS)?
            .execute(params![self.scan_id, asset.key, rule.key])?;
        Ok(true)
    }

    /// Store one result whole; `or_ignore` leaves a result already stored for
    /// the same rule and resource as it is (imported findings).
    fn insert_full(&mut self, full: &Full<'_>, or_ignore: bool) -> Result<()> {
        let f = &full.fields;
        let rule = match self.known.rules.get(f.rule_id) {
            Some(r) => r.key,
            None => layout::rule_key(&self.tx, f.rule_id)?,
        };
        let asset = match self.known.assets.get(f.asset_id) {
            Some(a) => a.key,
            None => layout::asset_key(&self.tx, f.asset_id)?,
        };
        let content = layout::content_key(&self.tx, f.message, f.evidence)?;
        let sql = if or_ignore {
            layout::INSERT_RESULT.replacen("INSERT INTO", "INSERT OR IGNORE INTO", 1)
        } else {
            layout::INSERT_RESULT.to_string()
        };
        self.tx.prepare_cached(&sql)?.execute(params![
            self.scan_id,
            asset,
            rule,
            f.fingerprint,
            f.plugin,
            f.plugin_version,
            f.resource_type,
            f.account,
            f.region,
            f.severity,
            full.severity_rank,
            f.status,
            content,
            None::<String>,
            None::<String>,
            None::<String>,
            full.source,
            None::<String>,
            full.details,
            full.muted_by,
        ])?;
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
        for f in findings {
            let rule_id = format!("{}:{}", f.source, f.rule_id);
            self.tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO rules (scan_id, rule_id, plugin, plugin_version, plugin_digest, title, description, severity, resource_types, compliance, remediation, tags)
                     VALUES (?1, ?2, ?3, '', '', ?4, '', ?5, ?6, ?7, ?8, '[]')",
                )?
                .execute(params![
                    self.scan_id,
                    rule_id,
                    f.source,
                    f.title,
                    f.severity.as_str(),
                    json(&[&f.resource_type]),
                    json(&f.compliance),
                    json(&f.remediation),
                ])?;
            let fingerprint = crate::model::fingerprint(&rule_id, &f.resource_id);
            let full = Full {
                fields: layout::ResultFields {
                    fingerprint: &fingerprint,
                    rule_id: &rule_id,
                    asset_id: &f.resource_id,
                    plugin: &f.source,
                    plugin_version: "",
                    resource_type: &f.resource_type,
                    account: &f.account,
                    region: &f.region,
                    severity: f.severity.as_str(),
                    status: f.status.as_str(),
                    message: &f.message,
                    evidence: "[]",
                },
                severity_rank: severity_rank(f.severity),
                source: &f.source,
                details: Some(json(&f.details)),
                muted_by: None,
            };
            self.insert_full(&full, true)?;
        }
        self.imported += findings.len();
        Ok(())
    }

    /// Compute lifecycle, record the totals, and commit. Returns the scan id and totals.
    pub fn commit(self, finished_at: &str) -> Result<(i64, ScanTotals)> {
        let scope = self.meta.scope.clone();
        if self.imported > 0 {
            lifecycle::mark_duplicates(&self.tx, self.scan_id)?;
        }
        lifecycle::update_lifecycle(&self.tx, self.scan_id, &scope, finished_at)?;
        let resolved_gone = lifecycle::resolve_absent(&self.tx, self.scan_id, &scope)?;
        lifecycle::update_state(&self.tx, self.scan_id, &scope)?;
        let mut totals = lifecycle::totals(&self.tx, self.scan_id)?;
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

/// A result to store whole, with what only whole rows carry.
struct Full<'a> {
    fields: layout::ResultFields<'a>,
    severity_rank: i64,
    source: &'a str,
    details: Option<String>,
    muted_by: Option<String>,
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

pub(super) fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}
