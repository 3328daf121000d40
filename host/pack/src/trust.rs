//! Steps 3 and 4 of a pack's life, signing and verification. A signature is
//! an Ed25519 signature over the `digests` index and the manifest, stored
//! in the archive as `signature`. [`verify`] is the one gate a pack passes
//! before anything in it runs: integrity (`archive`), then the signature
//! against the caller's trusted keys, then the WIT and Stance versions
//! against the host's. This module owns the signature entry's format, the
//! signed message and the [`VerifiedPack`] that only `verify` makes.
//!
//! It never takes a public key from the archive, never accepts a signed
//! pack whose signature fails (whatever `allow_unsigned` says), and never
//! stores or loads packs (`store` does).

use std::collections::BTreeMap;

use ed25519_dalek::{Signature, Signer};
use semver::Version;
use serde::{Deserialize, Serialize};

use crate::PackError;
use crate::archive::{DIGESTS_FILE, Head, PackArchive, SIGNATURE_FILE, encode, read};
use crate::digest::Digest;
use crate::keys::{KeyId, PrivateKey, PublicKey};
use crate::manifest::{MANIFEST_FILE, Manifest, PackInfo, WitVersion};

/// The `format` of a signature entry, and the first line of the signed message.
pub const SIGNATURE_FORMAT: &str = "stance-pack-signature/v1";

/// The `signature` entry of an archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct SignatureEntry {
    /// Always [`SIGNATURE_FORMAT`].
    format: String,
    /// Always `ed25519`.
    algorithm: String,
    /// The id of the signing key (16 hex digits).
    key_id: String,
    /// The signature, 128 lowercase hex digits.
    signature: String,
}

impl SignatureEntry {
    /// The canonical text of the entry, byte for byte (docs/packs.md).
    fn render(&self) -> String {
        format!(
            "format = \"{}\"\nalgorithm = \"{}\"\nkey-id = \"{}\"\nsignature = \"{}\"\n",
            self.format, self.algorithm, self.key_id, self.signature
        )
    }
}

/// The bytes a signature covers: the format line, then the `digests` entry
/// and the manifest, each preceded by its length as 8 big-endian bytes.
pub fn signed_message(digests: &[u8], manifest: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(SIGNATURE_FORMAT.len() + 17 + digests.len() + manifest.len());
    msg.extend_from_slice(SIGNATURE_FORMAT.as_bytes());
    msg.push(b'\n');
    msg.extend_from_slice(&(digests.len() as u64).to_be_bytes());
    msg.extend_from_slice(digests);
    msg.extend_from_slice(&(manifest.len() as u64).to_be_bytes());
    msg.extend_from_slice(manifest);
    msg
}

/// The message a signature of `archive` covers.
fn message_of(archive: &PackArchive) -> Vec<u8> {
    let entries = archive.entries();
    let empty = Vec::new();
    signed_message(
        entries.get(DIGESTS_FILE).unwrap_or(&empty),
        entries.get(MANIFEST_FILE).unwrap_or(&empty),
    )
}

/// Signs an archive: checks its integrity, then adds (or replaces) its
/// `signature` entry. Every other entry keeps its bytes.
pub fn sign(archive: &[u8], source: &str, key: &PrivateKey) -> Result<Vec<u8>, PackError> {
    let pack = PackArchive::from_bytes(archive, source)?;
    let signature = key.signing_key().sign(&message_of(&pack));
    let entry = SignatureEntry {
        format: SIGNATURE_FORMAT.to_string(),
        algorithm: "ed25519".to_string(),
        key_id: key.id().to_string(),
        signature: hex::encode(signature.to_bytes()),
    };
    let label = pack.label();
    let mut entries = pack.into_entries();
    entries.insert(SIGNATURE_FILE.to_string(), entry.render().into_bytes());
    encode(&entries).map_err(|e| PackError::Tampered {
        pack: label,
        file: SIGNATURE_FILE.into(),
        reason: format!("cannot write the signed archive ({e})"),
    })
}

/// The versions of the running Stance that a pack must be compatible with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostVersions {
    /// The WIT package the runtime provides, e.g. `stance:plugin@0.1.0`.
    pub wit: WitVersion,
    /// The running Stance version.
    pub stance: Version,
}

