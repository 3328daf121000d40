//! Shared helpers: the built `stance` binary, wasm guests built from source
//! in this test run, and an isolated environment (database, cache) per test.

/// Results of the built-in pack on `examples/demo-account.json`, as designed
/// by the policy case files and the demo's notes: tests compare against these.
pub const DEMO_PASS: u64 = 602;
pub const DEMO_FAIL: u64 = 118;
pub const DEMO_RESULTS: u64 = DEMO_PASS + DEMO_FAIL;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

pub fn root() -> PathBuf {
    manifest_dir().parent().unwrap().to_path_buf()
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

/// The venv holding moto and boto3, installed by `tests/run.sh` (or `tests/aws/moto.sh install`).
#[cfg_attr(not(feature = "aws"), allow(dead_code))] // used by the AWS tests only
pub fn venv_python() -> PathBuf {
    let venv = std::env::var_os("STANCE_MOTO_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| dirs::home_dir().unwrap().join(".cache/stance-build/venv"));
    let python = venv.join("bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run tests/run.sh (or tests/aws/moto.sh install) to install moto",
        python.display()
    );
    python
}

/// A moto server on 127.0.0.1, started by `tests/aws/moto.sh` and stopped on drop.
#[cfg_attr(not(feature = "aws"), allow(dead_code))] // used by the AWS tests only
pub struct Moto {
    pub port: u16,
}

#[cfg_attr(not(feature = "aws"), allow(dead_code))] // used by the AWS tests only
impl Moto {
    pub fn start(env: &[(&str, &str)]) -> Moto {
        venv_python();
        let out = Command::new(root().join("tests/aws/moto.sh"))
            .arg("start")
            .envs(env.iter().copied())
            .output()
            .expect("run tests/aws/moto.sh");
        assert!(
            out.status.success(),
            "moto did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("moto.sh prints the port");
        Moto { port }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Run `tests/aws/seed.py` (or another script there) against this server; returns its JSON manifest.
    pub fn seed(&self, script: &str, args: &[&str]) -> Value {
        let out = Command::new(venv_python())
            .arg(root().join("tests/aws").join(script))
            .arg("--endpoint")
            .arg(self.endpoint())
            .args(args)
            .output()
            .expect("run the seed");
        assert!(
            out.status.success(),
            "{script} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("the seed prints a JSON manifest")
    }

    /// Point a stance command at this server with credentials of its own.
    pub fn env(&self, cmd: &mut Command) {
        cmd.env("AWS_ENDPOINT_URL", self.endpoint())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            // moto answers unimplemented operations with HTTP 500, which the
            // SDK would retry six times; two attempts keep the tests quick.
            .env("AWS_MAX_ATTEMPTS", "2");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = Command::new(root().join("tests/aws/moto.sh"))
            .args(["stop", &self.port.to_string()])
            .output();
    }
}

/// This package's directory: cargo's run-time `CARGO_MANIFEST_DIR` (a test
/// binary reused from another checkout's build, through a shared target
/// directory, still reads this checkout), else the one it was built in.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}
