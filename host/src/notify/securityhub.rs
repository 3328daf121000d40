//! Sending ASFF findings to AWS Security Hub with `BatchImportFindings`,
//! within its documented limits: at most 100 findings and 6 MB per request,
//! 240 KB per finding, and 10 requests per second per account and region
//! with bursts of 30 (AWS Security Hub User Guide, "BatchImportFindings for
//! finding providers"). Requests are paced by a token bucket; a throttled
//! or unreachable call is retried with exponential backoff, and so are the
//! findings of a partially failed batch whose error is transient. Every
//! finding that could not be imported is reported with Security Hub's code
//! and message. Sends what it is given; it never reads the store and never
//! renders for the terminal. The client (credentials, region, endpoint) is
//! `stance-aws`'s, the same configuration as collection.

use std::time::{Duration, Instant};

use serde_json::Value;
use stance_aws::securityhub_export::{FailedFinding, HubError, SecurityHub};

/// At most this many findings per request.
pub const MAX_FINDINGS: usize = 100;
/// At most this many bytes per request body ("6 MB": counted as 6,000,000
/// bytes of the serialized findings, below both readings of a megabyte).
pub const MAX_REQUEST_BYTES: usize = 6_000_000;
/// At most this many bytes per finding (240 KB).
pub const MAX_FINDING_BYTES: usize = 240 * 1024;
/// Requests per second per account and region.
pub const RATE: f64 = 10.0;
/// The burst Security Hub allows above the rate.
pub const BURST: f64 = 30.0;
/// The bytes of `{"Findings":[` and `]}` around the findings.
const ENVELOPE: usize = 16;

/// Error codes of failed findings that are worth another try.
const TRANSIENT: &[&str] = &[
    "LimitExceededException",
    "LimitExceeded",
    "TooManyRequestsException",
    "ThrottlingException",
    "Throttling",
    "InternalException",
    "InternalError",
    "ServiceUnavailable",
];

/// The documents of one request, and their ids.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// The findings.
    pub documents: Vec<Value>,
    /// The serialized size of the request body.
    pub bytes: usize,
}

fn id_of(doc: &Value) -> String {
    doc["Id"].as_str().unwrap_or_default().to_string()
}

/// Split documents into requests of at most [`MAX_FINDINGS`] findings and
/// `max_bytes` bytes (measured as serialized), in order. A finding larger
/// than [`MAX_FINDING_BYTES`] is not sent: it comes back as failed.
pub fn batches(documents: Vec<Value>, max_bytes: usize) -> (Vec<Batch>, Vec<FailedFinding>) {
    let mut out: Vec<Batch> = Vec::new();
    let mut refused = Vec::new();
    let mut current = Batch::default();
    for doc in documents {
        let size = serde_json::to_vec(&doc).map_or(usize::MAX, |b| b.len());
        if size > MAX_FINDING_BYTES {
            refused.push(FailedFinding {
                id: id_of(&doc),
                code: "FindingTooLarge".into(),
                message: format!("{size} bytes, above Security Hub's 240 KB per finding"),
            });
            continue;
        }
        let added = size + usize::from(!current.documents.is_empty());
        let full =
            current.documents.len() == MAX_FINDINGS || ENVELOPE + current.bytes + added > max_bytes;
        if full && !current.documents.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        current.bytes += size + usize::from(!current.documents.is_empty());
        current.documents.push(doc);
    }
    if !current.documents.is_empty() {
        out.push(current);
    }
    (out, refused)
}

/// A token bucket: `rate` requests per second on average, at most `burst`
/// at once.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn new(rate: f64, burst: f64, now: Instant) -> Self {
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Take one token at `now`: how long to wait before the request may go.
    pub fn take(&mut self, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now.max(self.last);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

/// How throttled calls are retried.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Tries of one request, the first included.
    pub attempts: u32,
    /// The first backoff; doubled after each try, plus up to half of it at random.
    pub backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 6,
            backoff: Duration::from_millis(500),
        }
    }
}

impl Retry {
    fn delay(&self, attempt: u32) -> Duration {
        let base = self.backoff * 2u32.saturating_pow(attempt.saturating_sub(1)).min(64);
        let jitter = base.as_millis() as u64 / 2;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() as u64);
        base + Duration::from_millis(if jitter == 0 { 0 } else { nanos % jitter })
    }
}

