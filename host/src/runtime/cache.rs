//! The on-disk cache of precompiled components. A precompiled artifact is
//! native code that wasmtime maps and runs without checking it, so the cache
//! trusts nothing it reads back:
//!
//! - an entry's file name is keyed by the component's digest, the Stance
//!   and wasmtime versions and the engine's configuration;
//! - every entry carries an HMAC-SHA256, under a per-installation key kept
//!   outside the cache directory ([`CacheKey`]; `Settings::cache_key`:
//!   `STANCE_CACHE_KEY`, else `~/.local/share/stance/cache.key`, created
//!   `0600`),
//!   over the component's digest, this binary's identity (versions, engine
//!   configuration, target) and the artifact's bytes;
//! - the tag is checked on every load, before the artifact is deserialised,
//!   on the very bytes that are then deserialised (read once, no second
//!   open of the file). An entry that fails — copied from another
//!   component, written by someone without the key, truncated — is refused
//!   with a warning, and the component is compiled again and its entry
//!   replaced.
//!
//! The cache directory is created `0700` and entries `0600`. Without a
//! usable key the cache is off (every load compiles), with a warning.

use std::fs::File;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The first bytes of every cache entry (format version 1).
const MAGIC: &[u8; 8] = b"STNCCWM1";
/// The length of the HMAC-SHA256 tag after the magic.
const TAG_LEN: usize = 32;
/// Entries larger than this are refused unread (the largest honest
/// component compiles to a few tens of MiB).
pub const MAX_ARTIFACT_BYTES: u64 = 1 << 30;

type HmacSha256 = hmac::Hmac<Sha256>;

/// Where precompiled components live (`Settings::cache_dir`: `STANCE_CACHE_DIR`,
/// else `~/.cache/stance`), or nowhere when caching is off, and the key
/// that authenticates them.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: Option<PathBuf>,
    key_file: Option<PathBuf>,
    key: Arc<OnceLock<Result<CacheKey, String>>>,
}

/// How a component was obtained, for reports and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded a precompiled artifact.
    Hit(Duration),
    /// Compiled (and stored, if the cache is writable).
    Miss(Duration),
    /// Compiled; caching is off.
    Disabled(Duration),
}

impl CacheOutcome {
    /// How long compiling or loading took.
    pub fn duration(self) -> Duration {
        match self {
            CacheOutcome::Hit(d) | CacheOutcome::Miss(d) | CacheOutcome::Disabled(d) => d,
        }
    }

    /// `hit`, `miss` or `off`, as scan summaries show it.
    pub fn label(self) -> &'static str {
        match self {
            CacheOutcome::Hit(_) => "hit",
            CacheOutcome::Miss(_) => "miss",
            CacheOutcome::Disabled(_) => "off",
        }
    }
}

/// The key file every cache of this process uses unless given its own
/// ([`ComponentCache::with_key_file`]); the CLI sets it from the settings.
static DEFAULT_KEY_FILE: OnceLock<PathBuf> = OnceLock::new();

/// Use the key at `path` (created on first use) for every component cache
/// of this process that names no key file of its own. Set once; later calls
/// are ignored. Without it, caches use a key of this process only.
pub fn use_key_file(path: PathBuf) {
    let _ = DEFAULT_KEY_FILE.set(path);
}

impl ComponentCache {
    /// The cache under `dir` (its `components/`), or no cache.
    pub fn new(dir: Option<&Path>) -> ComponentCache {
        ComponentCache {
            dir: dir.map(|d| d.join("components")),
            key_file: None,
            key: Arc::new(OnceLock::new()),
        }
    }

    /// The cache under `dir` (its `components/`).
    pub fn at(dir: &Path) -> ComponentCache {
        ComponentCache::new(Some(dir))
    }

    /// No cache: every load compiles.
    pub fn disabled() -> ComponentCache {
        ComponentCache::new(None)
    }

    /// Authenticate entries with the key at `path` (created `0600` on first
    /// use). It must not be inside the cache directory.
    pub fn with_key_file(mut self, path: &Path) -> ComponentCache {
        self.key_file = Some(path.to_path_buf());
        self.key = Arc::new(OnceLock::new());
        self
    }

    /// The directory of precompiled artifacts (`DIR/components`); `None` when caching is off.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The key, loaded (or created) once; an error says why the cache is off.
    fn key(&self) -> Result<&CacheKey, &str> {
        self.key
            .get_or_init(|| {
                let file = self.key_file.as_ref().or(DEFAULT_KEY_FILE.get());
                match file {
                    Some(path) => CacheKey::load_or_create(path),
                    None => CacheKey::random().map_err(|e| format!("no key: {e}")),
                }
            })
            .as_ref()
            .map_err(String::as_str)
    }

