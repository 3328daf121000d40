//! `STANCE_WASMTIME_VERSION`, from the exact pin in host/Cargo.toml: the
//! component cache keys precompiled artifacts on it.

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
}
