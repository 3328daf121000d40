//! Events: audit-log records read from files, directories or stdin and
//! normalized into the WIT `event` record (CloudTrail first), and the alerts
//! detectors raise on them. Readers stream: a file is never held in memory
//! whole, events are handed on one by one to be batched. This module only
//! reads and normalizes; it never evaluates rules or writes to the store.

pub mod input;

use serde::Serialize;

use crate::model::{Evidence, Severity};

pub use input::{
    InputError, InputStats, Inputs, LogFormat, TimeRange, parse_time_bound, read_bytes,
};

/// One normalized audit-log record (DESIGN.md, "Data model").
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
    /// Identity of the alert across runs: rule and event (single-event
    /// rules), or rule, group and window start (correlations).
    pub fingerprint: String,
    pub rule_id: String,
    pub title: String,
    pub plugin: String,
    pub plugin_version: String,
    pub severity: Severity,
    pub message: String,
    pub event_ids: Vec<String>,
    pub group_key: Option<String>,
    pub window_start: String,
    pub window_end: String,
    pub evidence: Vec<Evidence>,
    /// Account, region and source of the first matched event of the batch
    /// (empty when the events came from earlier batches).
    pub account: String,
    pub region: String,
    pub source: String,
}
