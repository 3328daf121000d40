//! Packs in OCI registries, as artifacts in the way wasm tools store
//! components (docs/packs.md, "Sharing packs"): an OCI image manifest whose
//! config is a small JSON document of our own media type and whose one layer
//! is the signed pack archive, byte for byte.
//!
//! Registry credentials come from the docker config (`DOCKER_CONFIG` or
//! `~/.docker/config.json`, `auths` entries); without one, access is
//! anonymous. Plain http is used only for loopback registries, or for any
//! with `--insecure`. Registry calls run on the process's one async
//! runtime (`net`). Pulls, where the registry may be anyone's, go through
//! the process's one HTTP client and its bounded exchange (`registry`):
//! every response is read within bounds, the layer to exactly its declared
//! size. Pushes go through oci-client, which keeps an HTTP client of its
//! own, with the same connect and read timeouts and a deadline on the whole
//! push.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use base64::Engine as _;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::manifest::OciImageManifest;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use stance_pack::PackArchive;
use std::time::Duration;

use super::registry::{self, DOCUMENT, LAYER};
use super::{NetOptions, is_loopback};

/// The media type of the layer that holds the pack archive.
pub const PACK_LAYER_MEDIA_TYPE: &str = "application/vnd.stance.pack.layer.v1.tar+gzip";
/// The media type of the config: [`PackConfig`] as JSON.
pub const PACK_CONFIG_MEDIA_TYPE: &str = "application/vnd.stance.pack.config.v1+json";
/// The manifest media type (OCI image manifest v1).
pub const OCI_MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The largest archive fetched (what a pack may unpack to).
use super::fetch::MAX_ARCHIVE_BYTES;

/// The config blob of a pack artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PackConfig {
    /// The pack's name, from its manifest.
    pub name: String,
    /// The pack's version, from its manifest.
    pub version: String,
    /// `sha256:…` of the archive (the layer).
    pub digest: String,
    /// The WIT package the pack's plugins were built for.
    pub wit: String,
    /// The oldest Stance version the pack works with, from its manifest.
    pub min_stance_version: String,
}

/// What `push` did.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// `oci://REGISTRY/REPO:TAG`, as given.
    pub tagged: String,
    /// `oci://REGISTRY/REPO@sha256:…`: the manifest by digest.
    pub pinned: String,
    /// `sha256:…` of the manifest pushed.
    pub manifest_digest: String,
    /// The config blob pushed.
    pub config: PackConfig,
}

/// What `pull` fetched.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The pack archive (the layer), its digest checked against the manifest.
    pub archive: Vec<u8>,
    /// `oci://REGISTRY/REPO@sha256:…`.
    pub pinned: String,
    /// `sha256:…` of the manifest pulled.
    pub manifest_digest: String,
    /// The artifact's config blob.
    pub config: PackConfig,
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Parses `oci://REGISTRY/REPO:TAG` or `oci://REGISTRY/REPO@sha256:…`; the
/// registry must be named (no implicit docker.io).
pub fn parse_reference(s: &str) -> anyhow::Result<Reference> {
    let Some(rest) = s.strip_prefix("oci://") else {
        bail!("{s}: an OCI reference starts with oci:// (oci://REGISTRY/REPO:TAG)");
    };
    let reference = Reference::try_from(rest)
        .map_err(|e| anyhow!("{s}: not an OCI reference ({e}); write oci://REGISTRY/REPO:TAG or oci://REGISTRY/REPO@sha256:DIGEST"))?;
    if !rest.starts_with(&format!("{}/", reference.registry())) {
        bail!("{s}: name the registry, e.g. oci://ghcr.io/{rest} or oci://127.0.0.1:5000/{rest}");
    }
    Ok(reference)
}

