//! The one error type of the crate. Every refusal names the pack (as
//! `name@version`, or the archive's source when the manifest is unreadable),
//! the file concerned and the reason, so the CLI can print it as is.

use std::path::PathBuf;

/// Why a pack operation failed or a pack was refused.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// `stance-pack.toml` (or a manifest inside an archive) is invalid.
    #[error("{file}: {message}")]
    Manifest { file: String, message: String },

    /// `build` could not turn a directory into an archive.
    #[error("cannot build pack in {}: {message}", dir.display())]
    Build { dir: PathBuf, message: String },

    /// The bytes are not a Stance pack archive at all.
    #[error("{source_name}: not a Stance pack archive: {reason}")]
    NotAnArchive { source_name: String, reason: String },

    /// The archive was changed after it was built (or after it was signed).
    #[error("pack {pack} refused: {file} was tampered with: {reason}")]
    Tampered {
        pack: String,
        file: String,
        reason: String,
    },

    /// The archive carries no signature and unsigned packs were not allowed.
    #[error(
        "pack {pack} refused: it is not signed (the archive has no `{file}` entry); sign it with `stance pack sign`, or pass --allow-unsigned for local development only"
    )]
    Unsigned { pack: String, file: String },

    /// The signature was made by a key that is not among the trusted keys.
    #[error(
        "pack {pack} refused: {file}: signed by key {key_id}, which is not among the trusted keys; add its public key to the trusted keys or pass it with --key"
    )]
    UntrustedKey {
        pack: String,
        file: String,
        key_id: String,
    },

    /// The signature does not verify with the trusted key of the same id.
    #[error(
        "pack {pack} refused: {file}: the signature by key {key_id} does not match the digests index and manifest: the pack was changed after it was signed"
    )]
    BadSignature {
        pack: String,
        file: String,
        key_id: String,
    },

    /// The pack needs a WIT contract this Stance does not provide.
    #[error(
        "pack {pack} refused: {file}: requires WIT {required}, but this Stance provides {host}; use a version of the pack built for {host}"
    )]
    IncompatibleWit {
        pack: String,
        file: String,
        required: String,
        host: String,
    },

    /// The pack needs a newer Stance.
    #[error(
        "pack {pack} refused: {file}: requires Stance {required} or newer, but this is Stance {running}; upgrade Stance or use an older version of the pack"
    )]
    IncompatibleStance {
        pack: String,
        file: String,
        required: String,
        running: String,
    },

    /// A key file is missing, malformed or would be overwritten.
    #[error("key {}: {reason}", path.display())]
    Key { path: PathBuf, reason: String },

    /// The local pack store refused an operation.
    #[error("pack store {}: {reason}", store.display())]
    Store { store: PathBuf, reason: String },

    /// `name@range` does not parse.
    #[error("invalid pack reference `{spec}`: {reason}")]
    Spec { spec: String, reason: String },

    /// No set of versions satisfies every requirement.
    #[error("cannot resolve packs: {0}")]
    Resolve(String),

    /// `stance.lock` is invalid or disagrees with what is installed.
    #[error("{}: {reason}", path.display())]
    Lock { path: PathBuf, reason: String },
}

impl PackError {
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
