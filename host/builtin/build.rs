//! Builds the plugins that `stance` embeds (for wasm32-wasip2, with a nested
//! cargo in its own target directory) and lists the built-in policy files,
//! Sigma rules, framework catalogues and plugin templates.
//!
//! This crate has no dependencies, so cargo runs this script within seconds
//! of a cold build's start: a toolchain without the wasm32-wasip2 target is
//! found (and, where rustup is present, given the target) before the long
//! build of the host's dependencies, not after it.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target the embedded plugins are built for.
const WASM_TARGET: &str = "wasm32-wasip2";

/// Embedded plugins: (package, artifact stem). Each is built by a cargo of
/// its own: a policy and a detector plugin must not unify features.
const GUESTS: &[(&str, &str)] = &[
    (
        "stance-yaml-policy-component",
        "stance_yaml_policy_component",
    ),
    ("stance-sigma-component", "stance_sigma_component"),
];

/// The built-in Sigma rules live here (not a YAML policy directory).
const SIGMA_DIR: &str = "policies/cloudtrail";

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .ancestors()
        .nth(2)
        .expect("host/builtin sits two levels below the workspace root")
        .to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));

    for watched in [
        "plugins/yaml-policy",
        "plugins/sigma",
        "host/model",
        "sdk/rust",
        "wit",
        "policies",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    ensure_wasm_target();
    list_policies(&root, &out_dir);
    list_templates(&root, &out_dir);
    build_guests(&root, &out_dir);
}

/// Make sure the toolchain building us can build for wasm32-wasip2: add the
/// target with rustup when it is missing (rust-toolchain.toml lists it, but
/// rustup adds listed targets only when it installs the toolchain itself),
/// or stop at once with the one command to run.
fn ensure_wasm_target() {
    if target_installed() {
        return;
    }
    let toolchain = env::var("RUSTUP_TOOLCHAIN").ok();
    let mut cmd = Command::new("rustup");
    cmd.args(["target", "add", WASM_TARGET]);
    if let Some(t) = &toolchain {
        cmd.args(["--toolchain", t]);
    }
    let remedy = match &toolchain {
        Some(t) => format!("rustup target add {WASM_TARGET} --toolchain {t}"),
        None => format!("rustup target add {WASM_TARGET}"),
    };
    println!(
        "cargo:warning=the {WASM_TARGET} target is missing from this Rust toolchain; adding it: {remedy}"
    );
    match cmd.status() {
        Ok(status) if status.success() && target_installed() => {}
        Ok(status) => panic!(
            "the plugins embedded in stance are built for {WASM_TARGET}, which this Rust toolchain lacks, \
             and `{remedy}` failed ({status}); run it by hand (it needs rustup's download server), then build again"
        ),
        Err(e) => panic!(
            "the plugins embedded in stance are built for {WASM_TARGET}, which this Rust toolchain lacks, \
             and rustup could not be run ({e}); install the target for this toolchain ({remedy}), then build again"
        ),
    }
}

/// Does the sysroot of the compiler cargo gave us hold the wasm target's std?
fn target_installed() -> bool {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(out) = Command::new(rustc).args(["--print", "sysroot"]).output() else {
        return false;
    };
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Path::new(&sysroot)
        .join("lib/rustlib")
        .join(WASM_TARGET)
        .join("lib")
        .is_dir()
}

fn list_policies(root: &Path, out_dir: &Path) {
    let mut code = String::new();
    for (name, dir, skip) in [
        ("POLICIES", "policies", "frameworks"),
        ("FRAMEWORKS", "policies/frameworks", ""),
        ("SIGMA_RULES", SIGMA_DIR, ""),
    ] {
        let mut files = Vec::new();
        collect_yaml(&root.join(dir), skip, &mut files);
        files.sort();
        writeln!(code, "static {name}: &[(&str, &str)] = &[").expect("write");
        for f in &files {
            let rel = f
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .replace('\\', "/");
            writeln!(
                code,
                "    ({rel:?}, include_str!({:?})),",
                f.display().to_string()
            )
            .expect("write");
        }
        code.push_str("];\n");
    }
    fs::write(out_dir.join("builtin_policies.rs"), code).expect("write builtin_policies.rs");
}

/// The scaffolds of `stance plugin new` (sdk/templates/LANG/WORLD/...), as
/// `TEMPLATES: &[(relative path, contents)]`.
fn list_templates(root: &Path, out_dir: &Path) {
    let dir = root.join("sdk/templates");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files = Vec::new();
    walk_files(&dir, &mut files);
    files.sort();
    let mut code = String::from("static TEMPLATES: &[(&str, &str)] = &[\n");
    for f in &files {
        let rel = f
            .strip_prefix(&dir)
            .expect("under templates")
            .to_string_lossy()
            .replace('\\', "/");
        writeln!(
            code,
            "    ({rel:?}, include_str!({:?})),",
            f.display().to_string()
        )
        .expect("write");
    }
    code.push_str("];\n");
    fs::write(out_dir.join("templates.rs"), code).expect("write templates.rs");
}

fn walk_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// `*.yaml`/`*.yml` anywhere under `dir`, except test cases under `tests/`
/// and the directory named `skip` (framework catalogues are not policies);
/// the Sigma rules are listed apart from the YAML policies.
fn collect_yaml(dir: &Path, skip: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.ends_with(SIGMA_DIR) && skip == "frameworks" {
                continue;
            }
            if path.file_name().is_some_and(|n| n != "tests" && n != skip) {
                collect_yaml(&path, skip, out);
            }
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

/// The target directory cargo is building into (the ancestor of OUT_DIR holding CACHEDIR.TAG).
fn target_root(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|p| p.join("CACHEDIR.TAG").is_file())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| out_dir.to_path_buf())
}

fn build_guests(root: &Path, out_dir: &Path) {
    let target_dir = target_root(out_dir).join("wasm-guests");
    for (package, stem) in GUESTS {
        build_guest(root, out_dir, &target_dir, package, stem);
    }
}

fn build_guest(root: &Path, out_dir: &Path, target_dir: &Path, package: &str, stem: &str) {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--target")
        .arg(WASM_TARGET)
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .arg("-p")
        .arg(package);
    // Flags meant for the host target must not leak into the wasm build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_RUSTFLAGS",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "true");
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the embedded plugins: {e}"));
    if !status.success() {
        panic!("building the embedded plugins for {WASM_TARGET} failed (see above)");
    }
    let artifact = target_dir
        .join(WASM_TARGET)
        .join("release")
        .join(format!("{stem}.wasm"));
    fs::copy(&artifact, out_dir.join(format!("{stem}.wasm")))
        .unwrap_or_else(|e| panic!("copy {}: {e}", artifact.display()));
}
