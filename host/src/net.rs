//! The plumbing every stage that talks to the network shares: the process's
//! one async runtime (tokio, built on first use and kept for the life of
//! the process), its one HTTP client (reqwest over rustls with ring, the
//! crypto provider the AWS SDK uses too) with a connect timeout, and the one
//! bounded exchange every request of ours goes through ([`send`] and
//! [`Exchange`]): a deadline for the whole exchange, a limit on silence, a
//! minimum rate, and a cap on the bytes read, all enforced while the
//! response streams in, so no server can hold a command or its memory.
//!
//! It knows no protocol of ours: `notify` posts alerts through it, `pack`
//! fetches archives and registry documents through it, and live collection
//! and s3:// inputs run the AWS SDK on its runtime (the SDK brings its own
//! HTTP connector). It never decides what may be sent where (callers check
//! their URLs first) nor how much is enough (callers give the [`Bounds`]).

use std::future::Future;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long connecting to a server may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a response may go without a byte arriving, for clients that
/// do not go through [`send`] (oci-client's own, for `pack push`); [`send`]
/// enforces the `idle` of its [`Bounds`] itself.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Stack of the runtime's worker threads: the AWS collectors' futures are
/// large (the SDK crates are built at opt-level 0, where every match arm
/// keeps its own stack slots) and overflowed tokio's default 2 MiB.
const WORKER_STACK: usize = 16 << 20;

/// The user agent of every request.
pub const USER_AGENT: &str = concat!("stance/", env!("CARGO_PKG_VERSION"));

/// The runtime or the client could not be built.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NetError {
    /// tokio could not start its threads.
    #[error("cannot start the async runtime: {0}")]
    Runtime(String),
    /// reqwest could not build its client (TLS set-up).
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, NetError>> = OnceLock::new();
static CLIENT: OnceLock<Result<reqwest::Client, NetError>> = OnceLock::new();

/// The process's async runtime.
pub fn runtime() -> Result<&'static tokio::runtime::Runtime, NetError> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("stance-net")
                .thread_stack_size(WORKER_STACK)
                .build()
                .map_err(|e| NetError::Runtime(e.to_string()))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Run a future to completion on the process's runtime, from synchronous
/// code (never from inside a future).
pub fn block_on<F: Future>(future: F) -> Result<F::Output, NetError> {
    Ok(runtime()?.block_on(future))
}

/// The process's HTTP client: http and https, rustls with ring, the
/// connect timeout above. Requests go through [`send`], which bounds the
/// rest; callers decide which URLs they allow.
pub fn http() -> Result<&'static reqwest::Client, NetError> {
    CLIENT
        .get_or_init(|| {
            install_crypto_provider();
            reqwest::Client::builder()
                .user_agent(USER_AGENT)
                .connect_timeout(CONNECT_TIMEOUT)
                .build()
                .map_err(|e| NetError::Client(error_chain(e)))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// rustls is built without a default crypto provider: install ring, as the
/// AWS SDK uses. Called before any TLS client is built; installing twice is
/// harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An error with every cause it carries (reqwest's own message leaves out
/// whether the connection was refused, TLS failed or DNS did), without the
/// URL (callers name it, redacted where it holds a secret).
pub fn error_chain(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut msg = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        let text = c.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        cause = c.source();
    }
    msg
}

/// The bounds of one HTTP exchange, enforced by [`send`] and [`Exchange`]
/// while the response streams in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// The whole exchange: connecting, sending, the headers and the body.
    pub total: Duration,
    /// The longest the peer may send nothing, once connected.
    pub idle: Duration,
    /// The most bytes of a body [`Exchange::body`] reads; more is an error
    /// (before reading, when the peer declares more).
    pub max_bytes: u64,
    /// The slowest transfer accepted, in bytes per second over each window
    /// of `idle` (0: any): a body dripping a byte at a time is cut off.
    pub min_rate: u64,
    /// Who answers, in messages: `server`, `registry`, `endpoint`.
    pub peer: &'static str,
    /// What `max_bytes` is called in messages, e.g. `download limit`.
    pub limit_name: &'static str,
}

