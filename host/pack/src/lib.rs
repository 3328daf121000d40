//! Stance rule packs as a pure library: the `stance-pack.toml` manifest, the
//! deterministic archive with its `digests` index, Ed25519 signing and the
//! verification gate, the local store of installed versions, and the
//! `stance.lock` resolver. No network and no CLI here (docs/packs.md).

pub mod archive;
pub mod digest;
pub mod error;
pub mod keys;
pub mod lock;
pub mod manifest;
pub mod store;
pub mod trust;

pub use archive::{DIGESTS_FILE, PackArchive, SIGNATURE_FILE, build};
pub use digest::{Digest, DigestIndex};
pub use error::PackError;
pub use keys::{
    GeneratedKey, KeyId, PrivateKey, PublicKey, generate_key, load_private_key, load_public_key,
    load_public_keys_dir, public_key_path,
};
pub use lock::{LOCK_FILE, Lock, LockChange, LockedPack, resolve, update};
pub use manifest::{
    DataFiles, MANIFEST_FILE, Manifest, PackInfo, PluginEntry, WitVersion, World, init,
};
pub use store::{Installed, InstalledPack, MemoryIndex, PackIndex, PackSpec, Store};
pub use trust::{HostVersions, Trust, VerifiedPack, VerifyOptions, sign, verify};
