//! `stance plugin new`: write a plugin project from the templates embedded
//! at build time (sdk/templates/LANG/WORLD), ready to build and to pass its
//! own cases with no edits.

use std::path::{Path, PathBuf};

use super::sdk::Sdk;
use crate::catalog::project::{Lang, valid_name};
use crate::runtime::World;

/// Why `stance plugin new` could not write a project.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name (the payload) is not a valid plugin name.
    #[error(
        "{0:?} is not a valid plugin name: use lowercase letters, digits and single '-', starting with a letter (e.g. acme-buckets)"
    )]
    Name(String),
    /// The target directory (the payload) exists and is not empty.
    #[error("{0}: already exists and is not empty; choose another name or --dir")]
    Exists(PathBuf),
    /// This build embeds no template for the language and world.
    #[error("no {lang} template for the {world} world in this build of Stance")]
    NoTemplate {
        /// The language asked for.
        lang: Lang,
        /// The world asked for: `policy` or `detector`.
        world: &'static str,
    },
    /// No plugin SDK was found.
    #[error("{0}")]
    Sdk(#[from] super::sdk::SdkError),
    /// Creating a directory or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The files a new project gets: (relative path, contents with placeholders filled).
pub fn render(
    name: &str,
    lang: Lang,
    world: World,
    sdk: &Sdk,
) -> Result<Vec<(String, String)>, ScaffoldError> {
    if !valid_name(name) {
        return Err(ScaffoldError::Name(name.to_string()));
    }
    let prefix = format!("{}/{}/", lang.as_str(), world.as_str());
    let module = name.replace('-', "_");
    let sdk_dir = sdk.root.display().to_string();
    let files: Vec<(String, String)> = stance_builtin::templates()
        .iter()
        .filter_map(|(path, text)| {
            let rel = path.strip_prefix(&prefix)?;
            let text = text
                .replace("{{name}}", name)
                .replace("{{module}}", &module)
                .replace("{{sdk_dir}}", &sdk_dir);
            Some((rel.to_string(), text))
        })
        .collect();
    if files.is_empty() {
        return Err(ScaffoldError::NoTemplate {
            lang,
            world: world.as_str(),
        });
    }
    Ok(files)
}

/// Write a new project into `dir` (which must not exist or be empty).
pub fn create(
    dir: &Path,
    name: &str,
    lang: Lang,
    world: World,
    sdk: &Sdk,
) -> Result<Vec<PathBuf>, ScaffoldError> {
    let files = render(name, lang, world, sdk)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ScaffoldError::Io { path, source }
    };
    if dir.exists() {
        let empty = std::fs::read_dir(dir).map_err(io(dir))?.next().is_none();
        if !empty {
            return Err(ScaffoldError::Exists(dir.to_path_buf()));
        }
    }
    let mut written = Vec::new();
    for (rel, text) in files {
        let path = dir.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, text).map_err(io(&path))?;
        written.push(path);
    }
    Ok(written)
}
