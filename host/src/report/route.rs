//! Alert routing: the new alerts of a run at or above a severity, to a
//! generic webhook (one JSON POST per route and run, optionally signed with
//! HMAC-SHA256), a Slack incoming webhook (one summary message per run),
//! PagerDuty Events API v2 (one trigger event per alert) and/or a file
//! (NDJSON, appended). Posts are retried on connection errors, 429 and 5xx.
//! Routes come from a TOML file (`--route`) or flags.
//!
//! ```toml
//! [[route]]
//! min_severity = "high"
//! webhook = "http://alerts.internal:8080/stance"
//! hmac_secret_env = "STANCE_WEBHOOK_SECRET"
//!
//! [[route]]
//! slack = "https://hooks.slack.com/services/T000/B000/XXXX"
//!
//! [[route]]
//! min_severity = "critical"
//! pagerduty_routing_key_env = "PD_ROUTING_KEY"
//!
//! [[route]]
//! min_severity = "low"
//! file = "/var/log/stance/alerts.ndjson"
//! ```
//!
//! `https://` needs the `oci` cargo feature (reqwest with rustls, in the
//! default build); without it only `http://` URLs are accepted.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::events::Alert;
use crate::model::Severity;

/// Where PagerDuty events go unless `pagerduty_url` says otherwise.
pub const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// The header that carries a webhook body's HMAC-SHA256 signature.
pub const SIGNATURE_HEADER: &str = "X-Stance-Signature";

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Alerts at or above this severity take the route (default: every alert).
    #[serde(default)]
    pub min_severity: Option<Severity>,
    /// A generic JSON webhook.
    #[serde(default)]
    pub webhook: Option<String>,
    /// The environment variable that holds the webhook's HMAC secret (the
    /// secret itself is never written in the route file).
    #[serde(default)]
    pub hmac_secret_env: Option<String>,
    /// A Slack incoming webhook URL.
    #[serde(default)]
    pub slack: Option<String>,
    /// The environment variable that holds a PagerDuty Events v2 routing key
    /// (an integration key); its presence makes this a PagerDuty route.
    #[serde(default)]
    pub pagerduty_routing_key_env: Option<String>,
    /// The Events v2 endpoint (default: `PAGERDUTY_URL`).
    #[serde(default)]
    pub pagerduty_url: Option<String>,
    #[serde(default)]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteFile {
    #[serde(default)]
    route: Vec<Route>,
}

/// Read the `[[route]]` tables of a TOML file and check them.
pub fn load(path: &Path) -> anyhow::Result<Vec<Route>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
    let file: RouteFile = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?;
    for (i, r) in file.route.iter().enumerate() {
        check(r).map_err(|e| anyhow::anyhow!("{}: route #{}: {e}", path.display(), i + 1))?;
    }
    Ok(file.route)
}

/// A route needs a destination, URLs must be usable, and the environment
/// variables it names must be set.
pub fn check(r: &Route) -> Result<(), String> {
    if r.webhook.is_none()
        && r.file.is_none()
        && r.slack.is_none()
        && r.pagerduty_routing_key_env.is_none()
    {
        return Err(
            "a route needs a webhook, slack, pagerduty_routing_key_env or file destination".into(),
        );
    }
    if r.hmac_secret_env.is_some() && r.webhook.is_none() {
        return Err("hmac_secret_env signs a webhook; this route has none".into());
    }
    if r.pagerduty_url.is_some() && r.pagerduty_routing_key_env.is_none() {
        return Err("pagerduty_url needs pagerduty_routing_key_env".into());
    }
    if let Some(url) = &r.webhook {
        check_url(url)?;
    }
    if let Some(url) = &r.slack {
        check_url(url).map_err(|e| e.replace(url.as_str(), &redact(url)))?;
    }
    if r.pagerduty_routing_key_env.is_some() {
        check_url(r.pagerduty_url.as_deref().unwrap_or(PAGERDUTY_URL))?;
    }
    for var in [&r.hmac_secret_env, &r.pagerduty_routing_key_env]
        .into_iter()
        .flatten()
    {
        env_secret(var)?;
    }
    Ok(())
}

fn env_secret(var: &str) -> Result<String, String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => Err(format!(
            "the environment variable {var} is not set (or empty)"
        )),
    }
}

/// `http://` always; `https://` when this build links a TLS client.
fn check_url(url: &str) -> Result<(), String> {
    if url.starts_with("https://") && cfg!(feature = "oci") {
        return Ok(());
    }
    parse_url(url).map(|_| ())
}

/// What happened to one route.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Delivery {
    pub destination: String,
    pub alerts: usize,
    pub attempts: u32,
    pub error: Option<String>,
}