fn client(reference: &Reference, net: &NetOptions) -> Client {
    crate::net::install_crypto_provider();
    let registry = reference.resolve_registry().to_string();
    let protocol = if net.insecure || is_loopback(&registry) {
        ClientProtocol::HttpsExcept(vec![registry])
    } else {
        ClientProtocol::Https
    };
    Client::new(ClientConfig {
        protocol,
        platform_resolver: None,
        connect_timeout: Some(crate::net::CONNECT_TIMEOUT),
        read_timeout: Some(crate::net::READ_TIMEOUT),
        user_agent: crate::net::USER_AGENT,
        ..Default::default()
    })
}

/// The docker config file: `config.json` in the docker configuration
/// directory (`DOCKER_CONFIG`, else `~/.docker`; `Settings::docker_config`).
pub fn docker_config_path(net: &NetOptions) -> Option<PathBuf> {
    net.docker_config
        .as_ref()
        .map(|dir| dir.join("config.json"))
}

#[derive(Debug, Default, Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, DockerAuth>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct DockerAuth {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    registrytoken: Option<String>,
}

/// `https://index.docker.io/v1/` → `index.docker.io`; `host:port` stays.
fn normalize_registry(key: &str) -> String {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = key.split('/').next().unwrap_or(key).to_ascii_lowercase();
    match host.as_str() {
        "docker.io" | "registry-1.docker.io" => "index.docker.io".to_string(),
        _ => host,
    }
}

/// The credentials for `registry` from the docker config, else anonymous.
pub fn registry_auth(registry: &str, net: &NetOptions) -> anyhow::Result<RegistryAuth> {
    let Some(path) = docker_config_path(net) else {
        return Ok(RegistryAuth::Anonymous);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(RegistryAuth::Anonymous),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let config: DockerConfig = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a docker config file", path.display()))?;
    let wanted = normalize_registry(registry);
    let entry = config
        .auths
        .iter()
        .find(|(k, _)| normalize_registry(k) == wanted);
    let Some((_, entry)) = entry else {
        if config
            .cred_helpers
            .keys()
            .any(|k| normalize_registry(k) == wanted)
            || config.creds_store.is_some()
        {
            tracing::warn!(
                "{}: credential helpers are not supported; using anonymous access to {registry} (add an `auths` entry, e.g. with `docker login`, without a credsStore)",
                path.display()
            );
        }
        return Ok(RegistryAuth::Anonymous);
    };
    if let Some(token) = entry.registrytoken.as_ref().filter(|t| !t.is_empty()) {
        return Ok(RegistryAuth::Bearer(token.clone()));
    }
    if let Some(auth) = entry.auth.as_ref().filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .with_context(|| {
                format!(
                    "{}: the `auth` of {registry} is not base64 of USER:PASSWORD",
                    path.display()
                )
            })?;
        let Some((user, pass)) = decoded.split_once(':') else {
            bail!(
                "{}: the `auth` of {registry} is not base64 of USER:PASSWORD",
                path.display()
            );
        };
        return Ok(RegistryAuth::Basic(user.to_string(), pass.to_string()));
    }
    match (&entry.username, &entry.password) {
        (Some(u), Some(p)) => Ok(RegistryAuth::Basic(u.clone(), p.clone())),
        _ => Ok(RegistryAuth::Anonymous),
    }
}

/// The longest a whole push may take.
pub const PUSH_DEADLINE: Duration = Duration::from_secs(30 * 60);

/// A hint for registry errors that are about credentials.
fn auth_hint(e: &dyn std::fmt::Display, net: &NetOptions) -> String {
    let text = e.to_string().to_ascii_lowercase();
    let text = if text.contains("http 401") || text.contains("http 403") {
        format!("{text} unauthorized")
    } else {
        text
    };
    let about_auth = ["unauthorized", "not authorized", "authentication", "denied"]
        .iter()
        .any(|w| text.contains(w));
    if !about_auth {
        return String::new();
    }
    let config = docker_config_path(net)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "~/.docker/config.json".into());
    format!(
        " (the registry wants credentials: Stance reads the `auths` entries of {config}, as `docker login` writes them)"
    )
}

