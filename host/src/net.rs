//! The plumbing every stage that talks to the network shares: the process's
//! one async runtime (tokio, built on first use and kept for the life of
//! the process) and its one HTTP client (reqwest over rustls with ring, the
//! crypto provider the AWS SDK uses too), with connect and read timeouts.
//!
//! It knows no protocol of ours: `notify` posts alerts through it, `pack`
//! fetches archives through it, and live collection and s3:// inputs run
//! the AWS SDK on its runtime (the SDK brings its own HTTP connector). It
//! never decides what may be sent where: callers check their URLs first.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

/// How long connecting to a server may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a response may go without a byte arriving.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);

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
/// timeouts above. Callers decide which URLs they allow.
pub fn http() -> Result<&'static reqwest::Client, NetError> {
    CLIENT
        .get_or_init(|| {
            install_crypto_provider();
            reqwest::Client::builder()
                .user_agent(USER_AGENT)
                .connect_timeout(CONNECT_TIMEOUT)
                .read_timeout(READ_TIMEOUT)
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

#[cfg(test)]
mod tests {
    use super::*;

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
