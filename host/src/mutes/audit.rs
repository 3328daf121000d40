//! The audit of a mute file: mutes that expired, mutes that covered none
//! of a scan's failures, mutes naming no rule the scan ran, and mutes
//! without an owner.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::Serialize;

use super::{MuteSet, Subject, glob};

/// One problem with one mute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The mute's id.
    pub mute: String,
    /// The line of the mute in the file.
    pub line: usize,
    /// `expired`, `unmatched`, `unknown-rule` or `no-owner`.
    pub kind: &'static str,
    /// What exactly, for a person.
    pub detail: String,
}

/// What the audit compares the file with: the latest scan's failing
/// findings and the rules it ran; `None` when there is no scan yet.
pub struct ScanView<'a> {
    /// The scan's id.
    pub id: i64,
    /// Its failing findings.
    pub failing: Vec<Subject<'a>>,
    /// The ids of the rules it ran.
    pub rules: BTreeSet<String>,
}

/// Every problem of the file on `today`, in file order.
pub fn audit(set: &MuteSet, scan: Option<&ScanView<'_>>, today: NaiveDate) -> Vec<Problem> {
    let mut out = Vec::new();
    for m in &set.mutes {
        let mut problem = |kind, detail: String| {
            out.push(Problem {
                mute: m.id.clone(),
                line: m.line,
                kind,
                detail,
            })
        };
        if let Some(e) = m.expires.filter(|_| m.expired(today)) {
            problem(
                "expired",
                format!("expired on {e}; remove it or extend `expires`"),
            );
        }
        if m.owner.is_none() {
            problem("no-owner", "names no owner; add `owner:`".into());
        }
        let Some(scan) = scan else { continue };
        for r in m.rules.iter().filter(|r| !glob::is_glob(r)) {
            if !scan.rules.contains(r.as_str()) {
                problem(
                    "unknown-rule",
                    format!("rule `{r}` did not run in scan #{}", scan.id),
                );
            }
        }
        if !m.expired(today) && !scan.failing.iter().any(|s| m.covers(s)) {
            problem(
                "unmatched",
                format!("covers none of the failing findings of scan #{}", scan.id),
            );
        }
    }
    out
}
