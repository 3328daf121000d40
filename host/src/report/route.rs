//! Alert routing: the new alerts of a run at or above a severity, to a
//! generic webhook (one JSON POST per route and run, retried) and/or a file
//! (NDJSON, appended). Routes come from a TOML file (`--route`) or flags.
//!
//! ```toml
//! [[route]]
//! min_severity = "high"
//! webhook = "http://alerts.internal:8080/stance"
//!
//! [[route]]
//! min_severity = "low"
//! file = "/var/log/stance/alerts.ndjson"
//! ```

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::events::Alert;
use crate::model::Severity;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Alerts at or above this severity take the route (default: every alert).
    #[serde(default)]
    pub min_severity: Option<Severity>,
    #[serde(default)]
    pub webhook: Option<String>,
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

/// A route needs a destination, and webhooks must be `http://` URLs.
pub fn check(r: &Route) -> Result<(), String> {
    if r.webhook.is_none() && r.file.is_none() {
        return Err("a route needs a webhook or a file".into());
    }
    if let Some(url) = &r.webhook {
        parse_url(url)?;
    }
    Ok(())
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
                let (attempts, result) = post_with_retries(url, &body);
                d.attempts = attempts;
                d.error = result.err();
            }
            out.push(d);
        }
    }
    out
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

fn post_with_retries(url: &str, body: &str) -> (u32, Result<(), String>) {
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        match post(url, body) {
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
                "{url}: https webhooks are not supported in this build yet; use an http:// URL (a local relay) or a file route"
            )
        } else {
            format!("{url}: a webhook is an http:// URL")
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

/// One HTTP/1.1 POST; returns the status code.
fn post(url: &str, body: &str) -> Result<u16, String> {
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
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: stance/{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
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
        assert!(
            check(&Route {
                min_severity: None,
                webhook: None,
                file: None
            })
            .is_err()
        );
    }
}
