//! Notify: everything that leaves the machine. The new alerts of a run at
//! or above a severity go to a generic webhook (one JSON POST per route
//! and run, optionally signed with HMAC-SHA256: [`webhook`]), a Slack
//! incoming webhook (one summary message per run: [`slack`]), PagerDuty
//! Events API v2 (one trigger event per alert: [`pagerduty`]) and/or a
//! file (NDJSON, appended: [`file`]). Posts go through the process's one
//! HTTP client and are retried on connection errors, 429 and 5xx, each
//! delivery within one deadline and a capped read of the answer
//! ([`http`]). Routes come from a TOML file (`--route`) or flags.
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
//! Findings go to AWS Security Hub as ASFF with `BatchImportFindings`
//! ([`securityhub`]: batched, paced by a token bucket, retried), through
//! `stance-aws`'s client.
//!
//! It sends what it is given; it never reads the store, never runs a
//! plugin, and never renders for the terminal (that is `report`).

pub mod file;
pub mod http;
pub mod pagerduty;
#[cfg(feature = "securityhub-export")]
pub mod securityhub;
pub mod slack;
pub mod webhook;

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::model::{Alert, Severity};
use crate::settings::{Env, MissingVariable};

pub use pagerduty::PAGERDUTY_URL;
pub use webhook::SIGNATURE_HEADER;

/// One route: the alerts it takes and where they go.
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
    /// The Events v2 endpoint (default: [`PAGERDUTY_URL`]).
    #[serde(default)]
    pub pagerduty_url: Option<String>,
    /// A file the alerts are appended to as NDJSON.
    #[serde(default)]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteFile {
    #[serde(default)]
    route: Vec<Route>,
}

/// A route that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// The route file cannot be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The route file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The route file is not valid TOML of `[[route]]` tables.
    #[error("{path}: {message}")]
    Parse {
        /// The route file.
        path: PathBuf,
        /// The parser's message, with the line.
        message: String,
    },
    /// One route of a file is invalid.
    #[error("{path}: route #{number}: {source}")]
    InFile {
        /// The route file.
        path: PathBuf,
        /// The route's position, from 1.
        number: usize,
        /// What is wrong with it.
        source: Box<RouteError>,
    },
    /// The route names no destination.
    #[error("a route needs a webhook, slack, pagerduty_routing_key_env or file destination")]
    NoDestination,
    /// A field needs another that is missing.
    #[error("{field} needs {needs}")]
    Needs {
        /// The field given.
        field: &'static str,
        /// What it needs.
        needs: &'static str,
    },
    /// A URL is unusable.
    #[error("{0}")]
    Url(String),
    /// A variable the route names is not set.
    #[error(transparent)]
    Secret(#[from] MissingVariable),
}

