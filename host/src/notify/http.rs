//! Posting a JSON body to a URL through the process's one HTTP client
//! (`net`), retried on connection errors, 429 and 5xx, with a total
//! deadline per attempt. `http://` and `https://` URLs are accepted.

use std::time::Duration;

use super::DeliveryError;

/// Attempts per post before the route fails.
pub const ATTEMPTS: u32 = 3;

/// The longest one attempt may take, from connecting to the last byte.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// A URL a route may post to: http or https with a host.
pub fn check_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url}: not a URL ({e})"))?;
    match parsed.scheme() {
        "http" | "https" if parsed.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        "http" | "https" => Err(format!("{url}: no host")),
        _ => Err(format!("{url}: a route URL is an http:// or https:// URL")),
    }
}

/// Post `body` as JSON with `headers`, retrying what may succeed later.
/// Returns the attempts made, and the last error when none succeeded.
pub fn post_with_retries(
    url: &str,
    headers: &[(String, String)],
    body: &str,
) -> (u32, Result<(), DeliveryError>) {
    let mut last = None;
    for attempt in 1..=ATTEMPTS {
        match post(url, headers, body) {
            Ok(status) if (200..300).contains(&status) => return (attempt, Ok(())),
            Ok(status) if status == 429 || status >= 500 => {
                last = Some(DeliveryError::Status(status));
            }
            Ok(status) => return (attempt, Err(DeliveryError::Status(status))),
            Err(e) => last = Some(e),
        }
        if attempt < ATTEMPTS {
            std::thread::sleep(Duration::from_millis(250 << attempt));
        }
    }
    let last = last.unwrap_or(DeliveryError::Status(0));
    (
        ATTEMPTS,
        Err(DeliveryError::Exhausted {
            attempts: ATTEMPTS,
            last: Box::new(last),
        }),
    )
}

/// One POST; the response's status code.
fn post(url: &str, headers: &[(String, String)], body: &str) -> Result<u16, DeliveryError> {
    let client = crate::net::http().map_err(|e| DeliveryError::Send(e.to_string()))?;
    let mut req = client
        .post(url)
        .timeout(ATTEMPT_TIMEOUT)
        .header("Content-Type", "application/json")
        .body(body.to_string());
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    crate::net::block_on(async {
        req.send()
            .await
            .map(|resp| resp.status().as_u16())
            .map_err(|e| DeliveryError::Send(crate::net::error_chain(e)))
    })
    .map_err(|e| DeliveryError::Send(e.to_string()))?
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
