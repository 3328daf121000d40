//! The one walker of rule directories: every `*.yaml`/`*.yml` under a
//! path, in path order, leaving out `tests/` (case files) and the directory
//! names a caller skips (framework catalogues are not policies).

use std::path::{Path, PathBuf};

use super::CatalogError;
use crate::model::SourceFile;

/// Read the rule files a path names: a file as it is, a directory
/// recursively (sorted, `tests/` and `skip` left out). `what` names the
/// kind of file in the error for a path that does not exist.
pub fn read_rule_files(
    path: &Path,
    skip: &[&str],
    what: &'static str,
) -> Result<Vec<SourceFile>, CatalogError> {
    let files = if path.is_dir() {
        let mut found = Vec::new();
        walk(path, skip, &mut found).map_err(|source| CatalogError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        found.sort();
        found
    } else if path.is_file() {
        vec![path.to_path_buf()]
    } else {
        return Err(CatalogError::NotFound {
            path: path.to_path_buf(),
            what,
        });
    };
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).map_err(|source| CatalogError::Read {
                path: f.clone(),
                source,
            })?;
            Ok(SourceFile {
                path: f.display().to_string(),
                text,
            })
        })
        .collect()
}

fn walk(dir: &Path, skip: &[&str], out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            let skipped = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n == "tests" || skip.contains(&n));
            if !skipped {
                walk(&path, skip, out)?;
            }
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_sorted_leaving_out_tests_and_skipped_directories() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in [
            "b/two.yaml",
            "a/one.yml",
            "a/notes.md",
            "tests/case.yaml",
            "frameworks/cis.yaml",
        ] {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, f).unwrap();
        }
        let files = read_rule_files(root, &["frameworks"], "policy file").unwrap();
        let texts: Vec<&str> = files.iter().map(|f| f.text.as_str()).collect();
        assert_eq!(texts, ["a/one.yml", "b/two.yaml"]);
        let all = read_rule_files(root, &[], "rule file").unwrap();
        assert_eq!(all.len(), 3, "frameworks/ is read when not skipped");
        let missing = read_rule_files(&root.join("nope"), &[], "Sigma rule file");
        assert!(
            missing
                .unwrap_err()
                .to_string()
                .contains("no such Sigma rule file or directory")
        );
    }
}
