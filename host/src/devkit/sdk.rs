//! Where the SDKs and the WIT contract come from when a plugin is scaffolded
//! or built: the `sdk/` directory of a Stance checkout (`--sdk`,
//! `STANCE_SDK_DIR`, or the checkout this binary was built from).

use std::path::{Path, PathBuf};

use crate::catalog::Lang;

/// The WIT contract this host speaks, as written in `wit/`.
pub const WIT: &str = include_str!("../../../wit/stance-plugin.wit");

/// The file name builds give the WIT contract.
pub const WIT_FILE: &str = "stance-plugin.wit";

/// Why no usable `sdk/` directory was found.
#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    /// The directory chosen does not exist.
    #[error(
        "the Stance SDKs are not found ({tried}); pass --sdk DIR or set STANCE_SDK_DIR to the sdk/ directory of a Stance checkout"
    )]
    NotFound {
        /// The directory tried and where it came from (`--sdk`, `STANCE_SDK_DIR`, the checkout).
        tried: String,
    },
    /// The directory (first payload) lacks a file every SDK tree has (second payload).
    #[error(
        "{0}: not a Stance sdk/ directory (it has no {1}); point --sdk or STANCE_SDK_DIR at the checkout's sdk/"
    )]
    Incomplete(PathBuf, &'static str),
}

/// A located `sdk/` directory.
#[derive(Debug, Clone)]
pub struct Sdk {
    /// The `sdk/` directory, canonicalised when it can be; it holds `rust/`, `python/` and `js/`.
    pub root: PathBuf,
}

impl Sdk {
    /// `explicit` (`--sdk`), else `setting` (`STANCE_SDK_DIR`), else the
    /// checkout this binary was built from.
    pub fn locate(explicit: Option<&Path>, setting: Option<&Path>) -> Result<Sdk, SdkError> {
        let env = setting.map(Path::to_path_buf);
        let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
        let (root, source) = match (explicit, env) {
            (Some(p), _) => (p.to_path_buf(), "--sdk"),
            (None, Some(p)) => (p, "STANCE_SDK_DIR"),
            (None, None) => (built_from, "the checkout Stance was built from"),
        };
        if !root.is_dir() {
            return Err(SdkError::NotFound {
                tried: format!("{} from {source}", root.display()),
            });
        }
        let root = root.canonicalize().unwrap_or(root);
        for marker in [
            "rust/Cargo.toml",
            "python/stance_sdk/__init__.py",
            "js/package.json",
        ] {
            if !root.join(marker).is_file() {
                return Err(SdkError::Incomplete(root, marker));
            }
        }
        Ok(Sdk { root })
    }

    /// The SDK of one language.
    pub fn dir(&self, lang: Lang) -> PathBuf {
        self.root.join(lang.as_str())
    }
}

/// Write the WIT contract into `dir` (created) and return `dir`.
pub fn write_wit(dir: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(WIT_FILE), WIT)?;
    Ok(dir.to_path_buf())
}
