//! What a scan's commit computes: finding lifecycle against the scope's
//! memory (`finding_state`), failures that vanished, imported findings that
//! repeat one of Stance's own, the memory after the scan, and the scan's
//! totals. Works on the compact layout (`layout`): lifecycle only ever
//! touches whole rows, because a compact pass is by construction one that
//! never failed in the scope (no lifecycle, nothing to remember).

use std::collections::BTreeMap;

use rusqlite::{Connection, params};

use super::Result;
use super::writer::ScanTotals;

/// Lifecycle of this scan's findings against the scope's state before it.
pub fn update_lifecycle(tx: &Connection, scan: i64, scope: &str, now: &str) -> Result<()> {
    tx.execute(
        "UPDATE results SET lifecycle = 'new', first_seen = ?3, last_seen = ?3
         WHERE scan_id = ?1 AND status = 'fail'
           AND NOT EXISTS (SELECT 1 FROM finding_state s WHERE s.scope = ?2 AND s.fingerprint = results.fingerprint)",
        params![scan, scope, now],
    )?;
    tx.execute(
        "UPDATE results SET
            lifecycle = CASE
                WHEN results.status = 'fail' AND s.last_status = 'fail' THEN 'recurring'
                WHEN results.status = 'fail' AND s.ever_failed = 1 THEN 'reopened'
                WHEN results.status = 'fail' THEN 'new'
                WHEN results.status = 'pass' AND s.last_status = 'fail' THEN 'resolved'
                ELSE NULL END,
            first_seen = CASE WHEN results.status = 'fail' THEN COALESCE(s.first_seen, ?3) END,
            last_seen = CASE WHEN results.status = 'fail' THEN ?3 ELSE s.last_seen END
         FROM finding_state s
         WHERE results.scan_id = ?1 AND s.scope = ?2 AND s.fingerprint = results.fingerprint",
        params![scan, scope, now],
    )?;
    Ok(())
}

