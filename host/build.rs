//! Build settings of the `stance` binary:
//!
//! - `STANCE_WASMTIME_VERSION`, from the exact pin in host/Cargo.toml: the
//!   component cache keys precompiled artifacts on it.
//! - On x86_64 Linux (linked by rust-lld, the toolchain's default there),
//!   two link options for the binary only: `--icf=all` folds identical
//!   functions (the AWS SDK, built unoptimised, instantiates many copies of
//!   the same code: 10 MB less) and `-no-pie` drops the run-time
//!   relocations of a position-independent executable (7 MB less).
//!   BENCHMARKS.md, "Binary size", has the measurements.

use std::env;
use std::fs;

fn main() {
    println!("cargo:rerun-if-changed=Cargo.toml");
    let text = fs::read_to_string("Cargo.toml").expect("read host/Cargo.toml");
    let version = text
        .lines()
        .find(|l| l.starts_with("wasmtime = "))
        .and_then(|l| l.split("version = \"=").nth(1))
        .and_then(|rest| rest.split('"').next())
        .expect("host/Cargo.toml pins wasmtime with version = \"=X.Y.Z\"");
    println!("cargo:rustc-env=STANCE_WASMTIME_VERSION={version}");

    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    // A linker chosen by hand (RUSTFLAGS naming one) may not be lld.
    let own_linker = env::var("CARGO_ENCODED_RUSTFLAGS").is_ok_and(|f| f.contains("linker"));
    if os == "linux" && arch == "x86_64" && !own_linker {
        println!("cargo:rustc-link-arg-bins=-Wl,--icf=all");
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
