//! Rule packs in the running Stance, along a pack's life: where installed
//! packs and trusted keys live, the versions a pack must be compatible
//! with, how a command trusts packs, and fetching archives (files, https,
//! OCI registries) to install them.
//!
//! The formats, signatures, installed-pack directory and resolver are the
//! `stance-pack` crate (host/pack); this module only places them
//! (docs/packs.md). Turning installed packs into rule sources is the
//! catalog's (`catalog::packs`). It never runs anything: a pack's plugins go
//! to the runtime like any other plugin.

pub mod fetch;
#[cfg(feature = "oci")]
pub mod oci;

use std::path::{Path, PathBuf};

use stance_pack::{HostVersions, LOCK_FILE, PackDir, PublicKey, VerifiedPack, VerifyOptions};

pub use fetch::{NetOptions, PackSource, fetch, is_loopback};

/// The installed packs under `pack_dir` (`Settings::pack_dir`).
pub fn installed(pack_dir: &Path) -> PackDir {
    PackDir::new(pack_dir.to_path_buf())
}

/// Per-project trusted keys: `<project>/.stance/keys/*.pub`.
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

/// How packs are trusted for one command.
#[derive(Debug, Clone, Default)]
pub struct TrustConfig {
    /// The project directory (its `.stance/keys` and `stance.lock`).
    pub project: PathBuf,
    /// Public key files given on the command line (`--key`), trusted in
    /// addition to the configured directories.
    pub keys: Vec<PathBuf>,
    /// Per-user trusted keys (`Settings::user_keys_dir`).
    pub user_keys: PathBuf,
    /// Accept packs without a signature (`--allow-unsigned`).
    pub allow_unsigned: bool,
}

impl TrustConfig {
    /// Every trusted key: `--key` files, then the project's, then the user's.
    pub fn trusted_keys(&self) -> anyhow::Result<Vec<PublicKey>> {
        let mut keys = Vec::new();
        for path in &self.keys {
            keys.push(stance_pack::load_public_key(path)?);
        }
        keys.extend(stance_pack::load_public_keys_dir(&project_keys_dir(
            &self.project,
        ))?);
        keys.extend(stance_pack::load_public_keys_dir(&self.user_keys)?);
        Ok(keys)
    }

    /// What verifying a pack needs: the trusted keys, whether unsigned packs
    /// pass, and this Stance's versions; fails when a key file cannot be read
    /// or is not a public key.
    pub fn verify_options(&self) -> anyhow::Result<VerifyOptions> {
        Ok(VerifyOptions {
            trusted_keys: self.trusted_keys()?,
            allow_unsigned: self.allow_unsigned,
            host: host_versions(),
        })
    }

    /// Where trusted keys are looked up, for messages.
    pub fn key_locations(&self) -> String {
        let mut places: Vec<String> = self.keys.iter().map(|p| p.display().to_string()).collect();
        places.push(format!(
            "{}/*.pub",
            project_keys_dir(&self.project).display()
        ));
        places.push(format!("{}/*.pub", self.user_keys.display()));
        places.join(", ")
    }
}

/// Prints the loud warning of a pack accepted unsigned, every time.
pub fn warn_if_unsigned(pack: &VerifiedPack) {
    if let Some(w) = pack.warning() {
        eprintln!("{w}");
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
