//! File routes: the new alerts of a run appended to a file as NDJSON, one
//! alert per line with its `run_id`.

use std::io::Write;
use std::path::Path;

use super::DeliveryError;
use crate::model::Alert;

/// Append the alerts to `path` (creating it and its directory).
pub fn append(path: &Path, run_id: i64, alerts: &[&Alert]) -> Result<(), DeliveryError> {
    let fail = |p: &Path, e: std::io::Error| DeliveryError::File {
        path: p.to_path_buf(),
        source: e,
    };
    let mut text = String::new();
    for a in alerts {
        let mut v = serde_json::to_value(a).map_err(|e| fail(path, std::io::Error::other(e)))?;
        v["run_id"] = run_id.into();
        text.push_str(&v.to_string());
        text.push('\n');
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| fail(path, e))
}
