//! The one directory walker: every file under a directory that a caller
//! wants, in path order, without following links to directories (a link
//! such as `ln -s . loop` would make the tree endless) and without visiting
//! a directory twice (bind mounts), each file once by device and inode
//! however many names lead to it. It keeps a stack, not a recursion.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

/// What makes a file itself, whatever the name it was reached by: its
/// device and inode (its canonical path where there are no inodes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileId(Identity);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Identity {
    #[cfg_attr(not(unix), allow(dead_code))]
    Inode(u64, u64),
    #[cfg_attr(unix, allow(dead_code))]
    Path(PathBuf),
}

/// The identity of the file (or directory) `path` names, links followed.
pub fn file_id(path: &Path) -> io::Result<FileId> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path)?;
        Ok(FileId(Identity::Inode(meta.dev(), meta.ino())))
    }
    #[cfg(not(unix))]
    {
        Ok(FileId(Identity::Path(std::fs::canonicalize(path)?)))
    }
}

/// What a walk found.
#[derive(Debug, Default)]
pub struct Walked {
    /// The files wanted, in path order, each once.
    pub files: Vec<PathBuf>,
    /// Links to directories met on the way, not followed.
    pub links_not_followed: Vec<PathBuf>,
    /// Files left out because another name of theirs came first.
    pub repeated: usize,
}

/// How a walk chooses.
pub struct Filter<'a> {
    /// Whether to go into a directory of this name.
    pub enter: &'a dyn Fn(&str) -> bool,
    /// Whether a file (by its path) is wanted.
    pub want: &'a dyn Fn(&Path) -> bool,
}

/// Walk `dir`: files `filter` wants, in path order, each once across every
/// walk that shares `seen` (files already in it are left out). Links to
/// files are read as the files they name; links to directories are listed,
/// never followed.
pub fn walk(dir: &Path, filter: &Filter<'_>, seen: &mut HashSet<FileId>) -> io::Result<Walked> {
    let mut out = Walked::default();
    let mut dirs_seen: HashSet<FileId> = HashSet::new();
    dirs_seen.insert(file_id(dir)?);
    let mut stack: Vec<std::vec::IntoIter<PathBuf>> = vec![sorted_entries(dir)?.into_iter()];
    while let Some(top) = stack.last_mut() {
        let Some(path) = top.next() else {
            stack.pop();
            continue;
        };
        let kind = std::fs::symlink_metadata(&path)?.file_type();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if kind.is_dir() {
            if (filter.enter)(&name) && dirs_seen.insert(file_id(&path)?) {
                stack.push(sorted_entries(&path)?.into_iter());
            }
            continue;
        }
        if kind.is_symlink() {
            match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => {
                    out.links_not_followed.push(path);
                    continue;
                }
                Ok(m) if m.is_file() => {}
                // A dangling link, or a link to something that is not a file.
                _ => continue,
            }
        } else if !kind.is_file() {
            continue;
        }
        if !(filter.want)(&path) {
            continue;
        }
        if seen.insert(file_id(&path)?) {
            out.files.push(path);
        } else {
            out.repeated += 1;
        }
    }
    Ok(out)
}

fn sorted_entries(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<io::Result<_>>()?;
    entries.sort();
    Ok(entries)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn all(dir: &Path) -> Walked {
        let filter = Filter {
            enter: &|n| n != "skip",
            want: &|p| p.extension().is_some_and(|e| e == "json"),
        };
        walk(dir, &filter, &mut HashSet::new()).unwrap()
    }

    #[test]
    fn links_to_directories_are_not_followed_and_files_come_once() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("b/c")).unwrap();
        std::fs::create_dir_all(d.join("skip")).unwrap();
        for f in ["a.json", "b/c/x.json", "b/notes.txt", "skip/y.json"] {
            std::fs::write(d.join(f), f).unwrap();
        }
        // Two links to the directory itself (an endless tree if followed),
        // a link to a file, and a hard link: one file under three names.
        symlink(".", d.join("loop1")).unwrap();
        symlink(".", d.join("b/loop2")).unwrap();
        symlink(d.join("a.json"), d.join("z-link.json")).unwrap();
        std::fs::hard_link(d.join("a.json"), d.join("b/hard.json")).unwrap();
        symlink(d.join("nowhere"), d.join("dangling.json")).unwrap();
        let w = all(d);
        let rel: Vec<String> = w
            .files
            .iter()
            .map(|p| p.strip_prefix(d).unwrap().display().to_string())
            .collect();
        assert_eq!(rel, ["a.json", "b/c/x.json"]);
        assert_eq!(w.repeated, 2);
        assert_eq!(w.links_not_followed.len(), 2);
    }

    #[test]
    fn a_shared_set_reads_a_file_once_across_walks() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.json"), "{}").unwrap();
        let mut seen = HashSet::new();
        let filter = Filter {
            enter: &|_| true,
            want: &|_| true,
        };
        assert_eq!(walk(dir.path(), &filter, &mut seen).unwrap().files.len(), 1);
        let again = walk(dir.path(), &filter, &mut seen).unwrap();
        assert!(again.files.is_empty());
        assert_eq!(again.repeated, 1);
    }
}