/// What happened to the findings sent.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Ids Security Hub accepted.
    pub accepted: Vec<String>,
    /// Findings it did not accept (or that were never sent), with why.
    pub failed: Vec<FailedFinding>,
    /// Requests made, retries included.
    pub requests: usize,
    /// The error that stopped the export early (access denied, a request
    /// Security Hub refused whole); the findings not sent are in `failed`.
    pub stopped: Option<HubError>,
}

/// Send `documents` to `hub`: batched, paced, retried. `sent` is called
/// with the number of findings done after each request.
pub async fn send(
    hub: &SecurityHub,
    documents: Vec<Value>,
    retry: Retry,
    mut sent: impl FnMut(usize),
) -> Outcome {
    let (batches, refused) = batches(documents, MAX_REQUEST_BYTES);
    let mut outcome = Outcome {
        failed: refused,
        ..Outcome::default()
    };
    let mut bucket = TokenBucket::new(RATE, BURST, Instant::now());
    let mut rest = batches.into_iter();
    for batch in rest.by_ref() {
        let n = batch.documents.len();
        if let Err(e) = send_batch(hub, batch.documents, retry, &mut bucket, &mut outcome).await {
            outcome.stopped = Some(e);
            break;
        }
        sent(n);
    }
    if let Some(stop) = &outcome.stopped {
        let message = stop.to_string();
        for batch in rest {
            for doc in batch.documents {
                outcome.failed.push(FailedFinding {
                    id: id_of(&doc),
                    code: "NotSent".into(),
                    message: format!("not sent: {message}"),
                });
            }
        }
    }
    outcome
}

/// One batch until every finding is accepted, failed for good, or out of
/// tries. A call error that is not transient stops the export: its
/// findings are recorded as failed and the error returned.
async fn send_batch(
    hub: &SecurityHub,
    mut pending: Vec<Value>,
    retry: Retry,
    bucket: &mut TokenBucket,
    outcome: &mut Outcome,
) -> Result<(), HubError> {
    let mut attempt = 0;
    while !pending.is_empty() {
        attempt += 1;
        tokio::time::sleep(bucket.take(Instant::now())).await;
        outcome.requests += 1;
        let last = attempt >= retry.attempts;
        match hub.import(&pending).await {
            Ok(failed) => {
                let (again, done) = split_failed(&pending, failed, last);
                outcome.failed.extend(done.1);
                outcome.accepted.extend(done.0);
                pending = again;
            }
            Err(HubError::Retryable(message)) if !last => {
                tracing::warn!("Security Hub: {message}; retrying");
            }
            Err(e) => {
                let (code, message) = match &e {
                    HubError::Retryable(m) => ("Throttled", m.clone()),
                    other => ("CallFailed", other.to_string()),
                };
                outcome.failed.extend(pending.iter().map(|d| FailedFinding {
                    id: id_of(d),
                    code: code.into(),
                    message: message.clone(),
                }));
                return match e {
                    HubError::Retryable(_) => Ok(()),
                    e => Err(e),
                };
            }
        }
        if !pending.is_empty() {
            tokio::time::sleep(retry.delay(attempt)).await;
        }
    }
    Ok(())
}

