//! What an export to Security Hub sends, decided from a scan's findings and
//! what was exported before (`store::ExportedFinding`): the ASFF document of
//! every failure of the caller's account that Security Hub does not already
//! hold as it is, and an archived document for every finding exported
//! before that no longer fails (its rule passes, or its resource is gone).
//! A finding whose document has not changed is not sent again, so an export
//! run twice sends nothing the second time. Never sends anything itself
//! (`notify::securityhub` does) and never writes the store.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::asff::{self, Target};
use crate::model::Status;
use crate::store::{ExportedFinding, FindingRow};

/// Why a document is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A failure Security Hub does not hold yet, or holds in another state.
    Import,
    /// A finding exported before that was resolved since.
    Archive,
}

/// One document to send.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The finding's fingerprint.
    pub fingerprint: String,
    /// Its ASFF document.
    pub document: Value,
    /// The digest of the document, as recorded once accepted.
    pub digest: String,
    /// Import or archive.
    pub change: Change,
}

/// Everything an export of one scan would do.
#[derive(Debug, Default)]
pub struct Plan {
    /// The documents to send, imports first.
    pub send: Vec<Planned>,
    /// Failures Security Hub already holds as they are.
    pub unchanged: usize,
    /// Failures of other accounts, not sent (by account).
    pub other_accounts: BTreeMap<String, usize>,
    /// Imported findings (Security Hub, Inspector2), never sent back.
    pub imported_left_out: usize,
}

impl Plan {
    /// How many documents of `change` the plan sends.
    pub fn count(&self, change: Change) -> usize {
        self.send.iter().filter(|p| p.change == change).count()
    }
}

/// The digest of a document (SHA-256 of its JSON).
pub fn digest(doc: &Value) -> String {
    hex::encode(Sha256::digest(doc.to_string().as_bytes()))
}