    /// Compile `bytes` or load its precompiled artifact, authenticated.
    pub fn load(
        &self,
        engine: &Engine,
        bytes: &[u8],
        digest: &str,
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let start = Instant::now();
        let Some(dir) = &self.dir else {
            let c = Component::new(engine, bytes)?;
            return Ok((c, CacheOutcome::Disabled(start.elapsed())));
        };
        let key = match self.key() {
            Ok(key) => key,
            Err(e) => {
                tracing::warn!("the component cache is off: {e}");
                let c = Component::new(engine, bytes)?;
                return Ok((c, CacheOutcome::Disabled(start.elapsed())));
            }
        };
        let identity = binary_identity(engine);
        let path = dir.join(format!("{}.cwasm", cache_key(&identity, digest)));
        if let Some(component) = load_entry(engine, key, &identity, digest, &path) {
            return Ok((component, CacheOutcome::Hit(start.elapsed())));
        }
        let artifact = engine.precompile_component(bytes)?;
        // SAFETY: the artifact was produced just now by this engine.
        let component = unsafe { Component::deserialize(engine, &artifact)? };
        let entry = seal(key, &identity, digest, &artifact);
        if let Err(e) = store_atomically(dir, &path, &entry) {
            tracing::warn!(dir = %dir.display(), "cannot write the component cache: {e}");
        }
        Ok((component, CacheOutcome::Miss(start.elapsed())))
    }
}

/// The entry at `path`, when there is one and it authenticates; a warning
/// for one that does not.
fn load_entry(
    engine: &Engine,
    key: &CacheKey,
    identity: &str,
    digest: &str,
    path: &Path,
) -> Option<Component> {
    let entry = match read_capped(path, MAX_ARTIFACT_BYTES) {
        Ok(Some(entry)) => entry,
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!(path = %path.display(), "refusing a precompiled component: {e}; compiling it again");
            return None;
        }
    };
    let Some(artifact) = open(key, identity, digest, &entry) else {
        tracing::warn!(
            path = %path.display(),
            "refusing a precompiled component that does not authenticate for component sha256:{digest} (copied from another component, written without this installation's key, or damaged); compiling it again"
        );
        return None;
    };
    // SAFETY: the bytes carry a valid HMAC under this installation's key
    // over this component's digest, this binary's identity and the bytes
    // themselves: this binary precompiled them from this component. They
    // are the bytes in memory that were checked, not the file again.
    match unsafe { Component::deserialize(engine, artifact) } {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!(path = %path.display(), "discarding an unreadable precompiled component: {e}");
            None
        }
    }
}

/// Read a file whole, refusing one larger than `cap`; `None` when it does not exist.
fn read_capped(path: &Path, cap: u64) -> std::io::Result<Option<Vec<u8>>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut bytes = Vec::new();
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(std::io::Error::other(format!(
            "larger than {} MiB",
            cap >> 20
        )));
    }
    Ok(Some(bytes))
}

/// What this binary is, for the cache: an artifact is only valid for the
/// Stance and wasmtime versions, engine configuration and target that made it.
fn binary_identity(engine: &Engine) -> String {
    let mut h = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!(
        "stance {}; wasmtime {}; engine {:016x}; target {}-{}",
        env!("CARGO_PKG_VERSION"),
        wasmtime_version(),
        h.finish(),
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}

fn cache_key(identity: &str, digest: &str) -> String {
    let mut key = Sha256::new();
    key.update(digest.as_bytes());
    key.update([0]);
    key.update(identity.as_bytes());
    hex::encode(&key.finalize()[..20])
}

/// The MAC of an artifact: over the digest, the identity and the bytes,
/// each length-prefixed so no two inputs share an encoding.
fn tag(key: &CacheKey, identity: &str, digest: &str, artifact: &[u8]) -> HmacSha256 {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&key.0)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(b"stance component cache v1\0");
    for part in [digest.as_bytes(), identity.as_bytes(), artifact] {
        mac.update(&(part.len() as u64).to_le_bytes());
        mac.update(part);
    }
    mac
}

/// An entry: the magic, the tag, the artifact.
fn seal(key: &CacheKey, identity: &str, digest: &str, artifact: &[u8]) -> Vec<u8> {
    let tag = tag(key, identity, digest, artifact).finalize().into_bytes();
    let mut entry = Vec::with_capacity(MAGIC.len() + TAG_LEN + artifact.len());
    entry.extend_from_slice(MAGIC);
    entry.extend_from_slice(&tag);
    entry.extend_from_slice(artifact);
    entry
}

/// The artifact of an entry whose tag verifies (in constant time); `None` otherwise.
fn open<'a>(key: &CacheKey, identity: &str, digest: &str, entry: &'a [u8]) -> Option<&'a [u8]> {
    let rest = entry.strip_prefix(MAGIC.as_slice())?;
    if rest.len() < TAG_LEN {
        return None;
    }
    let (expected, artifact) = rest.split_at(TAG_LEN);
    tag(key, identity, digest, artifact)
        .verify_slice(expected)
        .ok()?;
    Some(artifact)
}