/// What `verify` accepts.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The keys whose signatures are trusted (per-user and per-project key
    /// directories, `--key`).
    pub trusted_keys: Vec<PublicKey>,
    /// Accept a pack without a signature (local development only). A pack
    /// that is signed is still verified, and refused if the signature fails
    /// or its key is not trusted.
    pub allow_unsigned: bool,
    /// The versions of the running Stance the pack must be compatible with.
    pub host: HostVersions,
}

/// How a verified pack is trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Signed by this trusted key.
    Signed {
        /// The id of the key that signed the pack.
        key_id: KeyId,
        /// Where that trusted key came from (its file, "built-in", …).
        key_source: String,
    },
    /// Not signed, accepted only because `allow_unsigned` was set.
    UnsignedAllowed,
}

/// A pack that passed `verify`: its integrity, signature (or the explicit
/// allowance of none) and compatibility were checked. Only `verify` makes one.
#[derive(Debug, Clone)]
pub struct VerifiedPack {
    /// The integrity-checked archive.
    archive: PackArchive,
    /// The archive bytes exactly as verified (what `install` stores).
    bytes: Vec<u8>,
    /// How it is trusted.
    trust: Trust,
}

impl VerifiedPack {
    /// The pack's manifest.
    pub fn manifest(&self) -> &Manifest {
        self.archive.manifest()
    }

    /// The pack's name.
    pub fn name(&self) -> &str {
        &self.archive.manifest().pack.name
    }

    /// The pack's version.
    pub fn version(&self) -> &Version {
        &self.archive.manifest().pack.version
    }

    /// How the pack is trusted: by which key, or only because unsigned
    /// packs were allowed.
    pub fn trust(&self) -> &Trust {
        &self.trust
    }

    /// Whether a trusted key signed the pack.
    pub fn is_signed(&self) -> bool {
        matches!(self.trust, Trust::Signed { .. })
    }

    /// The SHA-256 of the archive bytes (what `stance.lock` pins).
    pub fn archive_digest(&self) -> Digest {
        self.archive.archive_digest()
    }

    /// The archive bytes that were verified.
    pub fn archive_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Where the archive came from.
    pub fn source(&self) -> &str {
        self.archive.source()
    }

    /// The bytes of a file of the pack, by archive path.
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.archive.entries().get(path).map(Vec::as_slice)
    }

    /// Every file of the pack (including manifest, `digests`, `signature`).
    pub fn files(&self) -> &BTreeMap<String, Vec<u8>> {
        self.archive.entries()
    }

    /// The component bytes of the plugin called `name`.
    pub fn plugin_bytes(&self, name: &str) -> Option<&[u8]> {
        let plugin = self.manifest().plugin(name)?;
        self.file(&plugin.path)
    }

    /// The data files matched by `[data] policies` (or `rules` when
    /// `rules` is true), in path order.
    pub fn data_files(&self, rules: bool) -> Vec<(&str, &[u8])> {
        let data = &self.manifest().data;
        let globs = if rules { &data.rules } else { &data.policies };
        let patterns: Vec<glob::Pattern> = globs
            .iter()
            .filter_map(|g| glob::Pattern::new(g).ok())
            .collect();
        self.files()
            .iter()
            .filter(|(path, _)| {
                patterns
                    .iter()
                    .any(|p| crate::archive::glob_matches(p, path))
            })
            .map(|(path, bytes)| (path.as_str(), bytes.as_slice()))
            .collect()
    }

    /// A loud warning for the CLI to print when the pack is unsigned.
    pub fn warning(&self) -> Option<String> {
        match self.trust {
            Trust::UnsignedAllowed => Some(format!(
                "WARNING: pack {} ({}) is NOT SIGNED; it was accepted only because unsigned packs were allowed (--allow-unsigned). Never use this outside local development.",
                self.archive.manifest().id(),
                self.archive.source()
            )),
            Trust::Signed { .. } => None,
        }
    }
}