/// Why a bounded exchange failed. Every message says which bound stopped
/// it and what the peer did.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpError {
    /// The runtime or the client could not be built.
    #[error(transparent)]
    Net(#[from] NetError),
    /// Connecting, TLS, DNS or the protocol failed (reqwest's causes).
    #[error("{0}")]
    Send(String),
    /// A time bound ended the exchange.
    #[error("stopped after {}: {why}", human_duration(*.after))]
    Stopped {
        /// How long the exchange had run.
        after: Duration,
        /// Which bound, and what the peer did.
        why: String,
    },
    /// The body grew past the limit.
    #[error("stopped after {}: the response is larger than the {} {limit_name}", human_bytes(*.limit), human_bytes(*.limit))]
    TooLarge {
        /// The limit.
        limit: u64,
        /// Its name.
        limit_name: &'static str,
    },
    /// The peer declared (Content-Length) more than the limit.
    #[error("the {peer} declares {declared} bytes, over the {} {limit_name}", human_bytes(*.limit))]
    DeclaredTooLarge {
        /// Who declared it.
        peer: &'static str,
        /// What it declared.
        declared: u64,
        /// The limit.
        limit: u64,
        /// Its name.
        limit_name: &'static str,
    },
    /// The body is not the length someone declared for it.
    #[error("the {peer} sent {} the {expected} bytes {declared_by} declares", if *.longer { "more than".to_string() } else { format!("{got} of") })]
    WrongLength {
        /// Who sent it.
        peer: &'static str,
        /// The length declared.
        expected: u64,
        /// Bytes received (when shorter).
        got: u64,
        /// Whether it was longer (reading stopped there).
        longer: bool,
        /// Who declared the length, e.g. `the manifest`.
        declared_by: &'static str,
    },
}

/// A response whose headers arrived within its bounds; its body is read
/// with [`Exchange::body`] or [`Exchange::body_prefix`], still bounded.
pub struct Exchange {
    /// The response, body not yet read.
    response: reqwest::Response,
    /// The bounds it was sent with.
    bounds: Bounds,
    /// When the request started.
    started: Instant,
}

/// Sends `request` and waits for the response's headers, within `bounds`:
/// the headers must arrive before the total deadline and within the connect
/// timeout plus `idle`.
pub async fn send(request: reqwest::RequestBuilder, bounds: Bounds) -> Result<Exchange, HttpError> {
    let started = Instant::now();
    let wait = bounds.total.min(CONNECT_TIMEOUT + bounds.idle);
    match tokio::time::timeout(wait, request.send()).await {
        Ok(Ok(response)) => Ok(Exchange {
            response,
            bounds,
            started,
        }),
        Ok(Err(e)) => Err(HttpError::Send(error_chain(e))),
        Err(_) => Err(stopped(started, &bounds, wait == bounds.total)),
    }
}

/// The refusal of an exchange a time bound ended.
fn stopped(started: Instant, bounds: &Bounds, total: bool) -> HttpError {
    let why = if total {
        format!(
            "the {} kept the response open (one exchange may take at most {})",
            bounds.peer,
            human_duration(bounds.total)
        )
    } else {
        format!(
            "nothing arrived for {} (the {} stalled)",
            human_duration(bounds.idle),
            bounds.peer
        )
    };
    HttpError::Stopped {
        after: started.elapsed(),
        why,
    }
}

/// Bytes received in the current rate window.
struct Window {
    /// When it started.
    start: Instant,
    /// Bytes since.
    bytes: u64,
}

