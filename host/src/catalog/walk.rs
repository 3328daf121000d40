//! Rule files under a path: every `*.yaml`/`*.yml`, in path order, leaving
//! out `tests/` (case files) and the directory names a caller skips
//! (framework catalogues are not policies). Directories are walked by the
//! one walker (`intake::walk`): links to directories are not followed (a
//! `ln -s . loop` would make the tree endless) and a file reached by two
//! names is read once.

use std::collections::HashSet;
use std::path::Path;

use super::CatalogError;
use crate::intake::walk::{self, Filter};
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
        let enter = |name: &str| name != "tests" && !skip.contains(&name);
        let want = |p: &Path| p.extension().is_some_and(|e| e == "yaml" || e == "yml");
        let filter = Filter {
            enter: &enter,
            want: &want,
        };
        let walked = walk::walk(path, &filter, &mut HashSet::new()).map_err(|source| {
            CatalogError::Read {
                path: path.to_path_buf(),
                source,
            }
        })?;
        for link in &walked.links_not_followed {
            tracing::warn!(
                "{}: a link to a directory, not followed (name it on its own to read it)",
                link.display()
            );
        }
        walked.files
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

    #[cfg(unix)]
    #[test]
    fn a_link_loop_ends_and_each_rule_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("aws")).unwrap();
        std::fs::write(root.join("aws/one.yaml"), "one").unwrap();
        std::os::unix::fs::symlink(".", root.join("loop")).unwrap();
        std::os::unix::fs::symlink("..", root.join("aws/up")).unwrap();
        std::os::unix::fs::symlink(root.join("aws/one.yaml"), root.join("again.yaml")).unwrap();
        let files = read_rule_files(root, &[], "rule file").unwrap();
        let texts: Vec<&str> = files.iter().map(|f| f.text.as_str()).collect();
        assert_eq!(texts, ["one"]);
    }
}