/// Why a delivery failed.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// A variable the route names is not set.
    #[error(transparent)]
    Secret(#[from] MissingVariable),
    /// The request could not be sent or answered (refused, TLS, DNS, timeout).
    #[error("{0}")]
    Send(String),
    /// The server answered with an error status (and the start of its body).
    #[error("HTTP {0}{rest}", rest = quoted(.1))]
    Status(u16, String),
    /// Every attempt failed.
    #[error("{last} after {attempts} attempts")]
    Exhausted {
        /// Attempts made.
        attempts: u32,
        /// The last attempt's failure.
        last: Box<DeliveryError>,
    },
    /// One alert of a PagerDuty route failed (the route stops there).
    #[error("alert {fingerprint}: {source}")]
    Alert {
        /// The alert's fingerprint.
        fingerprint: String,
        /// Why.
        source: Box<DeliveryError>,
    },
    /// A file route could not be written.
    #[error("{path}: {source}")]
    File {
        /// The file or its directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// `: BODY` after a status, when the answer had a body.
fn quoted(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!(": {body}")
    }
}

/// Read the `[[route]]` tables of a TOML file and check them.
pub fn load(path: &Path, env: &Env) -> Result<Vec<Route>, RouteError> {
    let text = std::fs::read_to_string(path).map_err(|source| RouteError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let file: RouteFile = toml::from_str(&text).map_err(|e| RouteError::Parse {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_string(),
    })?;
    for (i, r) in file.route.iter().enumerate() {
        check(r, env).map_err(|e| RouteError::InFile {
            path: path.to_path_buf(),
            number: i + 1,
            source: Box::new(e),
        })?;
    }
    Ok(file.route)
}

/// A route needs a destination, URLs must be usable, and the environment
/// variables it names must be set.
pub fn check(r: &Route, env: &Env) -> Result<(), RouteError> {
    if r.webhook.is_none()
        && r.file.is_none()
        && r.slack.is_none()
        && r.pagerduty_routing_key_env.is_none()
    {
        return Err(RouteError::NoDestination);
    }
    if r.hmac_secret_env.is_some() && r.webhook.is_none() {
        return Err(RouteError::Needs {
            field: "hmac_secret_env",
            needs: "a webhook to sign",
        });
    }
    if r.pagerduty_url.is_some() && r.pagerduty_routing_key_env.is_none() {
        return Err(RouteError::Needs {
            field: "pagerduty_url",
            needs: "pagerduty_routing_key_env",
        });
    }
    if let Some(url) = &r.webhook {
        http::check_url(url).map_err(RouteError::Url)?;
    }
    if let Some(url) = &r.slack {
        http::check_url(url)
            .map_err(|e| RouteError::Url(e.replace(url.as_str(), &slack::redact(url))))?;
    }
    if r.pagerduty_routing_key_env.is_some() {
        http::check_url(r.pagerduty_url.as_deref().unwrap_or(PAGERDUTY_URL))
            .map_err(RouteError::Url)?;
    }
    for var in [&r.hmac_secret_env, &r.pagerduty_routing_key_env]
        .into_iter()
        .flatten()
    {
        env.secret(var)?;
    }
    Ok(())
}

/// What happened to one destination of a route.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Delivery {
    /// Where (a path, a URL, `slack https://hooks.slack.com/…`).
    pub destination: String,
    /// Alerts the route took.
    pub alerts: usize,
    /// Requests or writes made.
    pub attempts: u32,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

impl Delivery {
    fn new(destination: String, alerts: usize) -> Delivery {
        Delivery {
            destination,
            alerts,
            attempts: 0,
            error: None,
        }
    }

    fn outcome(mut self, attempts: u32, result: Result<(), DeliveryError>) -> Delivery {
        self.attempts = attempts;
        self.error = result.err().map(|e| e.to_string());
        self
    }
}

/// Send the alerts to each route (nothing is sent for a route with no
/// alerts at its severity). With `dry_run`, report what would be sent.
/// Secrets are read from `env` by the names the routes give.
///
/// Destinations are delivered at once, each on a thread of its own, so a
/// run with several unreachable endpoints waits one delivery deadline
/// ([`http::DELIVERY_DEADLINE`]), not one per endpoint. The deliveries
/// come back in route order.
pub fn deliver(
    routes: &[Route],
    run_id: i64,
    alerts: &[Alert],
    dry_run: bool,
    env: &Env,
) -> Vec<Delivery> {
    let jobs = plan(routes, alerts);
    std::thread::scope(|scope| {
        let running: Vec<_> = jobs
            .into_iter()
            .map(|job| {
                let d = Delivery::new(job.destination(), job.picked.len());
                let send = !dry_run && !job.picked.is_empty();
                let handle = send.then(|| scope.spawn(move || job.run(run_id, env)));
                (d, handle)
            })
            .collect();
        running
            .into_iter()
            .map(|(d, handle)| match handle.map(|h| h.join()) {
                None => d,
                Some(Ok(outcome)) => Delivery {
                    attempts: outcome.0,
                    error: outcome.1,
                    ..d
                },
                Some(Err(_)) => Delivery {
                    error: Some(
                        "the delivery failed unexpectedly (a bug: please report it)".into(),
                    ),
                    ..d
                },
            })
            .collect()
    })
}

/// Where one destination of a route sends.
enum Target<'a> {
    File(&'a Path),
    Webhook(&'a str),
    Slack(&'a str),
    PagerDuty { url: &'a str, key_var: &'a str },
}

/// One destination of one route, with the alerts it takes.
struct Job<'a> {
    route: &'a Route,
    target: Target<'a>,
    picked: Vec<&'a Alert>,
}

/// Every destination of every route, in route order, with its alerts.
fn plan<'a>(routes: &'a [Route], alerts: &'a [Alert]) -> Vec<Job<'a>> {
    let mut jobs = Vec::new();
    for route in routes {
        let picked: Vec<&Alert> = alerts
            .iter()
            .filter(|a| route.min_severity.is_none_or(|m| a.severity >= m))
            .collect();
        let mut add = |target| {
            jobs.push(Job {
                route,
                target,
                picked: picked.clone(),
            })
        };
        if let Some(path) = &route.file {
            add(Target::File(path));
        }
        if let Some(url) = &route.webhook {
            add(Target::Webhook(url));
        }
        if let Some(url) = &route.slack {
            add(Target::Slack(url));
        }
        if let Some(key_var) = &route.pagerduty_routing_key_env {
            let url = route.pagerduty_url.as_deref().unwrap_or(PAGERDUTY_URL);
            add(Target::PagerDuty { url, key_var });
        }
    }
    jobs
}

impl Job<'_> {
    /// The destination as reports show it; a Slack webhook URL is a
    /// credential, so its path is not shown.
    fn destination(&self) -> String {
        match self.target {
            Target::File(path) => path.display().to_string(),
            Target::Webhook(url) => url.to_string(),
            Target::Slack(url) => format!("slack {}", slack::redact(url)),
            Target::PagerDuty { url, .. } => format!("pagerduty {url}"),
        }
    }

    /// Deliver: the requests or writes made, and the error if it failed.
    fn run(self, run_id: i64, env: &Env) -> (u32, Option<String>) {
        let d = Delivery::new(String::new(), self.picked.len());
        let d = match self.target {
            Target::File(path) => d.outcome(1, file::append(path, run_id, &self.picked)),
            Target::Webhook(url) => to_webhook(d, self.route, url, run_id, &self.picked, env),
            Target::Slack(url) => to_slack(d, url, run_id, &self.picked),
            Target::PagerDuty { url, key_var } => {
                to_pagerduty(d, url, key_var, run_id, &self.picked, env)
            }
        };
        (d.attempts, d.error)
    }
}

fn to_webhook(
    d: Delivery,
    r: &Route,
    url: &str,
    run_id: i64,
    picked: &[&Alert],
    env: &Env,
) -> Delivery {
    let body = webhook::body(run_id, picked);
    let mut headers = Vec::new();
    if let Some(var) = &r.hmac_secret_env {
        match env.secret(var) {
            Ok(secret) => headers.push(webhook::signature(&secret, &body)),
            Err(e) => return d.outcome(0, Err(e.into())),
        }
    }
    let (attempts, result) = http::post_with_retries(url, &headers, &body);
    d.outcome(attempts, result)
}

fn to_slack(d: Delivery, url: &str, run_id: i64, picked: &[&Alert]) -> Delivery {
    let body = slack::message(run_id, picked).to_string();
    let (attempts, result) = http::post_with_retries(url, &[], &body);
    let shown = slack::redact(url);
    let mut d = d.outcome(attempts, result);
    d.error = d.error.map(|e| e.replace(url, &shown));
    d
}

/// One event per alert; the first failure stops the route.
fn to_pagerduty(
    d: Delivery,
    url: &str,
    var: &str,
    run_id: i64,
    picked: &[&Alert],
    env: &Env,
) -> Delivery {
    let key = match env.secret(var) {
        Ok(key) => key,
        Err(e) => return d.outcome(0, Err(e.into())),
    };
    let mut attempts = 0;
    for a in picked {
        let body = pagerduty::event(&key, run_id, a).to_string();
        let (n, result) = http::post_with_retries(url, &[], &body);
        attempts += n;
        if let Err(e) = result {
            let failed = DeliveryError::Alert {
                fingerprint: a.fingerprint.clone(),
                source: Box::new(e),
            };
            return d.outcome(attempts, Err(failed));
        }
    }
    d.outcome(attempts, Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_checked() {
        let env = Env::from_pairs([("HOOK_SECRET", "x")]);
        assert!(matches!(
            check(&Route::default(), &env),
            Err(RouteError::NoDestination)
        ));
        assert_eq!(
            slack::redact("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com/…"
        );
        let slack = Route {
            slack: Some("ftp://hooks.example/services/T0/B0/secret".into()),
            ..Route::default()
        };
        let e = check(&slack, &env).unwrap_err().to_string();
        assert!(
            !e.contains("secret"),
            "a Slack URL is never shown whole: {e}"
        );
        let signed = Route {
            webhook: Some("http://127.0.0.1:9/hook".into()),
            hmac_secret_env: Some("HOOK_SECRET".into()),
            ..Route::default()
        };
        assert!(check(&signed, &env).is_ok());
        let unsigned_secret = Route {
            hmac_secret_env: Some("NOT_SET".into()),
            ..signed
        };
        assert_eq!(
            check(&unsigned_secret, &env).unwrap_err().to_string(),
            "the environment variable NOT_SET is not set (or empty)"
        );
    }
}