impl Exchange {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.response.status().as_u16()
    }

    /// The response headers.
    pub fn headers(&self) -> &reqwest::header::HeaderMap {
        self.response.headers()
    }

    /// The URL that answered (after redirects).
    pub fn url(&self) -> &reqwest::Url {
        self.response.url()
    }

    /// The next chunk of the body, within the deadline, the idle limit and
    /// the minimum rate; `None` at its end.
    async fn chunk(&mut self, window: &mut Window) -> Result<Option<Vec<u8>>, HttpError> {
        let b = self.bounds;
        let left = b.total.saturating_sub(self.started.elapsed());
        let wait = left.min(b.idle);
        let chunk = match tokio::time::timeout(wait, self.response.chunk()).await {
            Err(_) => return Err(stopped(self.started, &b, wait == left)),
            Ok(Err(e)) => return Err(HttpError::Send(error_chain(e))),
            Ok(Ok(None)) => return Ok(None),
            Ok(Ok(Some(chunk))) => chunk.to_vec(),
        };
        window.bytes += chunk.len() as u64;
        let span = window.start.elapsed();
        if b.min_rate > 0 && span >= b.idle {
            if window.bytes < b.min_rate.saturating_mul(span.as_secs()) {
                return Err(HttpError::Stopped {
                    after: self.started.elapsed(),
                    why: format!(
                        "only {} bytes arrived in the last {}, under the minimum of {}/s (the {} is too slow)",
                        window.bytes,
                        human_duration(span),
                        human_bytes(b.min_rate),
                        b.peer
                    ),
                });
            }
            *window = Window {
                start: Instant::now(),
                bytes: 0,
            };
        }
        Ok(Some(chunk))
    }

    /// The whole body, within the bounds; with `expect` (a length and who
    /// declared it), exactly that many bytes: reading stops at the first
    /// byte past it.
    pub async fn body(mut self, expect: Option<(u64, &'static str)>) -> Result<Vec<u8>, HttpError> {
        let b = self.bounds;
        let cap = expect.map_or(b.max_bytes, |(len, _)| len.min(b.max_bytes));
        if let Some(declared) = self.response.content_length()
            && declared > b.max_bytes
        {
            return Err(HttpError::DeclaredTooLarge {
                peer: b.peer,
                declared,
                limit: b.max_bytes,
                limit_name: b.limit_name,
            });
        }
        let mut body =
            Vec::with_capacity(usize::try_from(expect.map_or(0, |e| e.0.min(cap))).unwrap_or(0));
        let mut window = Window {
            start: Instant::now(),
            bytes: 0,
        };
        while let Some(chunk) = self.chunk(&mut window).await? {
            if (body.len() + chunk.len()) as u64 > cap {
                return Err(match expect {
                    Some((expected, declared_by)) if expected <= b.max_bytes => {
                        HttpError::WrongLength {
                            peer: b.peer,
                            expected,
                            got: 0,
                            longer: true,
                            declared_by,
                        }
                    }
                    _ => HttpError::TooLarge {
                        limit: b.max_bytes,
                        limit_name: b.limit_name,
                    },
                });
            }
            body.extend_from_slice(&chunk);
        }
        match expect {
            Some((expected, declared_by)) if (body.len() as u64) < expected => {
                Err(HttpError::WrongLength {
                    peer: b.peer,
                    expected,
                    got: body.len() as u64,
                    longer: false,
                    declared_by,
                })
            }
            _ => Ok(body),
        }
    }

    /// At most `max` bytes of the body, for a message: whatever arrived
    /// before the end, the limit, or a bound stopped it.
    pub async fn body_prefix(mut self, max: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut window = Window {
            start: Instant::now(),
            bytes: 0,
        };
        while out.len() < max {
            match self.chunk(&mut window).await {
                Ok(Some(chunk)) => {
                    let room = max - out.len();
                    out.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                Ok(None) | Err(_) => break,
            }
        }
        out
    }
}

/// `256 MiB`, `64 KiB`, `1000 bytes`: a size as messages give it.
pub fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 && n.is_multiple_of(1 << 30) => format!("{} GiB", n >> 30),
        n if n >= 1 << 20 && n.is_multiple_of(1 << 20) => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n.is_multiple_of(1 << 10) => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

/// `30 s`, `15 min`: a duration as messages give it (to the nearest second).
pub fn human_duration(d: Duration) -> String {
    let secs = (d.as_millis() as u64 + 500) / 1000;
    if secs >= 60 && secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::io::{Read, Write};

    /// A loopback server that reads a request's head, then answers with
    /// `head` and calls `then` on the connection; returns its URL.
    fn serve(head: &'static str, then: fn(&mut std::net::TcpStream)) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { break };
                std::thread::spawn(move || {
                    let mut seen = Vec::new();
                    let mut byte = [0u8; 1];
                    while !seen.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap_or(0) == 1 {
                        seen.push(byte[0]);
                    }
                    if conn.write_all(head.as_bytes()).is_ok() {
                        then(&mut conn);
                    }
                });
            }
        });
        url
    }

    fn bounds(total: u64, idle: u64) -> Bounds {
        Bounds {
            total: Duration::from_secs(total),
            idle: Duration::from_secs(idle),
            max_bytes: 64 * 1024,
            min_rate: 0,
            peer: "server",
            limit_name: "test limit",
        }
    }

    fn get(
        url: &str,
        b: Bounds,
        expect: Option<(u64, &'static str)>,
    ) -> Result<Vec<u8>, HttpError> {
        let client = http().unwrap();
        block_on(async { send(client.get(url), b).await?.body(expect).await }).unwrap()
    }

    fn endless(conn: &mut std::net::TcpStream) {
        let chunk = format!("{:x}\r\n{}\r\n", 4096, "z".repeat(4096));
        while conn.write_all(chunk.as_bytes()).is_ok() {}
    }

    #[test]
    fn a_body_is_capped_while_it_streams() {
        let url = serve(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            endless,
        );
        let e = get(&url, bounds(10, 5), None).unwrap_err().to_string();
        assert_eq!(
            e,
            "stopped after 64 KiB: the response is larger than the 64 KiB test limit"
        );
        let url = serve(
            "HTTP/1.1 200 OK\r\nContent-Length: 9999999\r\n\r\n",
            endless,
        );
        let e = get(&url, bounds(10, 5), None).unwrap_err().to_string();
        assert_eq!(
            e,
            "the server declares 9999999 bytes, over the 64 KiB test limit"
        );
    }

    #[test]
    fn a_declared_length_is_held_both_ways() {
        let url = serve(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            endless,
        );
        let e = get(&url, bounds(10, 5), Some((10, "the manifest"))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the server sent more than the 10 bytes the manifest declares"
        );
        // `Connection: close`: the server drops each connection after one answer,
        // so the client must not pool it (a reused dead socket is a reset).
        let url = serve(
            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\n12345",
            |_| {},
        );
        let e = get(&url, bounds(10, 5), Some((10, "the manifest"))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the server sent 5 of the 10 bytes the manifest declares"
        );
        assert_eq!(get(&url, bounds(10, 5), Some((5, "x"))).unwrap(), b"12345");
    }

    #[test]
    fn silence_a_drip_and_the_deadline_each_end_an_exchange() {
        let stall = serve("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc", |_| {
            std::thread::sleep(Duration::from_secs(30));
        });
        let e = get(&stall, bounds(20, 1), None).unwrap_err().to_string();
        assert_eq!(
            e,
            "stopped after 1 s: nothing arrived for 1 s (the server stalled)"
        );
        let drip = serve("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", |c| {
            while c.write_all(b"x").is_ok() {
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        let e = get(&drip, bounds(2, 2), None).unwrap_err().to_string();
        assert!(
            e.starts_with("stopped after 2 s: the server kept the response open"),
            "{e}"
        );
        let slow = Bounds {
            min_rate: 1000,
            ..bounds(20, 1)
        };
        let e = get(&drip, slow, None).unwrap_err().to_string();
        assert!(e.contains("under the minimum of 1000 bytes/s"), "{e}");
        let headers_drip = serve("H", |c| {
            for b in b"TTP/1.1 200 OK\r\n\r\n" {
                std::thread::sleep(Duration::from_millis(400));
                let _ = c.write_all(&[*b]);
            }
        });
        let e = get(&headers_drip, bounds(2, 2), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("stopped after 2 s: the server kept the response open"),
            "{e}"
        );
    }

    #[test]
    fn sizes_and_durations_read_as_people_write_them() {
        assert_eq!(human_bytes(256 << 20), "256 MiB");
        assert_eq!(human_bytes(1024), "1 KiB");
        assert_eq!(human_bytes(1000), "1000 bytes");
        assert_eq!(human_duration(Duration::from_millis(29_990)), "30 s");
        assert_eq!(human_duration(Duration::from_secs(900)), "15 min");
    }

    #[test]
    fn one_runtime_and_one_client_per_process() {
        let a = runtime().map(|r| r as *const _);
        let b = runtime().map(|r| r as *const _);
        assert_eq!(a.ok(), b.ok());
        let c = http().map(|c| c as *const _);
        let d = http().map(|c| c as *const _);
        assert_eq!(c.ok(), d.ok());
        assert_eq!(block_on(async { 41 + 1 }).ok(), Some(42));
    }
}
