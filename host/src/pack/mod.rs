//! Rule packs in the running Stance, along a pack's life: where installed
//! packs and trusted keys live, the versions a pack must be compatible
//! with, how a command trusts packs (`trust`: never by a file's mere
//! presence), and fetching archives (files, https, OCI registries) to
//! install them, every download bounded (`fetch`, `registry`).
//!
//! The formats, signatures, installed-pack directory and resolver are the
//! `stance-pack` crate (host/pack); this module only places them
//! (docs/packs.md). Turning installed packs into rule sources is the
//! catalog's (`catalog::packs`). It never runs anything: a pack's plugins go
//! to the runtime like any other plugin.

pub mod fetch;
#[cfg(feature = "oci")]
pub mod oci;
#[cfg(feature = "oci")]
pub mod registry;
pub mod trust;

use std::path::{Path, PathBuf};

use stance_pack::{HostVersions, LOCK_FILE, PackDir, PackError, VerifiedPack};

pub use fetch::{NetOptions, PackSource, fetch, is_loopback};
pub use trust::{ProjectKeys, TrustConfig};

/// The installed packs under `pack_dir` (`Settings::pack_dir`).
pub fn installed(pack_dir: &Path) -> PackDir {
    PackDir::new(pack_dir.to_path_buf())
}

/// Where a project ships its public keys: `<project>/.stance/keys/*.pub`
/// (trusted only as `trust` says, never by presence).
pub fn project_keys_dir(project: &Path) -> PathBuf {
    project.join(".stance").join("keys")
}

/// The project lock file: `<project>/stance.lock`.
pub fn lock_path(project: &Path) -> PathBuf {
    project.join(LOCK_FILE)
}

/// The WIT contract and Stance version packs are checked against.
pub fn host_versions() -> HostVersions {
    HostVersions {
        wit: format!("stance:plugin@{}", crate::runtime::WIT_VERSION)
            .parse()
            .expect("the runtime's WIT version is a valid WIT package version"),
        stance: semver::Version::parse(env!("CARGO_PKG_VERSION"))
            .expect("the crate version is semver"),
    }
}

/// A refusal of `verify` or `install`, with what to do when the key that
/// signed the pack sits untrusted in the project, or is trusted for the
/// project only while the pack is being installed for every project.
pub fn explain_refusal(e: PackError, trust: &TrustConfig, installing: bool) -> anyhow::Error {
    let PackError::UntrustedKey { key_id, .. } = &e else {
        return e.into();
    };
    let project_trusted = trust
        .project_trusted_keys()
        .map(|keys| keys.iter().any(|k| k.id().as_str() == key_id.as_str()))
        .unwrap_or(false);
    let project = std::fs::canonicalize(&trust.project).unwrap_or_else(|_| trust.project.clone());
    let note = if installing && project_trusted {
        format!(
            "key {key_id} is trusted for the project {} only; installing into the per-user pack directory needs a key you trust for all your projects (`stance key trust FILE.pub`, or --key)",
            project.display()
        )
    } else if let Some(file) = trust.untrusted_project_key_files(key_id).first() {
        format!(
            "{} holds key {key_id}, but a key in a project directory is not trusted because it is there; if you trust it for this project, run `stance key trust --project {} {}`",
            file.display(),
            trust.project.display(),
            file.display()
        )
    } else {
        return e.into();
    };
    anyhow::Error::from(e).context(note)
}

/// Prints the loud warning of a pack accepted unsigned, every time.
pub fn warn_if_unsigned(pack: &VerifiedPack) {
    if let Some(w) = pack.warning() {
        crate::say_err!("{w}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_versions_are_the_runtime_s() {
        let v = host_versions();
        assert_eq!(
            v.wit.to_string(),
            format!("stance:plugin@{}", crate::runtime::WIT_VERSION)
        );
    }
}