/// Send the alerts to each route (nothing is sent for a route with no
/// alerts at its severity). With `dry_run`, report what would be sent.
pub fn deliver(routes: &[Route], run_id: i64, alerts: &[Alert], dry_run: bool) -> Vec<Delivery> {
    let mut out = Vec::new();
    for r in routes {
        let picked: Vec<&Alert> = alerts
            .iter()
            .filter(|a| r.min_severity.is_none_or(|m| a.severity >= m))
            .collect();
        if let Some(path) = &r.file {
            let mut d = Delivery {
                destination: path.display().to_string(),
                alerts: picked.len(),
                attempts: 0,
                error: None,
            };
            if !dry_run && !picked.is_empty() {
                d.attempts = 1;
                d.error = append(path, run_id, &picked).err();
            }
            out.push(d);
        }
        if let Some(url) = &r.webhook {
            let mut d = Delivery {
                destination: url.clone(),
                alerts: picked.len(),
                attempts: 0,
                error: None,
            };
            if !dry_run && !picked.is_empty() {
                let body = serde_json::json!({
                    "source": "stance",
                    "version": env!("CARGO_PKG_VERSION"),
                    "run_id": run_id,
                    "alerts": picked,
                })
                .to_string();
                let mut headers = Vec::new();
                let mut error = None;
                if let Some(var) = &r.hmac_secret_env {
                    match env_secret(var) {
                        Ok(secret) => headers.push((
                            SIGNATURE_HEADER.to_string(),
                            format!(
                                "sha256={}",
                                hex::encode(hmac_sha256(secret.as_bytes(), body.as_bytes()))
                            ),
                        )),
                        Err(e) => error = Some(e),
                    }
                }
                if error.is_none() {
                    let (attempts, result) = post_with_retries(url, &headers, &body);
                    d.attempts = attempts;
                    error = result.err();
                }
                d.error = error;
            }
            out.push(d);
        }
        if let Some(url) = &r.slack {
            // A Slack webhook URL is a credential: its path is not printed.
            let shown = redact(url);
            let mut d = Delivery {
                destination: format!("slack {shown}"),
                alerts: picked.len(),
                attempts: 0,
                error: None,
            };
            if !dry_run && !picked.is_empty() {
                let body = slack_message(run_id, &picked).to_string();
                let (attempts, result) = post_with_retries(url, &[], &body);
                d.attempts = attempts;
                d.error = result.err().map(|e| e.replace(url.as_str(), &shown));
            }
            out.push(d);
        }
        if let Some(var) = &r.pagerduty_routing_key_env {
            let url = r.pagerduty_url.as_deref().unwrap_or(PAGERDUTY_URL);
            let mut d = Delivery {
                destination: format!("pagerduty {url}"),
                alerts: picked.len(),
                attempts: 0,
                error: None,
            };
            if !dry_run && !picked.is_empty() {
                match env_secret(var) {
                    Err(e) => d.error = Some(e),
                    Ok(key) => {
                        // One event per alert; the first failure stops the route.
                        for a in &picked {
                            let body = pagerduty_event(&key, run_id, a).to_string();
                            let (attempts, result) = post_with_retries(url, &[], &body);
                            d.attempts += attempts;
                            if let Err(e) = result {
                                d.error = Some(format!("alert {}: {e}", a.fingerprint));
                                break;
                            }
                        }
                    }
                }
            }
            out.push(d);
        }
    }
    out
}

/// `scheme://host[:port]/…`: a URL without its path and query.
fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    format!("{scheme}://{authority}/…")
}

/// HMAC-SHA256 (RFC 2104) of `msg` under `key`.
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// A Slack incoming-webhook message: a line of totals, then one section per
/// rule (severity, rule, count, first event), most severe first.
fn slack_message(run_id: i64, alerts: &[&Alert]) -> serde_json::Value {
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
        "text": {"type": "mrkdwn", "text": format!("*{}*", slack_escape(&text))},
    })];
    const MAX_SECTIONS: usize = 40;
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
            slack_escape(title),
            slack_escape(rule),
            count,
            slack_escape(event),
            first.window_start,
            if place.is_empty() {
                String::new()
            } else {
                format!(" ({})", slack_escape(&place))
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

fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// PagerDuty's severities: critical, error, warning, info.
pub fn pagerduty_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "info",
    }
}