/// The plan for the findings `rows` of a scan of `scope` that finished at
/// `scanned_at`, sent to `target` (its account and region both set), given
/// what was `exported` there before. `absent` says whether a finding that
/// the scan does not mention is gone (resolved) rather than not collected.
pub fn plan(
    rows: &[FindingRow],
    exported: &[ExportedFinding],
    (scope, scanned_at): (&str, &str),
    target: &Target,
    tags: &BTreeMap<String, BTreeMap<String, String>>,
    absent: impl Fn(&str) -> bool,
) -> Plan {
    let account = target.account.as_deref().unwrap_or_default();
    let before: HashMap<&str, &ExportedFinding> = exported
        .iter()
        .map(|e| (e.fingerprint.as_str(), e))
        .collect();
    let by_fingerprint: HashMap<&str, &FindingRow> =
        rows.iter().map(|r| (r.fingerprint.as_str(), r)).collect();
    let none = BTreeMap::new();
    let mut plan = Plan::default();
    for row in rows.iter().filter(|r| r.status == Status::Fail) {
        if !asff::exportable(row) {
            plan.imported_left_out += 1;
            continue;
        }
        if row.resource.account != account {
            *plan
                .other_accounts
                .entry(row.resource.account.clone())
                .or_default() += 1;
            continue;
        }
        let tags = tags.get(&row.resource.id).unwrap_or(&none);
        let document = asff::document(row, target, tags, scanned_at);
        let digest = digest(&document);
        match before.get(row.fingerprint.as_str()) {
            Some(e) if e.digest == digest => plan.unchanged += 1,
            _ => plan.send.push(Planned {
                fingerprint: row.fingerprint.clone(),
                document,
                digest,
                change: Change::Import,
            }),
        }
    }
    for e in exported
        .iter()
        .filter(|e| e.record_state == "ACTIVE" && e.scope == scope)
    {
        let resolved = match by_fingerprint.get(e.fingerprint.as_str()) {
            Some(r) => r.status == Status::Pass,
            None => absent(&e.fingerprint),
        };
        let Ok(previous) = serde_json::from_str::<Value>(&e.document) else {
            continue;
        };
        if resolved {
            let document = asff::archived(&previous, scanned_at);
            plan.send.push(Planned {
                fingerprint: e.fingerprint.clone(),
                digest: digest(&document),
                document,
                change: Change::Archive,
            });
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::exchange::samples;

    const SCOPE: &str = "aws:123456789012:us-east-1";

    fn row(fp: &str, status: Status, account: &str) -> FindingRow {
        let arn = format!("arn:aws:s3:::{fp}");
        let mut r = samples::finding("aws-s3-bucket-public-read", &arn, status, None);
        r.scan_id = 2;
        r.fingerprint = fp.into();
        r.title = "Buckets are not public".into();
        r.resource.account = account.into();
        r.resource.region = "us-east-1".into();
        r.message = "public".into();
        r.evidence = Vec::new();
        r.first_seen = Some("2026-11-01T00:00:00Z".into());
        r.last_seen = Some("2026-11-02T00:00:00Z".into());
        r
    }

    fn target() -> Target {
        Target {
            region: Some("us-east-1".into()),
            account: Some("123456789012".into()),
        }
    }

    fn record(p: &Planned) -> ExportedFinding {
        ExportedFinding {
            fingerprint: p.fingerprint.clone(),
            scope: SCOPE.into(),
            scan_id: 1,
            record_state: p.document["RecordState"].as_str().unwrap().into(),
            digest: p.digest.clone(),
            document: p.document.to_string(),
        }
    }

    fn run(rows: &[FindingRow], exported: &[ExportedFinding], absent: bool) -> Plan {
        plan(
            rows,
            exported,
            (SCOPE, "2026-11-02T00:00:00Z"),
            &target(),
            &BTreeMap::new(),
            |_| absent,
        )
    }

    #[test]
    fn failures_are_imported_once_and_then_left_alone() {
        let mut imported = row("c", Status::Fail, "123456789012");
        imported.source = "securityhub".into();
        let rows = vec![
            row("a", Status::Fail, "123456789012"),
            row("b", Status::Fail, "111111111111"),
            imported,
            row("d", Status::Pass, "123456789012"),
        ];
        let first = run(&rows, &[], false);
        assert_eq!(first.count(Change::Import), 1);
        assert_eq!(first.count(Change::Archive), 0);
        assert_eq!(
            first.other_accounts,
            BTreeMap::from([("111111111111".to_string(), 1)])
        );
        assert_eq!(first.imported_left_out, 1);
        let exported: Vec<_> = first.send.iter().map(record).collect();
        let second = run(&rows, &exported, false);
        assert!(second.send.is_empty());
        assert_eq!(second.unchanged, 1);
    }

    #[test]
    fn a_finding_that_passes_or_is_gone_is_archived_and_one_not_collected_is_kept() {
        let first = run(
            &[
                row("a", Status::Fail, "123456789012"),
                row("b", Status::Fail, "123456789012"),
            ],
            &[],
            false,
        );
        let exported: Vec<_> = first.send.iter().map(record).collect();
        let fixed = run(&[row("a", Status::Pass, "123456789012")], &exported, true);
        assert_eq!(fixed.count(Change::Archive), 2, "a passes, b is gone");
        for p in &fixed.send {
            assert_eq!(p.document["RecordState"], "ARCHIVED");
            assert_eq!(p.document["Workflow"]["Status"], "RESOLVED");
        }
        let unknown = run(&[row("a", Status::Error, "123456789012")], &exported, false);
        assert!(
            unknown.send.is_empty(),
            "an error or a collection gap archives nothing"
        );
        let archived: Vec<_> = fixed.send.iter().map(record).collect();
        let again = run(&[row("a", Status::Pass, "123456789012")], &archived, true);
        assert!(again.send.is_empty(), "archived findings are archived once");
    }
}
