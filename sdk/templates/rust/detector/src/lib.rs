//! {{name}}: a Stance detector plugin. One rule: someone stopped CloudTrail
//! logging or deleted a trail (and AWS accepted the call).

use stance_sdk::prelude::*;

const RULE: &str = "{{name}}-trail-tampering";

struct Plugin;

impl Detector for Plugin {
    fn describe() -> Result<PluginInfo, PluginError> {
        Ok(PluginInfo::new("{{name}}", env!("CARGO_PKG_VERSION"))
            .description("Alerts when CloudTrail logging is stopped or a trail is deleted")
            .rule(
                RuleInfo::new(RULE, "CloudTrail logging stopped or trail deleted", Severity::High)
                    .description("Attackers stop audit logging before they act (MITRE ATT&CK T1562.008).")
                    .resource_types(["aws_cloudtrail"])
                    .remediation(
                        "Confirm the change was approved; restart logging with aws cloudtrail start-logging --name TRAIL.",
                        &["https://attack.mitre.org/techniques/T1562/008/"],
                    ),
            ))
    }

    fn evaluate(batch: Vec<Event>) -> Result<Vec<Alert>, PluginError> {
        let mut alerts = Vec::new();
        for event in &batch {
            let body = event.body_json()?;
            let name = field_str(&body, "eventName").unwrap_or_default();
            let source = field_str(&body, "eventSource").unwrap_or_default();
            let refused = field(&body, "errorCode").is_some();
            if source != "cloudtrail.amazonaws.com"
                || !matches!(name, "StopLogging" | "DeleteTrail")
                || refused
            {
                continue;
            }
            let who = field_str(&body, "userIdentity.arn").unwrap_or("an unknown principal");
            alerts.push(
                Alert::on_event(RULE, Severity::High, "CloudTrail logging stopped", event)
                    .with_message(format!("{who} called {name}"))
                    .with_evidence("eventName", &json!(name), "StopLogging or DeleteTrail"),
            );
        }
        Ok(alerts)
    }
}

stance_sdk::export_detector!(Plugin);
