//! Pulling from an OCI registry (the distribution spec's GET of a manifest
//! and of blobs) through the process's one HTTP client and its bounded
//! exchange (`net::send`): every response a registry sends, whether a
//! manifest, a token, a config, the pack layer or an error, is read within
//! bounds, and a blob to exactly the size its manifest declares, so a
//! registry can hold neither a command nor its memory. Authentication is
//! what the registry's `WWW-Authenticate` challenge asks for: HTTP basic
//! with the docker config's credentials, or a bearer token fetched from
//! its realm (with those credentials, if any).
//!
//! It never pushes (`oci::push` goes through oci-client, to registries the
//! user publishes to) and never decides what a pack artifact is (`oci::pull`
//! checks media types and digests).

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use base64::Engine as _;
use oci_client::Reference;
use oci_client::manifest::OciDescriptor;
use oci_client::secrets::RegistryAuth;
use reqwest::header::{ACCEPT, AUTHORIZATION, WWW_AUTHENTICATE};

use super::fetch::DOWNLOAD;
use super::{NetOptions, is_loopback};
use crate::net::{self, Bounds, Exchange};

/// Bounds of a registry document (a manifest, a token, a config blob).
pub const DOCUMENT: Bounds = Bounds {
    total: Duration::from_secs(60),
    idle: Duration::from_secs(30),
    max_bytes: 4 << 20,
    min_rate: 0,
    peer: "registry",
    limit_name: "limit of a registry document",
};

/// Bounds of the pack layer: those of every download.
pub const LAYER: Bounds = Bounds {
    peer: "registry",
    ..DOWNLOAD
};

/// How much of an error response is read for the message.
const ERROR_BODY: usize = 4096;

/// One repository of one registry, and the authorization it asked for.
pub struct Session {
    /// `SCHEME://REGISTRY/v2/REPOSITORY`.
    base: String,
    /// `repository:REPO:pull`, the scope of a token.
    scope: String,
    /// The docker config's credentials for the registry.
    auth: RegistryAuth,
    /// The `Authorization` header sent, once a challenge was answered.
    authorization: Option<String>,
    /// Whether plain http is allowed (loopback registries, `--insecure`).
    allow_http: bool,
}

impl Session {
    /// A session with the repository of `reference`, over https (plain http
    /// for loopback registries, or any with `--insecure`).
    pub fn new(reference: &Reference, auth: RegistryAuth, net: &NetOptions) -> Session {
        let registry = reference.resolve_registry();
        let allow_http = net.insecure || is_loopback(registry);
        let scheme = if allow_http { "http" } else { "https" };
        let authorization = match &auth {
            RegistryAuth::Bearer(token) => Some(format!("Bearer {token}")),
            _ => None,
        };
        Session {
            base: format!("{scheme}://{registry}/v2/{}", reference.repository()),
            scope: format!("repository:{}:pull", reference.repository()),
            auth,
            authorization,
            allow_http,
        }
    }

    /// The raw manifest `tag_or_digest` names, at most [`DOCUMENT`] bytes.
    pub async fn manifest(&mut self, tag_or_digest: &str, accept: &str) -> anyhow::Result<Vec<u8>> {
        let exchange = self
            .get(&format!("manifests/{tag_or_digest}"), accept, DOCUMENT)
            .await?;
        ok_body(exchange, None).await
    }

    /// A blob, exactly the size `descriptor` declares (within `bounds`).
    pub async fn blob(
        &mut self,
        descriptor: &OciDescriptor,
        bounds: Bounds,
    ) -> anyhow::Result<Vec<u8>> {
        let size = u64::try_from(descriptor.size)
            .map_err(|_| anyhow!("the manifest declares a size of {}", descriptor.size))?;
        let exchange = self
            .get(&format!("blobs/{}", descriptor.digest), "*/*", bounds)
            .await?;
        ok_body(exchange, Some((size, "the manifest"))).await
    }

