//! The one error type of the crate, for every step of a pack's life. Every
//! refusal names the pack (as `name@version`, or the archive's source when
//! the manifest is unreadable), the file concerned, the reason and the fix,
//! so the host can print it as is.
//!
//! It never prints, logs or exits: the host decides what to do with an
//! error.

use std::path::PathBuf;

/// Why a pack operation failed or a pack was refused.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// What the operating system reported.
        #[source]
        source: std::io::Error,
    },

    /// `stance-pack.toml` (or a manifest inside an archive) is invalid.
    #[error("{file}: {message}")]
    Manifest {
        /// The manifest's path, or `source: stance-pack.toml` inside an archive.
        file: String,
        /// The field (or line) at fault and what to write instead.
        message: String,
    },

    /// `build` could not turn a directory into an archive.
    #[error("cannot build pack in {}: {message}", dir.display())]
    Build {
        /// The pack directory.
        dir: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },

    /// The bytes are not a Stance pack archive at all.
    #[error("{source_name}: not a Stance pack archive: {reason}")]
    NotAnArchive {
        /// Where the bytes came from (a path or a reference).
        source_name: String,
        /// Why they are not an archive.
        reason: String,
    },

    /// The archive was changed after it was built (or after it was signed).
    #[error("pack {pack} refused: {file} was tampered with: {reason}")]
    Tampered {
        /// `name@version (source)`, or the source when the manifest is unreadable.
        pack: String,
        /// The entry that was changed, or `(gzip stream)`, `(tar stream)`…
        file: String,
        /// What differs from what was built or signed.
        reason: String,
    },

    /// The archive carries no signature and unsigned packs were not allowed.
    #[error(
        "pack {pack} refused: it is not signed (the archive has no `{file}` entry); sign it with `stance pack sign`, or pass --allow-unsigned for local development only"
    )]
    Unsigned {
        /// `name@version (source)`.
        pack: String,
        /// The missing entry, `signature`.
        file: String,
    },

    /// The signature was made by a key that is not among the trusted keys.
    #[error(
        "pack {pack} refused: {file}: signed by key {key_id}, which is not among the trusted keys; add its public key to the trusted keys or pass it with --key"
    )]
    UntrustedKey {
        /// `name@version (source)`.
        pack: String,
        /// The signature entry, `signature`.
        file: String,
        /// The id of the key that signed the pack.
        key_id: String,
    },

    /// The signature does not verify with the trusted key of the same id.
    #[error(
        "pack {pack} refused: {file}: the signature by key {key_id} does not match the digests index and manifest: the pack was changed after it was signed"
    )]
    BadSignature {
        /// `name@version (source)`.
        pack: String,
        /// The signature entry, `signature`.
        file: String,
        /// The id of the trusted key the signature claims.
        key_id: String,
    },

    /// The pack needs a WIT contract this Stance does not provide.
    #[error(
        "pack {pack} refused: {file}: requires WIT {required}, but this Stance provides {host}; use a version of the pack built for {host}"
    )]
    IncompatibleWit {
        /// `name@version (source)`.
        pack: String,
        /// The manifest, `stance-pack.toml`.
        file: String,
        /// The WIT package and version the pack was built against.
        required: String,
        /// The WIT package and version this Stance provides.
        host: String,
    },

    /// The pack needs a newer Stance.
    #[error(
        "pack {pack} refused: {file}: requires Stance {required} or newer, but this is Stance {running}; upgrade Stance or use an older version of the pack"
    )]
    IncompatibleStance {
        /// `name@version (source)`.
        pack: String,
        /// The manifest, `stance-pack.toml`.
        file: String,
        /// The pack's `min-stance-version`.
        required: String,
        /// The running Stance version.
        running: String,
    },

    /// A key file is missing, malformed or would be overwritten.
    #[error("key {}: {reason}", path.display())]
    Key {
        /// The key file (or the source a key was read from).
        path: PathBuf,
        /// What is wrong and how to fix it.
        reason: String,
    },

    /// The directory of installed packs refused an operation.
    #[error("pack directory {}: {reason}", dir.display())]
    PackDir {
        /// The directory of installed packs.
        dir: PathBuf,
        /// What was refused and how to proceed.
        reason: String,
    },

    /// `name@range` does not parse.
    #[error("invalid pack reference `{spec}`: {reason}")]
    Spec {
        /// The reference as written.
        spec: String,
        /// What is wrong with it and what to write instead.
        reason: String,
    },

    /// No set of versions satisfies every requirement.
    #[error("cannot resolve packs: {0}")]
    Resolve(String),

    /// `stance.lock` is invalid or disagrees with what is installed.
    #[error("{}: {reason}", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        reason: String,
    },
}

impl PackError {
    /// An I/O failure on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        PackError::Io {
            path: path.into(),
            source,
        }
    }

    /// True for the refusals of `verify` (as opposed to I/O or usage errors).
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            PackError::NotAnArchive { .. }
                | PackError::Tampered { .. }
                | PackError::Unsigned { .. }
                | PackError::UntrustedKey { .. }
                | PackError::BadSignature { .. }
                | PackError::IncompatibleWit { .. }
                | PackError::IncompatibleStance { .. }
        )
    }
}