/// Findings that failed last time and are not reported at all now (the
/// resource is gone, or the rule no longer exists) count as resolved;
/// unless their resource type could not be collected in their account and
/// region this time, or (for imported findings) their source could not be
/// read there: either says nothing about them.
pub fn resolve_absent(tx: &Connection, scan: i64, scope: &str) -> Result<usize> {
    let n = tx.execute(
        "UPDATE finding_state SET last_status = 'absent', last_scan_id = ?1
         WHERE scope = ?2 AND last_status = 'fail'
           AND NOT EXISTS (
               SELECT 1 FROM asset_names an, rule_names rn
               WHERE an.id = finding_state.asset_id AND rn.rule_id = finding_state.rule_id
                 AND (EXISTS (SELECT 1 FROM results f WHERE f.scan_id = ?1 AND f.asset = an.key AND f.rule = rn.key)
                      OR EXISTS (SELECT 1 FROM passes p WHERE p.scan_id = ?1 AND p.asset = an.key AND p.rule = rn.key)))
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

/// Stance's results (whole rows, then compact passes) on the resource of
/// each imported finding of scan ?1 whose rule maps to the same AWS FSBP
/// control: (imported asset key, imported rule key, our fingerprint or NULL
/// for a compact pass, our rule id, the resource id).
const DUPLICATE_CANDIDATES: [&str; 2] = [
    "SELECT imp.asset, imp.rule, ours.fingerprint, orn.rule_id, an.id
     FROM results imp
     JOIN rule_names irn ON irn.key = imp.rule
     JOIN rules ir ON ir.scan_id = imp.scan_id AND ir.rule_id = irn.rule_id, json_each(ir.compliance) ic
     JOIN results ours ON ours.scan_id = imp.scan_id AND ours.asset = imp.asset AND ours.source = 'stance'
     JOIN rule_names orn ON orn.key = ours.rule
     JOIN rules r ON r.scan_id = imp.scan_id AND r.rule_id = orn.rule_id, json_each(r.compliance) c
     JOIN asset_names an ON an.key = imp.asset
     WHERE imp.scan_id = ?1 AND imp.source != 'stance'
       AND json_extract(c.value, '$.framework') = 'aws-fsbp'
       AND json_extract(ic.value, '$.framework') = 'aws-fsbp'
       AND json_extract(c.value, '$.control') = json_extract(ic.value, '$.control')",
    "SELECT imp.asset, imp.rule, NULL, orn.rule_id, an.id
     FROM results imp
     JOIN rule_names irn ON irn.key = imp.rule
     JOIN rules ir ON ir.scan_id = imp.scan_id AND ir.rule_id = irn.rule_id, json_each(ir.compliance) ic
     JOIN passes ours ON ours.scan_id = imp.scan_id AND ours.asset = imp.asset
     JOIN rule_names orn ON orn.key = ours.rule
     JOIN rules r ON r.scan_id = imp.scan_id AND r.rule_id = orn.rule_id, json_each(r.compliance) c
     JOIN asset_names an ON an.key = imp.asset
     WHERE imp.scan_id = ?1 AND imp.source != 'stance'
       AND json_extract(c.value, '$.framework') = 'aws-fsbp'
       AND json_extract(ic.value, '$.framework') = 'aws-fsbp'
       AND json_extract(c.value, '$.control') = json_extract(ic.value, '$.control')",
];

/// An imported finding repeats one of Stance's own when a Stance rule mapped
/// to the same AWS FSBP control judged the same resource; it points at the
/// smallest such fingerprint.
pub fn mark_duplicates(tx: &Connection, scan: i64) -> Result<()> {
    let mut first: BTreeMap<(i64, i64), String> = BTreeMap::new();
    for sql in DUPLICATE_CANDIDATES {
        let mut stmt = tx.prepare(sql)?;
        let mut rows = stmt.query([scan])?;
        while let Some(r) = rows.next()? {
            let key: (i64, i64) = (r.get(0)?, r.get(1)?);
            let fingerprint = match r.get::<_, Option<String>>(2)? {
                Some(fp) => fp,
                None => crate::model::fingerprint(&r.get::<_, String>(3)?, &r.get::<_, String>(4)?),
            };
            let best = first.entry(key).or_insert_with(|| fingerprint.clone());
            if fingerprint < *best {
                *best = fingerprint;
            }
        }
    }
    let mut update = tx.prepare(
        "UPDATE results SET duplicate_of = ?4 WHERE scan_id = ?1 AND asset = ?2 AND rule = ?3",
    )?;
    for ((asset, rule), fingerprint) in first {
        update.execute(params![scan, asset, rule, fingerprint])?;
    }
    Ok(())
}

/// Remember this scan's pass/fail outcomes; `error` leaves the previous
/// state as it was. Compact passes need no memory: they never failed here,
/// and no memory reads the same as "passed, never failed".
pub fn update_state(tx: &Connection, scan: i64, scope: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO finding_state (scope, fingerprint, rule_id, asset_id, first_seen, last_seen, last_status, ever_failed, last_scan_id, resource_type, account, region)
         SELECT ?2, r.fingerprint, rn.rule_id, an.id, r.first_seen, r.last_seen, r.status, r.status = 'fail', ?1, r.resource_type, r.account, r.region
         FROM results r JOIN rule_names rn ON rn.key = r.rule JOIN asset_names an ON an.key = r.asset
         WHERE r.scan_id = ?1 AND r.status IN ('pass', 'fail') AND r.duplicate_of IS NULL
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

/// Counts of scan ?1 by what its totals group: whole rows, and compact
/// passes counted per rule (all `pass`, the rule's severity, Stance's).
const TOTALS: &str = "SELECT status, severity, lifecycle, source, duplicate_of IS NOT NULL, muted_by IS NOT NULL, count(*)
     FROM results WHERE scan_id = ?1 GROUP BY 1, 2, 3, 4, 5, 6
 UNION ALL
 SELECT 'pass', ru.severity, NULL, 'stance', 0, 0, p.n
     FROM (SELECT rule, count(*) AS n FROM passes WHERE scan_id = ?1 GROUP BY rule) p
     JOIN rule_names rn ON rn.key = p.rule
     JOIN rules ru ON ru.scan_id = ?1 AND ru.rule_id = rn.rule_id";

pub fn totals(tx: &Connection, scan: i64) -> Result<ScanTotals> {
    let mut t = ScanTotals::default();
    let mut stmt = tx.prepare(TOTALS)?;
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