/// An Events API v2 trigger for one alert, deduplicated by its fingerprint.
fn pagerduty_event(routing_key: &str, run_id: i64, a: &Alert) -> serde_json::Value {
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
            "severity": pagerduty_severity(a.severity),
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

fn append(path: &Path, run_id: i64, alerts: &[&Alert]) -> Result<(), String> {
    let mut text = String::new();
    for a in alerts {
        let mut v = serde_json::to_value(a).map_err(|e| e.to_string())?;
        v["run_id"] = run_id.into();
        text.push_str(&v.to_string());
        text.push('\n');
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("{}: {e}", path.display()))
}

const ATTEMPTS: u32 = 3;

fn post_with_retries(
    url: &str,
    headers: &[(String, String)],
    body: &str,
) -> (u32, Result<(), String>) {
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        match post(url, headers, body) {
            Ok(status) if (200..300).contains(&status) => return (attempt, Ok(())),
            Ok(status) if status == 429 || status >= 500 => {
                last = format!("HTTP {status}");
            }
            Ok(status) => return (attempt, Err(format!("HTTP {status}"))),
            Err(e) => last = e,
        }
        if attempt < ATTEMPTS {
            std::thread::sleep(Duration::from_millis(250 << attempt));
        }
    }
    (ATTEMPTS, Err(format!("{last} after {ATTEMPTS} attempts")))
}

#[derive(Debug)]
struct Url {
    host: String,
    port: u16,
    path: String,
}

fn parse_url(url: &str) -> Result<Url, String> {
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(if url.starts_with("https://") {
            format!(
                "{url}: https routes are not supported in this build (built without the `oci` feature, which links the TLS client); use an http:// URL (a local relay) or a file route"
            )
        } else {
            format!("{url}: a route URL is an http:// or https:// URL")
        });
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("{url}: invalid port {p:?}"))?,
        ),
        _ => (authority, 80),
    };
    if host.is_empty() {
        return Err(format!("{url}: no host"));
    }
    Ok(Url {
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        port,
        path: path.to_string(),
    })
}

/// One POST over https (reqwest with rustls); returns the status code.
#[cfg(feature = "oci")]
fn post_https(url: &str, headers: &[(String, String)], body: &str) -> Result<u16, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("{url}: {e}"))?;
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .https_only(true)
            .user_agent(concat!("stance/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("{url}: {e}"))?;
        let mut req = client
            .post(url)
            .header("Content-Type", "application/json")
            .body(body.to_string());
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let resp = req.send().await.map_err(|e| {
            // reqwest's message leaves out the cause (refused, TLS, DNS…).
            let e = e.without_url();
            let mut msg = e.to_string();
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                msg.push_str(&format!(": {c}"));
                cause = c.source();
            }
            format!("{url}: {msg}")
        })?;
        Ok(resp.status().as_u16())
    })
}

/// One HTTP/1.1 POST; returns the status code.
fn post(url: &str, headers: &[(String, String)], body: &str) -> Result<u16, String> {
    #[cfg(feature = "oci")]
    if url.starts_with("https://") {
        return post_https(url, headers, body);
    }
    let u = parse_url(url)?;
    let timeout = Duration::from_secs(10);
    let addr = (u.host.as_str(), u.port)
        .to_socket_addrs()
        .map_err(|e| format!("{url}: {e}"))?
        .next()
        .ok_or_else(|| format!("{url}: no address"))?;
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{url}: {e}"))?;
    s.set_read_timeout(Some(timeout)).ok();
    s.set_write_timeout(Some(timeout)).ok();
    let mut extra = String::new();
    for (k, v) in headers {
        extra.push_str(&format!("{k}: {v}\r\n"));
    }
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: stance/{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        u.path,
        u.host,
        u.port,
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    s.write_all(head.as_bytes())
        .and_then(|_| s.write_all(body.as_bytes()))
        .map_err(|e| format!("{url}: {e}"))?;
    let mut resp = Vec::new();
    let mut buf = [0u8; 1024];
    // The status line is all we need.
    while !resp.windows(2).any(|w| w == b"\r\n") {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => resp.extend_from_slice(&buf[..n]),
            Err(e) => return Err(format!("{url}: {e}")),
        }
    }
    let line = String::from_utf8_lossy(&resp);
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("{url}: not an HTTP response"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let u = parse_url("http://127.0.0.1:8080/hook?x=1").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("127.0.0.1", 8080, "/hook?x=1")
        );
        assert_eq!(parse_url("http://example").unwrap().port, 80);
        assert!(
            parse_url("https://example")
                .unwrap_err()
                .contains("not supported")
        );
        assert!(check(&Route::default()).is_err());
        assert_eq!(
            redact("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com/…"
        );
        assert!(
            check(&Route {
                slack: Some("ftp://x".into()),
                ..Route::default()
            })
            .is_err()
        );
    }

    #[test]
    fn hmac_matches_rfc4231() {
        // RFC 4231, test cases 2 and 6 (a key longer than the block).
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn pagerduty_severities() {
        assert_eq!(pagerduty_severity(Severity::Critical), "critical");
        assert_eq!(pagerduty_severity(Severity::High), "error");
        assert_eq!(pagerduty_severity(Severity::Medium), "warning");
        assert_eq!(pagerduty_severity(Severity::Low), "info");
        assert_eq!(pagerduty_severity(Severity::Info), "info");
    }
}
