//! Stance rule packs as a pure library. A pack is a directory with a
//! manifest, built into one deterministic archive, signed with Ed25519,
//! verified before anything in it runs, installed side by side by version
//! and pinned by a project's `stance.lock`; docs/packs.md describes every
//! format. The modules follow that life, in order:
//!
//! 1. **manifest** ([`manifest`]): `stance-pack.toml`, what a pack is,
//!    carries and needs; [`init`] writes a starter one.
//! 2. **build** ([`archive`], [`digest`]): [`build`] turns the directory
//!    into a canonical `.tar.gz` whose `digests` entry ([`DigestIndex`])
//!    lists the SHA-256 of every file.
//! 3. **sign** ([`keys`], [`trust`]): [`generate_key`] writes a key pair;
//!    [`sign`] adds the `signature` entry over the index and the manifest.
//! 4. **verify** ([`archive`], [`trust`]): [`PackArchive::from_bytes`]
//!    checks integrity with no key; [`verify`] reads the archive's head
//!    first and checks the signature against the caller's trusted keys
//!    before any of the payload is inflated, then integrity, then the
//!    pack's WIT and Stance versions against the host's: the one gate,
//!    which yields a [`VerifiedPack`]. Reading is streamed and bounded
//!    whatever the archive claims (`reader`).
//! 5. **install / installed** ([`installed`]): [`PackDir::install`] keeps a
//!    verified archive under `<pack-dir>/<name>/<version>/`; [`PackDir::load`]
//!    verifies it again before use.
//! 6. **lock / resolve** ([`lock`]): [`resolve`] and [`update`] choose one
//!    version per pack within every semver range and write a [`Lock`].
//!
//! Every failure is a [`PackError`] ([`error`]) that names the pack, the
//! file and the fix, ready to print.
//!
//! The crate never touches the network, never reads the environment,
//! never runs a plugin and has no CLI: the host (`host/src/pack`) chooses
//! the directories, fetches archives, hands the plugins to the runtime and
//! prints the messages.

#![warn(missing_docs)]

// 1. manifest
pub mod manifest;
// 2. build (the archive format and its digests index), and reading it back
pub mod archive;
mod builder;
pub mod digest;
mod reader;
// 3. sign and 4. verify (with `archive`'s integrity checks)
pub mod keys;
pub mod trust;
// 5. install / installed
pub mod installed;
// 6. lock / resolve
pub mod lock;
// Every step's failures.
pub mod error;

pub use archive::{DIGESTS_FILE, PackArchive, SIGNATURE_FILE, build};
pub use digest::{Digest, DigestIndex};
pub use error::{PackError, printable};
pub use installed::{Installed, InstalledPack, MemoryIndex, PackDir, PackIndex, PackSpec};
pub use keys::{
    GeneratedKey, KeyId, PrivateKey, PublicKey, generate_key, load_private_key, load_public_key,
    load_public_keys_dir, public_key_path,
};
pub use lock::{LOCK_FILE, Lock, LockChange, LockedPack, resolve, update};
pub use manifest::{
    DataFiles, MANIFEST_FILE, Manifest, PackInfo, PluginEntry, WitVersion, World, init,
};
pub use trust::{HostVersions, Trust, VerifiedPack, VerifyOptions, sign, verify};