/// Verifies an archive before anything in it is used: the head of the
/// archive (manifest and `digests`, what a signature covers) is read and
/// its signature checked against `trusted_keys` before a byte of the
/// payload is inflated, so an unsigned or untrusted archive costs what its
/// head costs, whatever it claims to unpack to; then integrity (see
/// `PackArchive::from_bytes`), then the WIT and Stance versions. `source`
/// names the archive in errors.
pub fn verify(
    archive: &[u8],
    source: &str,
    options: &VerifyOptions,
) -> Result<VerifiedPack, PackError> {
    let (pack, trust) = read(archive, source, |head| check_trust(head, options))?;
    check_compatible(&pack.manifest().pack, &pack.label(), &options.host)?;
    Ok(VerifiedPack {
        archive: pack,
        bytes: archive.to_vec(),
        trust,
    })
}

/// How the pack whose head is `head` is trusted: by the trusted key that
/// signed it, or, when it has no signature at all, only if unsigned packs
/// are allowed.
fn check_trust(head: &Head, options: &VerifyOptions) -> Result<Trust, PackError> {
    match &head.signature {
        None if options.allow_unsigned => Ok(Trust::UnsignedAllowed),
        None => Err(PackError::Unsigned {
            pack: head.label.clone(),
            file: SIGNATURE_FILE.into(),
        }),
        Some(bytes) => check_signature(head, bytes, &options.trusted_keys),
    }
}

/// Checks that the running host can run the pack: the WIT contract it was
/// built against, then the oldest Stance it supports.
fn check_compatible(info: &PackInfo, label: &str, host: &HostVersions) -> Result<(), PackError> {
    if !info.wit.is_satisfied_by(&host.wit) {
        return Err(PackError::IncompatibleWit {
            pack: label.to_string(),
            file: MANIFEST_FILE.into(),
            required: info.wit.to_string(),
            host: host.wit.to_string(),
        });
    }
    if host.stance < info.min_stance_version {
        return Err(PackError::IncompatibleStance {
            pack: label.to_string(),
            file: MANIFEST_FILE.into(),
            required: info.min_stance_version.to_string(),
            running: host.stance.to_string(),
        });
    }
    Ok(())
}

/// Checks the `signature` entry `bytes`: canonical, in a known format,
/// by a key among `trusted`, and valid over the archive's `digests` and
/// manifest.
fn check_signature(head: &Head, bytes: &[u8], trusted: &[PublicKey]) -> Result<Trust, PackError> {
    let label = head.label.as_str();
    let tampered = |reason: String| PackError::Tampered {
        pack: label.to_string(),
        file: SIGNATURE_FILE.into(),
        reason,
    };
    let text = std::str::from_utf8(bytes).map_err(|_| tampered("it is not UTF-8 text".into()))?;
    let entry: SignatureEntry = toml::from_str(text)
        .map_err(|e| tampered(format!("it does not parse ({})", e.message())))?;
    if entry.render() != text {
        return Err(tampered("it is not in canonical form".into()));
    }
    if entry.format != SIGNATURE_FORMAT || entry.algorithm != "ed25519" {
        return Err(tampered(format!(
            "unknown signature format `{}` / algorithm `{}` (this Stance reads {SIGNATURE_FORMAT} with ed25519)",
            entry.format, entry.algorithm
        )));
    }
    let key_id = KeyId::parse(&entry.key_id)
        .ok_or_else(|| tampered(format!("`{}` is not a key id", entry.key_id)))?;
    let mut raw = [0u8; 64];
    hex::decode_to_slice(&entry.signature, &mut raw)
        .ok()
        .filter(|_| entry.signature.bytes().all(|b| !b.is_ascii_uppercase()))
        .ok_or_else(|| tampered("the signature is not 128 lowercase hex digits".into()))?;
    let signature = Signature::from_bytes(&raw);
    let candidates: Vec<&PublicKey> = trusted.iter().filter(|k| k.id() == &key_id).collect();
    if candidates.is_empty() {
        return Err(PackError::UntrustedKey {
            pack: label.to_string(),
            file: SIGNATURE_FILE.into(),
            key_id: key_id.to_string(),
        });
    }
    let message = signed_message(&head.digests_bytes, &head.manifest_bytes);
    for key in candidates {
        if key
            .verifying_key()
            .verify_strict(&message, &signature)
            .is_ok()
        {
            return Ok(Trust::Signed {
                key_id,
                key_source: key.source().to_string(),
            });
        }
    }
    Err(PackError::BadSignature {
        pack: label.to_string(),
        file: SIGNATURE_FILE.into(),
        key_id: key_id.to_string(),
    })
}
