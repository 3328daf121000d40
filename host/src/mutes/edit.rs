//! Adding a mute to the file: the new mute is rendered as one YAML list
//! item and appended to the text as it is (comments, order and layout of
//! the existing mutes untouched), the result is parsed and validated as a
//! whole, and only then written, through a temporary file renamed over the
//! old one.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use chrono::NaiveDate;
use serde::Serialize;

use super::{MuteError, MuteSet, parse};

/// A mute to add, as given on the command line.
#[derive(Debug, Clone, Serialize)]
pub struct NewMute {
    /// Its id; generated (`mute-N`) when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Rule ids or globs.
    pub rules: Vec<String>,
    /// Resource globs or `re:` regexes.
    pub resources: Vec<String>,
    /// Account globs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    /// Region globs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    /// Tags the resource must carry.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Why.
    pub reason: String,
    /// Who owns it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The day it stops applying.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<NaiveDate>,
    /// No expiry (`--allow-permanent`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub permanent: bool,
    /// The day it was added.
    pub created: NaiveDate,
}

/// Append `mute` to the file at `path` (created with its directory when
/// missing); returns the file's mutes after the change, the new one last.
pub fn append(path: &Path, mut mute: NewMute) -> Result<MuteSet, MuteError> {
    let old = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(cause) => {
            return Err(MuteError::Read {
                file: path.to_path_buf(),
                cause,
            });
        }
    };
    let before = parse(&old, path)?;
    if mute.id.is_none() {
        mute.id = Some(free_id(&before));
    }
    let text = appended(&old, &mute, path)?;
    let after = parse(&text, path)?;
    write_atomically(path, &text)?;
    Ok(after)
}

/// `mute-N` with the smallest N no mute of the file uses.
fn free_id(set: &MuteSet) -> String {
    (1..)
        .map(|n| format!("mute-{n}"))
        .find(|id| set.mutes.iter().all(|m| &m.id != id))
        .unwrap_or_else(|| "mute".into())
}

/// The old text with the mute appended as one list item.
fn appended(old: &str, mute: &NewMute, path: &Path) -> Result<String, MuteError> {
    // Serialised as a one-element list: the item's own YAML, quoted where
    // YAML needs it.
    let item = serde_norway::to_string(&[mute]).map_err(|e| MuteError::Invalid {
        file: path.to_path_buf(),
        line: 1,
        field: None,
        what: format!("cannot render the new mute: {e}"),
    })?;
    let mut text = old.to_string();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    if text.trim().is_empty() {
        text.push_str("# Accepted risks: stance mutes (docs/mutes.md).\n");
    }
    text.push_str(&item);
    Ok(text)
}

fn write_atomically(path: &Path, text: &str) -> Result<(), MuteError> {
    let err = |cause| MuteError::Write {
        file: path.to_path_buf(),
        cause,
    };
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d,
        None => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    tmp.write_all(text.as_bytes()).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}
