//! What detection reads and produces: events (one normalized audit-log
//! record each) and alerts (a rule's match over one or more events), with
//! the alert's deterministic identity.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{Evidence, Severity};

/// One normalized audit-log record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// CloudTrail's `eventID` (a digest of the record when it has none).
    pub id: String,
    /// The log source, `aws_cloudtrail`.
    pub source: String,
    /// RFC 3339 time of the event (`eventTime`).
    pub time: String,
    /// `recipientAccountId`.
    pub account: String,
    /// `awsRegion`.
    pub region: String,
    /// The raw record as JSON text, exactly as read.
    pub body: String,
}

/// What a detector reported, validated by the host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// Identity of the alert across runs ([`alert_fingerprint`]).
    pub fingerprint: String,
    /// The rule that matched.
    pub rule_id: String,
    /// The rule's title.
    pub title: String,
    /// The detector plugin that carries the rule.
    pub plugin: String,
    /// The plugin's version.
    pub plugin_version: String,
    /// How bad.
    pub severity: Severity,
    /// One line saying what happened.
    pub message: String,
    /// The events that matched.
    pub event_ids: Vec<String>,
    /// A correlation's group (e.g. the user), when grouped.
    pub group_key: Option<String>,
    /// Start of the matched window (RFC 3339).
    pub window_start: String,
    /// End of the matched window (RFC 3339).
    pub window_end: String,
    /// The fields that made the match.
    pub evidence: Vec<Evidence>,
    /// Account of the first matched event of the batch (empty when the
    /// events came from earlier batches).
    pub account: String,
    /// Region of the first matched event of the batch.
    pub region: String,
    /// Log source of the first matched event of the batch.
    pub source: String,
}

/// The stable identity of an alert: the rule and the events it matched (a
/// single-event rule), or the rule, group and window start (a correlation).
pub fn alert_fingerprint(
    rule_id: &str,
    group_key: Option<&str>,
    window_start: &str,
    event_ids: &[String],
) -> String {
    let mut h = Sha256::new();
    h.update(rule_id.as_bytes());
    h.update([0]);
    match group_key {
        Some(g) => {
            h.update(b"g");
            h.update(g.as_bytes());
            h.update([0]);
            h.update(window_start.as_bytes());
        }
        None if event_ids.len() > 1 => {
            h.update(b"w");
            h.update(window_start.as_bytes());
        }
        None => {
            h.update(b"e");
            for id in event_ids {
                h.update(id.as_bytes());
                h.update([0]);
            }
        }
    }
    hex::encode(&h.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlations_are_identified_by_group_and_window() {
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let a = alert_fingerprint("r", Some("alice"), "t0", &ids(&["1", "2"]));
        let b = alert_fingerprint("r", Some("alice"), "t0", &ids(&["3"]));
        assert_eq!(a, b, "the same group and window is the same alert");
        assert_ne!(a, alert_fingerprint("r", Some("bob"), "t0", &ids(&["1"])));
        let single = alert_fingerprint("r", None, "t0", &ids(&["1"]));
        assert_ne!(single, alert_fingerprint("r", None, "t0", &ids(&["2"])));
    }
}
