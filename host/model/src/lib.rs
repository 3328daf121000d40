//! The records every stage of Stance shares (docs/architecture.md, "Data
//! model"): assets and collections, rules, findings, events, alerts, the
//! record of a failed plugin batch, and the severity, status and lifecycle
//! enumerations. Plain data and the pure functions that define identity
//! (fingerprints) and applicability (resource-type patterns); no I/O, and no
//! dependency on any engine: the engines, the runtime, the store and the
//! reports all build on this crate, never the other way round.

#![warn(missing_docs)]

mod asset;
mod event;
mod finding;
mod rule;
mod verdict;

pub use asset::{Asset, CollectionError, Gap, ImportedFinding, Scope, Snapshot};
pub use event::{Alert, Event, alert_fingerprint};
pub use finding::{Evidence, FailureRecord, Finding, MuteRef, fingerprint};
pub use rule::{ComplianceRef, Remediation, Rule, SourceFile, type_matches};
pub use verdict::{Lifecycle, Severity, Status};

/// Now, as an RFC 3339 UTC timestamp with second precision.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
