//! What the integration tests of this crate share.

/// This package's directory: cargo's run-time `CARGO_MANIFEST_DIR` (a test
/// binary reused from another checkout's build, through a shared target
/// directory, still reads this checkout), else the one it was built in.
pub fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}