fn pinned(reference: &Reference, digest: &str) -> String {
    format!(
        "oci://{}/{}@{digest}",
        reference.registry(),
        reference.repository()
    )
}

/// The media type of a component layer, as wasm tools publish components.
pub const WASM_LAYER_MEDIA_TYPE: &str = "application/wasm";

/// The pack's components with their bytes, in manifest order.
fn components(archive: &PackArchive) -> Vec<(&stance_pack::PluginEntry, &[u8])> {
    archive
        .manifest()
        .plugins
        .iter()
        .filter_map(|p| archive.entries().get(&p.path).map(|b| (p, b.as_slice())))
        .collect()
}

/// The OCI manifest of a pack artifact, as pushed (deterministic bytes).
pub fn manifest_bytes(
    archive: &PackArchive,
    archive_bytes: &[u8],
    config: &[u8],
) -> anyhow::Result<Vec<u8>> {
    let m = archive.manifest();
    let mut annotations = serde_json::Map::new();
    let mut note = |k: &str, v: &str| {
        if !v.is_empty() {
            annotations.insert(k.to_string(), serde_json::Value::String(v.to_string()));
        }
    };
    note("org.opencontainers.image.title", &m.pack.name);
    note(
        "org.opencontainers.image.version",
        &m.pack.version.to_string(),
    );
    note("org.opencontainers.image.description", &m.pack.description);
    note(
        "org.opencontainers.image.authors",
        &m.pack.authors.join(", "),
    );
    note(
        "org.opencontainers.image.licenses",
        m.pack.license.as_deref().unwrap_or(""),
    );
    // The signed archive first (what Stance installs), then each component
    // as an `application/wasm` layer, as wasm tools publish components, so
    // registries and tools that know wasm can list and fetch them; pull
    // takes the archive and checks nothing else.
    let mut layers = vec![serde_json::json!({
        "mediaType": PACK_LAYER_MEDIA_TYPE,
        "digest": sha256(archive_bytes),
        "size": archive_bytes.len(),
        "annotations": {
            "org.opencontainers.image.title": format!("{}-{}.tar.gz", m.pack.name, m.pack.version),
        },
    })];
    for (plugin, bytes) in components(archive) {
        layers.push(serde_json::json!({
            "mediaType": WASM_LAYER_MEDIA_TYPE,
            "digest": sha256(bytes),
            "size": bytes.len(),
            "annotations": {
                "org.opencontainers.image.title": plugin.path,
                "dev.stance.plugin.name": plugin.name,
                "dev.stance.plugin.world": plugin.world,
            },
        }));
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST_MEDIA_TYPE,
        "config": {
            "mediaType": PACK_CONFIG_MEDIA_TYPE,
            "digest": sha256(config),
            "size": config.len(),
        },
        "layers": layers,
        "annotations": annotations,
    });
    Ok(serde_json::to_vec(&manifest)?)
}