    /// GET `path` of the repository, answering one authentication
    /// challenge when the registry sends one.
    async fn get(&mut self, path: &str, accept: &str, bounds: Bounds) -> anyhow::Result<Exchange> {
        let url = format!("{}/{path}", self.base);
        let client = net::http()?;
        let mut answered = false;
        loop {
            let mut request = client.get(&url).header(ACCEPT, accept);
            if let Some(value) = &self.authorization {
                request = request.header(AUTHORIZATION, value);
            }
            let exchange = net::send(request, bounds).await?;
            if exchange.status() != 401 || answered {
                return Ok(exchange);
            }
            let challenge = exchange
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            match self.answer(&challenge).await? {
                Some(value) => self.authorization = Some(value),
                None => return Ok(exchange),
            }
            answered = true;
        }
    }

    /// The `Authorization` header that answers `challenge`, or `None` when
    /// the credentials at hand cannot.
    async fn answer(&self, challenge: &str) -> anyhow::Result<Option<String>> {
        let (scheme, params) = parse_challenge(challenge);
        let basic = match &self.auth {
            RegistryAuth::Basic(user, password) => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )),
            _ => None,
        };
        match scheme.as_str() {
            "basic" => Ok(basic),
            "bearer" => self.token(&params, basic).await.map(Some),
            _ => Ok(None),
        }
    }

    /// A bearer token from the challenge's realm, for pulling the repository.
    async fn token(
        &self,
        params: &[(String, String)],
        basic: Option<String>,
    ) -> anyhow::Result<String> {
        let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let realm =
            param("realm").context("the registry asks for a bearer token but names no realm")?;
        let mut url = reqwest::Url::parse(realm)
            .with_context(|| format!("the registry's token realm `{realm}` is not a URL"))?;
        let loopback = url.host_str().is_some_and(is_loopback);
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http || loopback => {}
            _ => bail!(
                "the registry's token realm {realm} is not https; refusing to send credentials there"
            ),
        }
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = param("service") {
                query.append_pair("service", service);
            }
            query.append_pair("scope", param("scope").unwrap_or(&self.scope));
        }
        let mut request = net::http()?.get(url);
        if let Some(value) = basic {
            request = request.header(AUTHORIZATION, value);
        }
        let exchange = net::send(request, DOCUMENT).await?;
        let body = ok_body(exchange, None).await.context("fetching a token")?;
        let reply: serde_json::Value =
            serde_json::from_slice(&body).context("the token reply is not JSON")?;
        let token = reply["token"]
            .as_str()
            .or_else(|| reply["access_token"].as_str())
            .context("the token reply has no token")?;
        Ok(format!("Bearer {token}"))
    }
}

/// The body of a successful response (of `expect`'s length, if given); a
/// refusal with the status and the start of the body otherwise.
async fn ok_body(
    exchange: Exchange,
    expect: Option<(u64, &'static str)>,
) -> anyhow::Result<Vec<u8>> {
    let status = exchange.status();
    if (200..300).contains(&status) {
        return Ok(exchange.body(expect).await?);
    }
    let text = exchange.body_prefix(ERROR_BODY).await;
    let text = String::from_utf8_lossy(&text);
    let text = stance_pack::printable(text.trim(), false);
    if text.is_empty() {
        bail!("HTTP {status}");
    }
    bail!("HTTP {status}: {text}")
}

/// `Bearer realm="…",service="…"` → (`bearer`, [(realm, …), (service, …)]).
fn parse_challenge(header: &str) -> (String, Vec<(String, String)>) {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = Vec::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((name, after)) = rest.split_once('=') else {
            break;
        };
        let after = after.trim_start();
        let (value, next) = match after.strip_prefix('"') {
            Some(quoted) => match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            },
            None => after.split_once(',').unwrap_or((after, "")),
        };
        params.push((name.trim().to_ascii_lowercase(), value.to_string()));
        rest = next.trim_start().trim_start_matches(',').trim_start();
    }
    (scheme.to_ascii_lowercase(), params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        let (scheme, params) = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        );
        assert_eq!(scheme, "bearer");
        assert_eq!(
            params,
            [
                (
                    "realm".to_string(),
                    "https://auth.example/token".to_string()
                ),
                ("service".to_string(), "registry.example".to_string()),
                ("scope".to_string(), "repository:a/b:pull".to_string()),
            ]
        );
        let (scheme, params) = parse_challenge("Basic realm=stance-test");
        assert_eq!(scheme, "basic");
        assert_eq!(params, [("realm".to_string(), "stance-test".to_string())]);
    }
}
