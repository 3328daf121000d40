//! Shared helpers: the built `stance` binary, wasm guests built from source
//! in this test run, and an isolated environment (database, cache) per test.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn demo() -> PathBuf {
    root().join("examples/demo-account.json")
}

fn stance_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_stance"))
}

/// The directory guests are built into: beside the host's, as `host/build.rs` does.
fn guest_target_dir() -> PathBuf {
    let bin = stance_bin();
    let profile_dir = bin.parent().unwrap();
    profile_dir.parent().unwrap().join("wasm-guests")
}

/// Build a guest crate of the workspace for wasm32-wasip2 (once per test run)
/// and return the component's path.
pub fn guest(package: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(|| Mutex::new(HashMap::new()));
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = built.get(package) {
        return p.clone();
    }
    let target = guest_target_dir();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "-p",
            package,
        ])
        .arg("--manifest-path")
        .arg(root().join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        // The same profile settings as host/build.rs, so both share artifacts.
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "true")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .status()
        .expect("run cargo");
    assert!(status.success(), "building guest {package} failed");
    let path = target
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", package.replace('-', "_")));
    assert!(path.is_file(), "{} missing", path.display());
    built.insert(package.to_string(), path.clone());
    path
}

/// A cache of precompiled components shared by the tests of this run.
fn shared_cache() -> &'static Path {
    static CACHE: OnceLock<tempfile::TempDir> = OnceLock::new();
    CACHE.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

/// An isolated database and cache for one test.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub cache: PathBuf,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        Env {
            db: dir.path().join("stance.db"),
            cache: shared_cache().to_path_buf(),
            dir,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(stance_bin());
        for (k, _) in std::env::vars() {
            if k.starts_with("STANCE_") {
                c.env_remove(k);
            }
        }
        c.env("STANCE_DB_PATH", &self.db)
            .env("STANCE_CACHE_DIR", &self.cache)
            .env("NO_COLOR", "1")
            .current_dir(root());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run stance")
    }

    /// Run and parse stdout as JSON; panics with stderr when it is not.
    pub fn json(&self, args: &[&str]) -> (i32, Value) {
        let out = self.run(args);
        let code = out.status.code().unwrap_or(-1);
        let value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "stance {args:?} exited {code} without JSON ({e}):\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (code, value)
    }

    /// Write a plugin.toml for a component with the given extra TOML lines.
    pub fn manifest(&self, name: &str, component: &Path, body: &str) -> PathBuf {
        let path = self.path(&format!("{name}.toml"));
        std::fs::write(
            &path,
            format!("path = {:?}\n{body}\n", component.display().to_string()),
        )
        .unwrap();
        path
    }
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn count(v: &Value, key: &str) -> u64 {
    v["scan"]["totals"]["by_status"][key].as_u64().unwrap_or(0)
}