/// Pushes a pack archive to `target` (`oci://REGISTRY/REPO:TAG`). The
/// archive must be intact (signing is the consumer's check; an unsigned
/// pack is pushed with a warning).
pub fn push(
    archive_bytes: &[u8],
    label: &str,
    target: &str,
    net: NetOptions,
) -> anyhow::Result<Pushed> {
    let reference = parse_reference(target)?;
    if reference.digest().is_some() {
        bail!("{target}: push to a tag (oci://REGISTRY/REPO:TAG), not a digest");
    }
    let archive = PackArchive::from_bytes(archive_bytes, label)?;
    if !archive.is_signed() {
        crate::say_err!(
            "WARNING: pushing {} ({label}), which is NOT SIGNED: Stance refuses to install it without --allow-unsigned; sign it first with `stance pack sign`",
            archive.manifest().id()
        );
    }
    let info = &archive.manifest().pack;
    let config = PackConfig {
        name: info.name.clone(),
        version: info.version.to_string(),
        digest: sha256(archive_bytes),
        wit: info.wit.to_string(),
        min_stance_version: info.min_stance_version.to_string(),
    };
    let config_bytes = serde_json::to_vec(&config)?;
    let manifest = manifest_bytes(&archive, archive_bytes, &config_bytes)?;
    let manifest_digest = sha256(&manifest);
    let auth = registry_auth(reference.resolve_registry(), &net)?;
    let client = client(&reference, &net);
    let fail = |what: &str, e: oci_client::errors::OciDistributionError| {
        anyhow!("{target}: {what} failed: {e}{}", auth_hint(&e, &net))
    };
    let push = async {
        client
            .auth(&reference, &auth, RegistryOperation::Push)
            .await
            .map_err(|e| fail("authentication", e))?;
        client
            .push_blob(&reference, archive_bytes.to_vec(), &config.digest)
            .await
            .map_err(|e| fail("uploading the pack layer", e))?;
        for (plugin, bytes) in components(&archive) {
            client
                .push_blob(&reference, bytes.to_vec(), &sha256(bytes))
                .await
                .map_err(|e| fail(&format!("uploading component {}", plugin.path), e))?;
        }
        client
            .push_blob(&reference, config_bytes.clone(), &sha256(&config_bytes))
            .await
            .map_err(|e| fail("uploading the config", e))?;
        client
            .push_manifest_raw(
                &reference,
                manifest.clone(),
                reqwest::header::HeaderValue::from_static(OCI_MANIFEST_MEDIA_TYPE),
            )
            .await
            .map_err(|e| fail("uploading the manifest", e))?;
        anyhow::Ok(())
    };
    crate::net::block_on(async {
        tokio::time::timeout(PUSH_DEADLINE, push)
            .await
            .unwrap_or_else(|_| {
                Err(anyhow!(
                    "{target}: stopped after {}: the push did not finish",
                    crate::net::human_duration(PUSH_DEADLINE)
                ))
            })
    })??;
    Ok(Pushed {
        tagged: target.to_string(),
        pinned: pinned(&reference, &manifest_digest),
        manifest_digest,
        config,
    })
}

/// Pulls the pack archive of `source` (by tag or digest), checking that it
/// is a Stance pack artifact, that every digest matches and that the archive
/// is intact. Every response is read within bounds (`registry`). Trust is
/// checked by the caller (`verify`).
pub fn pull(source: &str, net: NetOptions) -> anyhow::Result<Pulled> {
    let reference = parse_reference(source)?;
    let auth = registry_auth(reference.resolve_registry(), &net)?;
    let fail = |what: &str, e: anyhow::Error| {
        anyhow!(
            "{source}: {what} failed: {e:#}{}",
            auth_hint(&format!("{e:#}"), &net)
        )
    };
    let tag_or_digest = reference
        .digest()
        .or(reference.tag())
        .unwrap_or("latest")
        .to_string();
    let (manifest_raw, config_raw, archive) = crate::net::block_on(async {
        let mut session = registry::Session::new(&reference, auth, &net);
        let raw = session
            .manifest(&tag_or_digest, OCI_MANIFEST_MEDIA_TYPE)
            .await
            .map_err(|e| fail("fetching the manifest", e))?;
        let manifest: OciImageManifest = serde_json::from_slice(&raw)
            .with_context(|| format!("{source}: the manifest is not an OCI image manifest"))?;
        let layer = pack_layer(source, &manifest)?;
        let config = session
            .blob(&manifest.config, DOCUMENT)
            .await
            .map_err(|e| fail("fetching the config", e))?;
        let archive = session
            .blob(layer, LAYER)
            .await
            .map_err(|e| fail("fetching the pack layer", e))?;
        check_digest(source, "the config blob", &config, &manifest.config.digest)?;
        check_digest(source, "the pack layer", &archive, &layer.digest)?;
        anyhow::Ok((raw, config, archive))
    })??;
    check_pulled(source, &reference, &manifest_raw, config_raw, archive)
}

