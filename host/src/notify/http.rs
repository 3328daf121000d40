//! Posting a JSON body to a URL through the process's one HTTP client and
//! its bounded exchange (`net::send`), retried on connection errors, 429
//! and 5xx, all within one deadline per delivery ([`DELIVERY_DEADLINE`]):
//! an endpoint that drips its answer, never ends it or answers endlessly
//! costs at most that long and [`RESPONSE_BYTES`] of memory. `http://` and
//! `https://` URLs are accepted.

use std::time::{Duration, Instant};

use super::DeliveryError;
use crate::net::{self, Bounds};

/// Attempts per post before the route fails.
pub const ATTEMPTS: u32 = 3;

/// The longest one delivery may take: every attempt, from connecting to
/// the answer, and the waits between them.
pub const DELIVERY_DEADLINE: Duration = Duration::from_secs(30);

/// The most of a response read (for the message of a refusal).
pub const RESPONSE_BYTES: usize = 64 * 1024;

/// How much of a refusal's body a message quotes.
const QUOTED: usize = 200;

/// A URL a route may post to: http or https with a host.
pub fn check_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url}: not a URL ({e})"))?;
    match parsed.scheme() {
        "http" | "https" if parsed.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        "http" | "https" => Err(format!("{url}: no host")),
        _ => Err(format!("{url}: a route URL is an http:// or https:// URL")),
    }
}

/// What one attempt got back.
enum Answer {
    /// 2xx.
    Delivered,
    /// Another status, with the start of the body.
    Status(u16, String),
}

/// Post `body` as JSON with `headers`, retrying what may succeed later,
/// within [`DELIVERY_DEADLINE`]. Returns the attempts made, and the last
/// error when none succeeded.
pub fn post_with_retries(
    url: &str,
    headers: &[(String, String)],
    body: &str,
) -> (u32, Result<(), DeliveryError>) {
    let deadline = Instant::now() + DELIVERY_DEADLINE;
    let mut last = None;
    let mut attempts = 0;
    while attempts < ATTEMPTS {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        attempts += 1;
        match post(url, headers, body, left) {
            Ok(Answer::Delivered) => return (attempts, Ok(())),
            Ok(Answer::Status(status, text)) if status == 429 || status >= 500 => {
                last = Some(DeliveryError::Status(status, text));
            }
            Ok(Answer::Status(status, text)) => {
                return (attempts, Err(DeliveryError::Status(status, text)));
            }
            Err(e) => last = Some(e),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if attempts < ATTEMPTS && !left.is_zero() {
            std::thread::sleep(Duration::from_millis(250 << attempts).min(left));
        }
    }
    let last = last.unwrap_or(DeliveryError::Send(format!(
        "no attempt fitted in the {} a delivery may take",
        net::human_duration(DELIVERY_DEADLINE)
    )));
    let error = match attempts {
        0 | 1 => last,
        n => DeliveryError::Exhausted {
            attempts: n,
            last: Box::new(last),
        },
    };
    (attempts, Err(error))
}

/// One POST within `left`: whether it was delivered, or the status and
/// the start of the answer.
fn post(
    url: &str,
    headers: &[(String, String)],
    body: &str,
    left: Duration,
) -> Result<Answer, DeliveryError> {
    let bounds = Bounds {
        total: left,
        idle: left,
        max_bytes: RESPONSE_BYTES as u64,
        min_rate: 0,
        peer: "endpoint",
        limit_name: "response limit",
    };
    let client = net::http().map_err(|e| DeliveryError::Send(e.to_string()))?;
    let mut req = client
        .post(url)
        .header("Content-Type", "application/json")
        .body(body.to_string());
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let answer = net::block_on(async {
        let exchange = net::send(req, bounds).await?;
        let status = exchange.status();
        if (200..300).contains(&status) {
            return Ok(Answer::Delivered);
        }
        let text = exchange.body_prefix(RESPONSE_BYTES).await;
        Ok(Answer::Status(status, quote(&text)))
    })
    .map_err(|e| DeliveryError::Send(e.to_string()))?;
    answer.map_err(|e: net::HttpError| DeliveryError::Send(e.to_string()))
}

/// The start of a refusal's body, on one printable line.
fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line: String = text
        .chars()
        .filter(|c| !c.is_control() || *c == ' ')
        .take(QUOTED)
        .collect();
    line.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_urls_are_http_or_https_with_a_host() {
        assert!(check_url("http://127.0.0.1:8080/hook?x=1").is_ok());
        assert!(check_url("https://hooks.slack.com/services/T0/B0/X").is_ok());
        assert!(
            check_url("ftp://x")
                .unwrap_err()
                .contains("http:// or https://")
        );
        assert!(check_url("not a url").unwrap_err().contains("not a URL"));
    }
}