/// The wasmtime version this host was built with (read from `host/Cargo.toml` by the build script).
pub fn wasmtime_version() -> &'static str {
    env!("STANCE_WASMTIME_VERSION")
}

/// Write an entry through a fresh private temporary file (`0600`, created
/// exclusively, so no planted link is followed), then rename it into place.
fn store_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    private_dir(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".cwasm-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Create `dir` (and missing parents) readable by this user only.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(0o700);
        builder.create(dir)?;
        // A directory created before (by an older Stance) is tightened too.
        let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
        if mode != 0o700 {
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
        Ok(())
    }
    #[cfg(not(unix))]
    builder.create(dir)
}

/// Hex SHA-256 of a component's bytes.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The per-installation secret that authenticates cache entries: 32 random
/// bytes, kept as 64 hex digits in a file only its owner may read.
#[derive(Clone)]
pub struct CacheKey([u8; 32]);

impl std::fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CacheKey(…)")
    }
}

impl CacheKey {
    /// A key of this process only (from the system's random source).
    pub fn random() -> std::io::Result<CacheKey> {
        let mut key = [0u8; 32];
        File::open("/dev/urandom")?.read_exact(&mut key)?;
        Ok(CacheKey(key))
    }

    /// The key at `path`, created (with its directory, `0700`) when missing.
    /// Refused when others may read or write it, or it is not a key.
    pub fn load_or_create(path: &Path) -> Result<CacheKey, String> {
        match Self::load(path) {
            Ok(Some(key)) => return Ok(key),
            Ok(None) => {}
            Err(e) => return Err(e),
        }
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let fail =
            |e: std::io::Error| format!("cannot create the cache key {}: {e}", path.display());
        private_dir(dir).map_err(fail)?;
        let key = CacheKey::random().map_err(fail)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".cache-key-")
            .tempfile_in(dir)
            .map_err(fail)?;
        writeln!(tmp, "{}", hex::encode(key.0)).map_err(fail)?;
        tmp.as_file().sync_all().map_err(fail)?;
        match tmp.persist_noclobber(path) {
            Ok(_) => Ok(key),
            // Another process created it first: use theirs.
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Self::load(path)?
                .ok_or_else(|| format!("{} vanished while it was read", path.display())),
            Err(e) => Err(fail(e.error)),
        }
    }

    fn load(path: &Path) -> Result<Option<CacheKey>, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read the cache key {}: {e}", path.display())),
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|e| format!("{}: {e}", path.display()))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(format!(
                    "the cache key {} may be read or written by others (mode {:o}); `chmod 600` it, or delete it to make a new one",
                    path.display(),
                    mode & 0o777
                ));
            }
        }
        let mut key = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut key).map_err(|_| {
            format!(
                "{} is not a cache key (64 hex digits); delete it to make a new one",
                path.display()
            )
        })?;
        Ok(Some(CacheKey(key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "stance test; wasmtime test";

    #[test]
    fn an_entry_opens_only_for_its_component_key_and_binary() {
        let key = CacheKey::random().unwrap();
        let artifact = b"native code".to_vec();
        let entry = seal(&key, ID, "aaaa", &artifact);
        assert_eq!(open(&key, ID, "aaaa", &entry), Some(&artifact[..]));
        // Another component's entry copied over this one's.
        assert_eq!(open(&key, ID, "bbbb", &entry), None);
        // Another binary.
        assert_eq!(open(&key, "stance 0.0.0", "aaaa", &entry), None);
        // Another installation's key.
        assert_eq!(open(&CacheKey::random().unwrap(), ID, "aaaa", &entry), None);
        // A changed byte, a truncation, the old format (a bare artifact).
        let mut bad = entry.clone();
        if let Some(last) = bad.last_mut() {
            *last ^= 1;
        }
        assert_eq!(open(&key, ID, "aaaa", &bad), None);
        assert_eq!(open(&key, ID, "aaaa", &entry[..20]), None);
        assert_eq!(open(&key, ID, "aaaa", &artifact), None);
    }

    #[cfg(unix)]
    #[test]
    fn the_key_is_created_private_once_and_refused_when_others_can_read_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("home/cache.key");
        let first = CacheKey::load_or_create(&path).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("home")), 0o700);
        let again = CacheKey::load_or_create(&path).unwrap();
        assert_eq!(first.0, again.0, "the key persists");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = CacheKey::load_or_create(&path).unwrap_err();
        assert!(err.contains("chmod 600"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, "not hex").unwrap();
        let err = CacheKey::load_or_create(&path).unwrap_err();
        assert!(err.contains("not a cache key"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn entries_are_written_private_in_a_private_directory() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache/components");
        let path = cache.join("x.cwasm");
        store_atomically(&cache, &path, b"entry").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&cache), 0o700);
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), b"entry");
    }
}