/// Of a batch's documents and the failures Security Hub reported: those to
/// try again (transient, unless this was the `last` try), and those done —
/// (accepted ids, failed for good).
fn split_failed(
    docs: &[Value],
    failed: Vec<FailedFinding>,
    last: bool,
) -> (Vec<Value>, (Vec<String>, Vec<FailedFinding>)) {
    let mut again = Vec::new();
    let mut accepted = Vec::new();
    let mut lost = Vec::new();
    for doc in docs {
        let id = id_of(doc);
        match failed.iter().find(|f| f.id == id) {
            None => accepted.push(id),
            Some(f) if !last && TRANSIENT.contains(&f.code.as_str()) => again.push(doc.clone()),
            Some(f) => lost.push(f.clone()),
        }
    }
    // Failures naming no finding of the batch still count.
    lost.extend(
        failed
            .into_iter()
            .filter(|f| !docs.iter().any(|d| id_of(d) == f.id)),
    );
    (again, (accepted, lost))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn doc(i: usize, pad: usize) -> Value {
        json!({"Id": format!("stance/{i}"), "Description": "x".repeat(pad)})
    }

    #[test]
    fn two_hundred_fifty_findings_go_in_three_requests_of_at_most_100() {
        let docs: Vec<Value> = (0..250).map(|i| doc(i, 10)).collect();
        let (b, refused) = batches(docs, MAX_REQUEST_BYTES);
        assert!(refused.is_empty());
        assert_eq!(
            b.iter().map(|b| b.documents.len()).collect::<Vec<_>>(),
            [100, 100, 50]
        );
        assert_eq!(b[2].documents[49]["Id"], "stance/249");
    }

    #[test]
    fn a_request_over_the_byte_limit_is_split_and_sizes_are_measured() {
        // 60 findings of ~200 KB: 12 MB in all, so at least three requests,
        // each under 6,000,000 bytes as serialized.
        let docs: Vec<Value> = (0..60).map(|i| doc(i, 200_000)).collect();
        let (b, refused) = batches(docs, MAX_REQUEST_BYTES);
        assert!(refused.is_empty());
        assert!(b.len() >= 3, "{}", b.len());
        assert_eq!(b.iter().map(|b| b.documents.len()).sum::<usize>(), 60);
        for batch in &b {
            let body = serde_json::to_vec(&json!({"Findings": batch.documents})).unwrap();
            assert!(body.len() <= MAX_REQUEST_BYTES, "{}", body.len());
            assert!(
                body.len() + 16 >= batch.bytes,
                "{} {}",
                body.len(),
                batch.bytes
            );
        }
        let (b, _) = batches((0..5).map(|i| doc(i, 100)).collect(), 300);
        assert_eq!(b.len(), 3, "a tiny limit splits small findings too");
    }

    #[test]
    fn a_finding_over_240_kb_is_refused_not_sent() {
        let (b, refused) = batches(vec![doc(1, 10), doc(2, 250_000)], MAX_REQUEST_BYTES);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].documents.len(), 1);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].id, "stance/2");
        assert_eq!(refused[0].code, "FindingTooLarge");
    }

    #[test]
    fn the_token_bucket_allows_a_burst_of_30_then_10_per_second() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(RATE, BURST, t0);
        for _ in 0..30 {
            assert_eq!(bucket.take(t0), Duration::ZERO);
        }
        let wait = bucket.take(t0);
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-6, "{wait:?}");
        let wait = bucket.take(t0);
        assert!((wait.as_secs_f64() - 0.2).abs() < 1e-6, "{wait:?}");
        // Two seconds later: 20 tokens refilled, 2 of them owed.
        let t2 = t0 + Duration::from_secs(2);
        for _ in 0..18 {
            assert_eq!(bucket.take(t2), Duration::ZERO);
        }
        assert!(bucket.take(t2) > Duration::ZERO);
        // Never more than the burst, however long it was idle.
        let later = t2 + Duration::from_secs(3600);
        let mut n = 0;
        while bucket.take(later) == Duration::ZERO {
            n += 1;
        }
        assert_eq!(n, 30);
    }

    #[test]
    fn transient_failures_of_a_batch_are_retried_and_the_others_reported() {
        let docs: Vec<Value> = (0..4).map(|i| doc(i, 1)).collect();
        let failed = vec![
            FailedFinding {
                id: "stance/1".into(),
                code: "LimitExceededException".into(),
                message: "slow down".into(),
            },
            FailedFinding {
                id: "stance/2".into(),
                code: "InvalidInput".into(),
                message: "bad".into(),
            },
        ];
        let (again, (accepted, lost)) = split_failed(&docs, failed.clone(), false);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0]["Id"], "stance/1");
        assert_eq!(accepted, ["stance/0", "stance/3"]);
        assert_eq!(lost.len(), 1);
        assert_eq!(lost[0].code, "InvalidInput");
        let (again, (_, lost)) = split_failed(&docs, failed, true);
        assert!(again.is_empty(), "the last try retries nothing");
        assert_eq!(lost.len(), 2);
        let retry = Retry::default();
        assert!(retry.delay(1) >= Duration::from_millis(500));
        assert!(retry.delay(3) >= Duration::from_secs(2));
    }
}
