//! Slack incoming webhooks: one summary message per run and route (a line
//! of totals, then one section per rule, most severe first). A Slack
//! webhook URL is a credential: only its scheme and host are ever shown.

use crate::model::{Alert, Severity};

/// `scheme://host[:port]/…`: a URL without its path and query.
pub fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    format!("{scheme}://{authority}/…")
}

/// Most sections one message carries; the rest are counted in a footer.
const MAX_SECTIONS: usize = 40;

/// A Slack incoming-webhook message: a line of totals, then one section per
/// rule (severity, rule, count, first event), most severe first.
pub fn message(run_id: i64, alerts: &[&Alert]) -> serde_json::Value {
    // (severity, rule) -> (title, count, first alert)
    let mut groups: Vec<(Severity, &str, &str, usize, &Alert)> = Vec::new();
    for a in alerts {
        match groups
            .iter_mut()
            .find(|g| g.0 == a.severity && g.1 == a.rule_id)
        {
            Some(g) => g.3 += 1,
            None => groups.push((a.severity, &a.rule_id, &a.title, 1, a)),
        }
    }
    groups.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(y.1)));
    let by_sev: Vec<String> = Severity::ALL
        .iter()
        .filter_map(|s| {
            let n = alerts.iter().filter(|a| a.severity == *s).count();
            (n > 0).then(|| format!("{n} {s}"))
        })
        .collect();
    let text = format!(
        "Stance: {} new alert(s) ({}) in detection run #{run_id}",
        alerts.len(),
        by_sev.join(", ")
    );
    let mut blocks = vec![serde_json::json!({
        "type": "section",
        "text": {"type": "mrkdwn", "text": format!("*{}*", escape(&text))},
    })];
    for (sev, rule, title, count, first) in groups.iter().take(MAX_SECTIONS) {
        let event = first.event_ids.first().map(String::as_str).unwrap_or("-");
        let place = [first.account.as_str(), first.region.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        let line = format!(
            "*{}* {}\nrule `{}` · {} alert(s)\nfirst event `{}` at {}{}",
            sev.as_str().to_uppercase(),
            escape(title),
            escape(rule),
            count,
            escape(event),
            first.window_start,
            if place.is_empty() {
                String::new()
            } else {
                format!(" ({})", escape(&place))
            }
        );
        blocks.push(serde_json::json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": line},
        }));
    }
    if groups.len() > MAX_SECTIONS {
        blocks.push(serde_json::json!({
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": format!("and {} more rule(s); `stance alerts --run {run_id}` lists them all", groups.len() - MAX_SECTIONS)}],
        }));
    }
    serde_json::json!({"text": text, "blocks": blocks})
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
