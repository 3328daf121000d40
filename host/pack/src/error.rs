//! The one error type of the crate, for every step of a pack's life. Every
//! refusal names the pack (as `name@version`, or the archive's source when
//! the manifest is unreadable), the file concerned, the reason and the fix,
//! so the host can print it as is.
//!
//! Text taken from an archive, a manifest or a lock file (paths, TOML
//! parser messages that quote a line) can carry terminal control
//! sequences: every field is shown through [`printable`], so no message of
//! this crate ever writes a raw control character.
//!
//! It never prints, logs or exits: the host decides what to do with an
//! error.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// `text` safe to print on a terminal: every control character (C0, DEL,
/// C1 such as the 8-bit CSI) and every bidirectional override is written as
/// a Rust escape (`\u{1b}`); line breaks stay when `keep_newlines` (for
/// multi-line parser messages), and are escaped too otherwise (names).
pub fn printable(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && !(keep_newlines && c == '\n'))
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A name (a path, a pack label, a source) as one printable line.
fn line(text: &str) -> Cow<'_, str> {
    printable(text, false)
}

/// A message (possibly a parser's, over several lines) made printable.
fn msg(text: &str) -> Cow<'_, str> {
    printable(text, true)
}

/// A path as one printable line.
fn path_line(path: &Path) -> String {
    line(&path.display().to_string()).into_owned()
}

/// Why a pack operation failed or a pack was refused.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path_line(.path))]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// What the operating system reported.
        #[source]
        source: std::io::Error,
    },

    /// `stance-pack.toml` (or a manifest inside an archive) is invalid.
    #[error("{}: {}", line(.file), msg(.message))]
    Manifest {
        /// The manifest's path, or `source: stance-pack.toml` inside an archive.
        file: String,
        /// The field (or line) at fault and what to write instead.
        message: String,
    },

    /// `build` could not turn a directory into an archive.
    #[error("cannot build pack in {}: {}", path_line(.dir), msg(.message))]
    Build {
        /// The pack directory.
        dir: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },

    /// The bytes are not a Stance pack archive at all.
    #[error("{}: not a Stance pack archive: {}", line(.source_name), msg(.reason))]
    NotAnArchive {
        /// Where the bytes came from (a path or a reference).
        source_name: String,
        /// Why they are not an archive.
        reason: String,
    },

    /// The archive was changed after it was built (or after it was signed).
    #[error("pack {} refused: {} was tampered with: {}", line(.pack), line(.file), msg(.reason))]
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
        "pack {} refused: it is not signed (the archive has no `{file}` entry); sign it with `stance pack sign`, or pass --allow-unsigned for local development only", line(.pack)
    )]
    Unsigned {
        /// `name@version (source)`.
        pack: String,
        /// The missing entry, `signature`.
        file: String,
    },

    /// The signature was made by a key that is not among the trusted keys.
    #[error(
        "pack {} refused: {file}: signed by key {key_id}, which is not among the trusted keys; if you trust its publisher, trust the public key with `stance key trust FILE.pub` (for you) or `stance key trust --project DIR FILE.pub` (for one project), or pass it with --key", line(.pack)
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
        "pack {} refused: {file}: the signature by key {key_id} does not match the digests index and manifest: the pack was changed after it was signed", line(.pack)
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
        "pack {} refused: {file}: requires WIT {required}, but this Stance provides {host}; use a version of the pack built for {host}", line(.pack)
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
        "pack {} refused: {file}: requires Stance {required} or newer, but this is Stance {running}; upgrade Stance or use an older version of the pack", line(.pack)
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
    #[error("key {}: {}", path_line(.path), msg(.reason))]
    Key {
        /// The key file (or the source a key was read from).
        path: PathBuf,
        /// What is wrong and how to fix it.
        reason: String,
    },

    /// The directory of installed packs refused an operation.
    #[error("pack directory {}: {}", path_line(.dir), msg(.reason))]
    PackDir {
        /// The directory of installed packs.
        dir: PathBuf,
        /// What was refused and how to proceed.
        reason: String,
    },

    /// `name@range` does not parse.
    #[error("invalid pack reference `{}`: {}", line(.spec), msg(.reason))]
    Spec {
        /// The reference as written.
        spec: String,
        /// What is wrong with it and what to write instead.
        reason: String,
    },

    /// No set of versions satisfies every requirement.
    #[error("cannot resolve packs: {}", msg(.0))]
    Resolve(String),

    /// `stance.lock` is invalid or disagrees with what is installed.
    #[error("{}: {}", path_line(.path), msg(.reason))]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_never_reach_a_message() {
        assert_eq!(printable("plain\ntext", true), "plain\ntext");
        assert_eq!(printable("a\x1b[2Jb", true), "a\\u{1b}[2Jb");
        assert_eq!(
            printable("x\u{9b}31m\u{202e}", true),
            "x\\u{9b}31m\\u{202e}"
        );
        assert_eq!(printable("two\nlines", false), "two\\u{a}lines");
        let err = crate::Manifest::parse("[pack]\nname = \x1b]0;pwned\x07\n", "a\x1b.toml")
            .unwrap_err()
            .to_string();
        assert!(!err.contains('\x1b') && !err.contains('\x07'), "{err:?}");
        assert!(
            err.contains("a\\u{1b}.toml") && err.contains("\\u{7}"),
            "{err}"
        );
    }
}