/// The one pack layer of a Stance pack artifact's manifest, within the size limit.
fn pack_layer<'m>(
    source: &str,
    manifest: &'m OciImageManifest,
) -> anyhow::Result<&'m oci_client::manifest::OciDescriptor> {
    if manifest.config.media_type != PACK_CONFIG_MEDIA_TYPE {
        bail!(
            "{source}: not a Stance pack: its config is `{}`, not `{PACK_CONFIG_MEDIA_TYPE}`",
            manifest.config.media_type
        );
    }
    let layers: Vec<_> = manifest
        .layers
        .iter()
        .filter(|l| l.media_type == PACK_LAYER_MEDIA_TYPE)
        .collect();
    let [layer] = layers.as_slice() else {
        bail!(
            "{source}: a Stance pack artifact has exactly one `{PACK_LAYER_MEDIA_TYPE}` layer; this one has {}",
            layers.len()
        );
    };
    if layer.size < 0 || layer.size as u64 > MAX_ARCHIVE_BYTES {
        bail!(
            "{source}: the pack layer is {} bytes, over the {} download limit",
            layer.size,
            crate::net::human_bytes(MAX_ARCHIVE_BYTES)
        );
    }
    Ok(layer)
}

fn check_digest(source: &str, what: &str, bytes: &[u8], digest: &str) -> anyhow::Result<()> {
    if sha256(bytes) != digest {
        bail!("{source}: {what} does not have its digest {digest}");
    }
    Ok(())
}

/// The manifest digest the reference pinned, the config against the
/// archive, and the archive intact and naming the same pack.
fn check_pulled(
    source: &str,
    reference: &Reference,
    manifest_raw: &[u8],
    config_raw: Vec<u8>,
    archive: Vec<u8>,
) -> anyhow::Result<Pulled> {
    let computed = sha256(manifest_raw);
    if let Some(want) = reference.digest()
        && computed != want
    {
        bail!("{source}: the registry returned a manifest with digest {computed}");
    }
    let config: PackConfig = serde_json::from_slice(&config_raw)
        .with_context(|| format!("{source}: the pack config is not valid"))?;
    let pinned = pinned(reference, &computed);
    if config.digest != sha256(&archive) {
        bail!(
            "{source}: the config names archive {}, but the layer is {}",
            config.digest,
            sha256(&archive)
        );
    }
    let pack = PackArchive::from_bytes(&archive, &pinned)?;
    let info = &pack.manifest().pack;
    if info.name != config.name || info.version.to_string() != config.version {
        bail!(
            "{source}: the config names {}@{}, but the archive holds {}",
            config.name,
            config.version,
            pack.manifest().id()
        );
    }
    Ok(Pulled {
        archive,
        pinned,
        manifest_digest: computed,
        config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_must_name_a_registry() {
        let r = parse_reference("oci://127.0.0.1:5000/team/pack:1.0.0").unwrap();
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.repository(), "team/pack");
        assert_eq!(r.tag(), Some("1.0.0"));
        let d = format!("oci://ghcr.io/a/b@sha256:{}", "0".repeat(64));
        assert!(parse_reference(&d).unwrap().digest().is_some());
        assert!(parse_reference("oci://team/pack:1").is_err());
        assert!(parse_reference("127.0.0.1:5000/x:1").is_err());
    }

    #[test]
    fn docker_registry_keys_normalize() {
        assert_eq!(
            normalize_registry("https://index.docker.io/v1/"),
            "index.docker.io"
        );
        assert_eq!(normalize_registry("docker.io"), "index.docker.io");
        assert_eq!(normalize_registry("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(
            normalize_registry("http://Localhost:5000"),
            "localhost:5000"
        );
    }
}
