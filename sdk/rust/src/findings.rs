//! Building findings and alerts with evidence.
//!
//! `Finding::fail(rule, asset, message).with_evidence(path, &actual, expected)`
//! is the whole vocabulary; the host fills in severity, compliance and
//! remediation from the rule's declaration.

use serde_json::Value;

use crate::{Alert, Asset, Event, Evidence, Finding, PluginError, Severity, Status};

impl Finding {
    fn new(rule_id: &str, asset: &Asset, status: Status, message: String) -> Self {
        Finding {
            rule_id: rule_id.to_string(),
            asset_id: asset.id.clone(),
            status,
            severity: None,
            message,
            evidence: Vec::new(),
        }
    }

    /// The rule holds for the asset.
    pub fn pass(rule_id: &str, asset: &Asset) -> Self {
        Self::new(rule_id, asset, Status::Pass, String::new())
    }

    /// The rule does not hold; `message` says why, for a human.
    pub fn fail(rule_id: &str, asset: &Asset, message: impl Into<String>) -> Self {
        Self::new(rule_id, asset, Status::Fail, message.into())
    }

    /// The rule could not decide for this asset (missing or malformed data).
    pub fn error(rule_id: &str, asset: &Asset, message: impl Into<String>) -> Self {
        Self::new(rule_id, asset, Status::Error, message.into())
    }

    /// Record what the rule looked at: a path, its actual value and the
    /// condition it was held against.
    pub fn with_evidence(mut self, path: &str, actual: &Value, expected: &str) -> Self {
        self.evidence.push(Evidence::new(path, actual, expected));
        self
    }

    /// Override the rule's declared severity for this finding.
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = Some(severity);
        self
    }
}

impl Evidence {
    /// What a rule looked at: the field `path`, the value found there
    /// (stored as JSON text) and the condition it was held against.
    pub fn new(path: &str, actual: &Value, expected: &str) -> Self {
        Evidence {
            path: path.to_string(),
            actual: actual.to_string(),
            expected: expected.to_string(),
        }
    }
}

impl Alert {
    /// An alert of `rule_id` on one event; the window is the event's time.
    pub fn on_event(
        rule_id: &str,
        severity: Severity,
        title: impl Into<String>,
        event: &Event,
    ) -> Self {
        Alert {
            rule_id: rule_id.to_string(),
            severity,
            title: title.into(),
            message: String::new(),
            event_ids: vec![event.id.clone()],
            group_key: None,
            window_start: event.time.clone(),
            window_end: event.time.clone(),
            evidence: Vec::new(),
        }
    }

    /// Say what happened, in one line for a human (empty by default).
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// Record a field that made the match: its path, the value found and
    /// the condition it met.
    pub fn with_evidence(mut self, path: &str, actual: &Value, expected: &str) -> Self {
        self.evidence.push(Evidence::new(path, actual, expected));
        self
    }
}

impl PluginError {
    /// A failure of the whole batch, not tied to one rule.
    pub fn new(message: impl Into<String>) -> Self {
        PluginError {
            rule_id: None,
            message: message.into(),
        }
    }

    /// A failure of the batch caused by one rule (the host still records every
    /// result of the batch as `error`; the rule is named in the cause).
    pub fn for_rule(rule_id: &str, message: impl Into<String>) -> Self {
        PluginError {
            rule_id: Some(rule_id.to_string()),
            message: message.into(),
        }
    }
}
