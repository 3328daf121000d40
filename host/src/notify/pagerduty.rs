//! PagerDuty Events API v2: one trigger event per alert, deduplicated by
//! the alert's fingerprint, with Stance's severities mapped onto PagerDuty's.

use crate::model::{Alert, Severity};

/// Where PagerDuty events go unless a route's `pagerduty_url` says otherwise.
pub const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// PagerDuty's severities: critical, error, warning, info.
pub fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "info",
    }
}

/// An Events API v2 trigger for one alert, deduplicated by its fingerprint.
pub fn event(routing_key: &str, run_id: i64, a: &Alert) -> serde_json::Value {
    let mut summary = format!(
        "[{}] {} ({})",
        a.severity.as_str().to_uppercase(),
        a.title,
        a.rule_id
    );
    if summary.len() > 1024 {
        let mut end = 1021;
        while !summary.is_char_boundary(end) {
            end -= 1;
        }
        summary.truncate(end);
        summary.push_str("...");
    }
    let source = [a.account.as_str(), a.region.as_str()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/");
    let timestamp = chrono::DateTime::parse_from_rfc3339(&a.window_start)
        .map(|t| t.to_rfc3339())
        .unwrap_or_else(|_| chrono::Utc::now().to_rfc3339());
    serde_json::json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": a.fingerprint,
        "payload": {
            "summary": summary,
            "severity": severity(a.severity),
            "source": if source.is_empty() { "stance".to_string() } else { source },
            "timestamp": timestamp,
            "component": a.source,
            "class": a.rule_id,
            "custom_details": {
                "rule_id": a.rule_id,
                "title": a.title,
                "severity": a.severity.as_str(),
                "message": a.message,
                "event_ids": a.event_ids,
                "group_key": a.group_key,
                "window_start": a.window_start,
                "window_end": a.window_end,
                "evidence": a.evidence,
                "account": a.account,
                "region": a.region,
                "plugin": a.plugin,
                "run_id": run_id,
            },
        },
        "client": "stance",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_map_onto_pagerduty_s() {
        assert_eq!(severity(Severity::Critical), "critical");
        assert_eq!(severity(Severity::High), "error");
        assert_eq!(severity(Severity::Medium), "warning");
        assert_eq!(severity(Severity::Low), "info");
        assert_eq!(severity(Severity::Info), "info");
    }
}
