//! Fetching a pack archive: from a file, an http(s) URL (through the
//! process's one HTTP client and its bounded exchange) or an OCI registry.
//! Plain http only to loopback hosts unless `--insecure`. Every download is
//! bounded while it streams ([`DOWNLOAD`]): its size, its total time, its
//! silences and its rate; a file is read only up to the same size.

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::net::{self, Bounds};

/// The largest archive Stance reads or downloads: far above any real pack
/// (policies, rules and a few wasm components), and small enough that an
/// archive and its unpacked files fit in memory together.
pub const MAX_ARCHIVE_BYTES: u64 = 256 << 20;

/// The bounds of every pack download (https, and OCI registry blobs):
/// 256 MiB at most; 15 min in all; 30 s without a byte, or under 1 KiB/s
/// over any 30 s, ends it.
pub const DOWNLOAD: Bounds = Bounds {
    total: Duration::from_secs(15 * 60),
    idle: Duration::from_secs(30),
    max_bytes: MAX_ARCHIVE_BYTES,
    min_rate: 1024,
    peer: "server",
    limit_name: "download limit",
};

/// Where an archive comes from: a file, an http(s) URL or an OCI reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackSource {
    /// A local archive file.
    File(PathBuf),
    /// An `https://` (or `http://`) URL, as given.
    Url(String),
    /// An `oci://REGISTRY/REPO:TAG` or `oci://REGISTRY/REPO@sha256:…` reference, as given.
    Oci(String),
}

impl PackSource {
    /// By prefix: `oci://` is a registry, `https://` and `http://` a URL,
    /// anything else a file path. Never fails; the fetch checks the rest.
    pub fn parse(s: &str) -> PackSource {
        if s.starts_with("oci://") {
            PackSource::Oci(s.to_string())
        } else if s.starts_with("https://") || s.starts_with("http://") {
            PackSource::Url(s.to_string())
        } else {
            PackSource::File(PathBuf::from(s))
        }
    }
}

/// Network options of fetches.
#[derive(Debug, Clone, Default)]
pub struct NetOptions {
    /// Allow plain http to any host (otherwise only to loopback hosts).
    pub insecure: bool,
    /// Docker's configuration directory, for registry credentials
    /// (`Settings::docker_config`).
    pub docker_config: Option<PathBuf>,
}

/// The bytes of an archive and the label that names it in messages.
pub fn fetch(source: &PackSource, net: &NetOptions) -> anyhow::Result<(Vec<u8>, String)> {
    match source {
        PackSource::File(path) => Ok((read_file(path)?, path.display().to_string())),
        PackSource::Url(url) => Ok((fetch_url(url, net)?, url.clone())),
        #[cfg(feature = "oci")]
        PackSource::Oci(reference) => {
            let pulled = super::oci::pull(reference, net.clone())?;
            Ok((pulled.archive, pulled.pinned))
        }
        #[cfg(not(feature = "oci"))]
        PackSource::Oci(s) => {
            let _ = net;
            bail!("{s}: this Stance was built without OCI registries (the `oci` feature)")
        }
    }
}

/// An archive file, read up to [`MAX_ARCHIVE_BYTES`] (a FIFO or a device
/// that never ends is cut there).
pub fn read_file(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_ARCHIVE_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", path.display()))?;
    if bytes.len() as u64 > MAX_ARCHIVE_BYTES {
        bail!(
            "{}: the archive is larger than the {} limit of a pack archive",
            path.display(),
            net::human_bytes(MAX_ARCHIVE_BYTES)
        );
    }
    Ok(bytes)
}

/// Whether `host` (a URL host or an OCI registry, with or without a port)
/// is a loopback address, where plain http is allowed.
pub fn is_loopback(host: &str) -> bool {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return ip.is_loopback();
    }
    let bare = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        match host.rsplit_once(':') {
            Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
            _ => host,
        }
    };
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Download an archive over http(s): https anywhere, plain http only to
/// loopback hosts unless `--insecure`, never an https download redirected
/// to http; within [`DOWNLOAD`].
pub fn fetch_url(url: &str, net: &NetOptions) -> anyhow::Result<Vec<u8>> {
    let parsed = reqwest::Url::parse(url).with_context(|| format!("{url}: not a URL"))?;
    let host = parsed.host_str().unwrap_or("").to_string();
    let plain_ok = net.insecure || is_loopback(&host);
    let https = parsed.scheme() == "https";
    match parsed.scheme() {
        "https" => {}
        "http" if plain_ok => {}
        "http" => bail!(
            "{url}: plain http is allowed only for loopback hosts; use https, or pass --insecure"
        ),
        other => bail!("{url}: unsupported scheme {other}"),
    }
    let client = net::http()?;
    let body = net::block_on(async {
        let exchange = net::send(client.get(parsed), DOWNLOAD).await?;
        if https && exchange.url().scheme() != "https" {
            return Ok(Err(format!(
                "the download was redirected to {}, which is not https",
                exchange.url()
            )));
        }
        if !(200..300).contains(&exchange.status()) {
            return Ok(Err(format!(
                "the server answered HTTP {}",
                exchange.status()
            )));
        }
        exchange.body(None).await.map(Ok)
    })?;
    match body {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(refused)) => bail!("downloading {url}: {refused}"),
        Err(e) => bail!("downloading {url}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in [
            "127.0.0.1:5000",
            "127.0.0.1",
            "localhost:80",
            "[::1]:5000",
            "::1",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "example.com",
            "10.0.0.1:5000",
            "ghcr.io",
            "localhost.evil.com",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn sources_parse() {
        assert_eq!(
            PackSource::parse("oci://r/x:1"),
            PackSource::Oci("oci://r/x:1".into())
        );
        assert_eq!(
            PackSource::parse("https://e/x.tar.gz"),
            PackSource::Url("https://e/x.tar.gz".into())
        );
        assert_eq!(
            PackSource::parse("x.tar.gz"),
            PackSource::File("x.tar.gz".into())
        );
    }
}
