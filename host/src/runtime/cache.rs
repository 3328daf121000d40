//! The on-disk cache of precompiled components. An entry is keyed by the
//! component's digest, the wasmtime version and the engine's configuration,
//! so a stale or foreign artifact is never loaded.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where precompiled components live (`Settings::cache_dir`: `STANCE_CACHE_DIR`,
/// else `~/.cache/stance`), or nowhere when caching is off.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: Option<PathBuf>,
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

impl ComponentCache {
    /// The cache under `dir` (its `components/`), or no cache.
    pub fn new(dir: Option<&Path>) -> ComponentCache {
        ComponentCache {
            dir: dir.map(|d| d.join("components")),
        }
    }

    /// The cache under `dir` (its `components/`).
    pub fn at(dir: &Path) -> ComponentCache {
        ComponentCache {
            dir: Some(dir.join("components")),
        }
    }

    /// No cache: every load compiles.
    pub fn disabled() -> ComponentCache {
        ComponentCache { dir: None }
    }

    /// The directory of precompiled artifacts (`DIR/components`); `None` when caching is off.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Compile `bytes` or load its precompiled artifact.
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
        let path = dir.join(format!("{}.cwasm", cache_key(engine, digest)));
        if path.is_file() {
            // SAFETY: the file was written by `precompile_component` of an
            // engine with the same version and configuration (both are in
            // the key), in a directory only this user writes to.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(c) => return Ok((c, CacheOutcome::Hit(start.elapsed()))),
                Err(e) => tracing::warn!(
                    path = %path.display(),
                    "discarding an unreadable precompiled component: {e}"
                ),
            }
        }
        let artifact = engine.precompile_component(bytes)?;
        // SAFETY: the artifact was produced just now by this engine.
        let component = unsafe { Component::deserialize(engine, &artifact)? };
        if let Err(e) = store_atomically(dir, &path, &artifact) {
            tracing::warn!(dir = %dir.display(), "cannot write the component cache: {e}");
        }
        Ok((component, CacheOutcome::Miss(start.elapsed())))
    }
}

fn cache_key(engine: &Engine, digest: &str) -> String {
    let mut h = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    let mut key = Sha256::new();
    key.update(digest.as_bytes());
    key.update(env!("CARGO_PKG_VERSION").as_bytes());
    key.update(wasmtime_version().as_bytes());
    key.update(h.finish().to_le_bytes());
    hex::encode(&key.finalize()[..20])
}

/// The wasmtime version this host was built with (read from `host/Cargo.toml` by the build script).
pub fn wasmtime_version() -> &'static str {
    env!("STANCE_WASMTIME_VERSION")
}

fn store_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("cwasm"),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Hex SHA-256 of a component's bytes.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
