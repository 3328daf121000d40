//! Step 3 of a pack's life, the keys: generating an Ed25519 key pair
//! (private key as PKCS#8 PEM, mode 0600; public key as SPKI PEM in
//! `FILE.pub`), loading keys and directories of trusted keys, and the short
//! key id that names a key in signatures and messages.
//!
//! It never decides which keys are trusted (the caller passes them to
//! `verify`), never overwrites a key file, and never hands out the raw
//! private key (only `sign` uses it).

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use zeroize::Zeroize;

use crate::PackError;
use crate::digest::Digest;

/// The id of a key: the first 16 hex digits of the SHA-256 of its 32 raw
/// public-key bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(String);

impl KeyId {
    /// The id of `key`.
    pub fn of(key: &VerifyingKey) -> KeyId {
        KeyId(Digest::of(key.as_bytes()).hex()[..16].to_string())
    }

    /// Parses 16 lowercase hex digits.
    pub fn parse(s: &str) -> Option<KeyId> {
        (s.len() == 16
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| KeyId(s.to_string()))
    }

    /// The 16 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A public key that signatures can be checked against.
#[derive(Debug, Clone)]
pub struct PublicKey {
    /// The Ed25519 key.
    key: VerifyingKey,
    /// Its id, computed once.
    id: KeyId,
    /// Where it came from, for messages.
    source: String,
}

impl PublicKey {
    /// Wraps a key; `source` (a file path, "built-in", …) names it in messages.
    pub fn new(key: VerifyingKey, source: impl Into<String>) -> PublicKey {
        PublicKey {
            id: KeyId::of(&key),
            key,
            source: source.into(),
        }
    }

    /// Parses an SPKI PEM public key (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_pem(pem: &str, source: impl Into<String>) -> Result<PublicKey, PackError> {
        let source = source.into();
        let key = VerifyingKey::from_public_key_pem(pem.trim()).map_err(|e| PackError::Key {
            path: PathBuf::from(&source),
            reason: format!(
                "not an Ed25519 public key in PEM form ({e}); use the `.pub` file that `stance key generate` wrote"
            ),
        })?;
        Ok(PublicKey::new(key, source))
    }

    /// The key in SPKI PEM form, as written to `FILE.pub`.
    pub fn to_pem(&self) -> String {
        self.key
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default()
    }

    /// The key's id, as signatures name it.
    pub fn id(&self) -> &KeyId {
        &self.id
    }

    /// Where the key came from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The Ed25519 key itself.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }
}

/// A private signing key.
pub struct PrivateKey {
    /// The Ed25519 key (zeroized on drop).
    key: SigningKey,
    /// The id of its public key.
    id: KeyId,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({})", self.id)
    }
}

impl PrivateKey {
    /// Parses a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pem(pem: &str, source: &Path) -> Result<PrivateKey, PackError> {
        let key = SigningKey::from_pkcs8_pem(pem.trim()).map_err(|e| PackError::Key {
            path: source.to_path_buf(),
            reason: format!(
                "not an Ed25519 private key in PKCS#8 PEM form ({e}); use the file that `stance key generate` wrote"
            ),
        })?;
        let id = KeyId::of(&key.verifying_key());
        Ok(PrivateKey { key, id })
    }

    /// The id of the matching public key, written into signatures.
    pub fn id(&self) -> &KeyId {
        &self.id
    }

    /// The matching public key.
    pub fn public_key(&self, source: impl Into<String>) -> PublicKey {
        PublicKey::new(self.key.verifying_key(), source)
    }

    /// The Ed25519 key itself (for `sign`; never leaves the crate).
    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.key
    }
}

/// What `generate_key` wrote.
#[derive(Debug, Clone)]
pub struct GeneratedKey {
    /// The private key file (PKCS#8 PEM, mode 0600).
    pub private_path: PathBuf,
    /// The public key file, `private_path` with `.pub` appended (SPKI PEM).
    pub public_path: PathBuf,
    /// The key's id.
    pub id: KeyId,
}

/// The public key file that goes with private key file `private`: the same
/// path with `.pub` appended.
pub fn public_key_path(private: &Path) -> PathBuf {
    let mut s = private.as_os_str().to_owned();
    s.push(".pub");
    PathBuf::from(s)
}

/// Generates an Ed25519 key pair from the OS random source, writes the
/// private key to `out` (PKCS#8 PEM, created with mode 0600) and the public
/// key to `out.pub` (SPKI PEM). Refuses to overwrite either file.
pub fn generate_key(out: &Path) -> Result<GeneratedKey, PackError> {
    let public_path = public_key_path(out);
    for path in [out, public_path.as_path()] {
        if path.exists() {
            return Err(PackError::Key {
                path: path.to_path_buf(),
                reason: "the file already exists; remove it or choose another --out".into(),
            });
        }
    }
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| PackError::Key {
        path: out.to_path_buf(),
        reason: format!("the operating system gave no random bytes ({e})"),
    })?;
    let key = SigningKey::from_bytes(&seed);
    seed.zeroize();
    let id = KeyId::of(&key.verifying_key());
    // PKCS#8 v1 (no embedded public key): what OpenSSL 3.0 reads.
    let keypair = ed25519_dalek::pkcs8::KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    };
    let private_pem = keypair
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| PackError::Key {
            path: out.to_path_buf(),
            reason: format!("cannot encode the key ({e})"),
        })?;
    write_new(out, private_pem.as_bytes(), 0o600)?;
    let public = PublicKey::new(key.verifying_key(), public_path.display().to_string());
    write_new(&public_path, public.to_pem().as_bytes(), 0o644)?;
    Ok(GeneratedKey {
        private_path: out.to_path_buf(),
        public_path,
        id,
    })
}

/// Writes `bytes` to a new file with `mode` (on Unix), refusing to replace
/// an existing one, and syncs it.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), PackError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(|e| PackError::io(path, e))?;
    file.write_all(bytes).map_err(|e| PackError::io(path, e))?;
    file.sync_all().map_err(|e| PackError::io(path, e))
}

/// Reads a private key file written by `generate_key`.
pub fn load_private_key(path: &Path) -> Result<PrivateKey, PackError> {
    let mut text = std::fs::read_to_string(path).map_err(|e| PackError::io(path, e))?;
    let key = PrivateKey::from_pem(&text, path);
    text.zeroize();
    key
}

/// Reads a public key file (`FILE.pub`).
pub fn load_public_key(path: &Path) -> Result<PublicKey, PackError> {
    let text = std::fs::read_to_string(path).map_err(|e| PackError::io(path, e))?;
    PublicKey::from_pem(&text, path.display().to_string())
}

/// Reads every `*.pub` file of a trusted-keys directory, in name order; a
/// directory that does not exist holds no keys.
pub fn load_public_keys_dir(dir: &Path) -> Result<Vec<PublicKey>, PackError> {
    let read = match std::fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(PackError::io(dir, e)),
    };
    let mut paths = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| PackError::io(dir, e))?;
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "pub") && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    paths.iter().map(|p| load_public_key(p)).collect()
}
