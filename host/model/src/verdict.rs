//! The enumerations of a verdict: how bad ([`Severity`]), what the rule
//! decided ([`Status`]) and where a failing finding stands across scans
//! ([`Lifecycle`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How bad a failing rule is, from `info` to `critical` (ordered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; no risk by itself.
    Info,
    /// A weakness with little exposure.
    Low,
    /// A weakness to fix in the normal course of work.
    Medium,
    /// A weakness an attacker can use; fix soon.
    High,
    /// Exposed now; fix first.
    Critical,
}

impl Severity {
    /// Every severity, worst first (the order of summaries).
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    /// The lower-case name used in files, flags and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "info" | "informational" => Ok(Severity::Info),
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            _ => Err(format!(
                "unknown severity {s:?}; use critical, high, medium, low or info"
            )),
        }
    }
}

/// The outcome of a rule on an asset. `Error` means the rule could not
/// decide, or its plugin failed on the batch; it is never counted as a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The asset meets the rule.
    Pass,
    /// The asset breaks the rule.
    Fail,
    /// Unknown: the rule could not decide, or its plugin failed.
    Error,
}

impl Status {
    /// The lower-case name used in files, flags and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Error => "error",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "pass" => Ok(Status::Pass),
            "fail" => Ok(Status::Fail),
            "error" => Ok(Status::Error),
            _ => Err(format!("unknown status {s:?}; use pass, fail or error")),
        }
    }
}

/// Where a failing finding stands compared with earlier scans of the same scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lifecycle {
    /// Failing now, never failing before in this scope.
    New,
    /// Failing now and in the previous scan.
    Recurring,
    /// Failing now, resolved at some scan before.
    Reopened,
    /// Failing before, no longer failing.
    Resolved,
}

impl Lifecycle {
    /// The lower-case name used in files, flags and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::New => "new",
            Lifecycle::Recurring => "recurring",
            Lifecycle::Reopened => "reopened",
            Lifecycle::Resolved => "resolved",
        }
    }
}

impl FromStr for Lifecycle {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "new" => Ok(Lifecycle::New),
            "recurring" => Ok(Lifecycle::Recurring),
            "reopened" => Ok(Lifecycle::Reopened),
            "resolved" => Ok(Lifecycle::Resolved),
            _ => Err(format!(
                "unknown lifecycle {s:?}; use new, recurring, reopened or resolved"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Severity::ALL {
            assert_eq!(s.as_str().parse::<Severity>(), Ok(s));
        }
        assert_eq!("informational".parse::<Severity>(), Ok(Severity::Info));
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Info);
        for s in [Status::Pass, Status::Fail, Status::Error] {
            assert_eq!(s.as_str().parse::<Status>(), Ok(s));
        }
        assert!(
            "muted"
                .parse::<Status>()
                .unwrap_err()
                .contains("pass, fail or error")
        );
        assert_eq!("reopened".parse::<Lifecycle>(), Ok(Lifecycle::Reopened));
    }
}
