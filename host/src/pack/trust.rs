//! Which keys a command trusts, and who said so. Three sources, and only
//! these: public key files given with `--key`; the user's keys
//! (`$STANCE_HOME/keys/*.pub`, `stance key trust FILE`), trusted for every
//! project; and a project's own keys, trusted for that project only when
//! both its `stance.lock` names them (`keys = [...]`) and the user has
//! trusted them for that very directory (`stance key trust --project DIR
//! FILE`, recorded with the key itself in `$STANCE_HOME/keys/projects.toml`).
//! Installing into the per-user pack directory takes only the first two: a
//! pack there serves every project.
//!
//! It never trusts a key because a file is present: a directory that ships
//! `.stance/keys/*.pub`, or a lock naming a key, changes nothing until the
//! user says so.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use stance_pack::{Lock, PublicKey, VerifyOptions};

/// The file, in the user's key directory, of keys trusted for one project each.
pub const PROJECT_KEYS_FILE: &str = "projects.toml";

/// Keys trusted for one project each (`$STANCE_HOME/keys/projects.toml`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectKeys {
    /// One entry per project and key.
    #[serde(default, rename = "project")]
    pub entries: Vec<ProjectKey>,
}

/// One key trusted for one project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ProjectKey {
    /// The project directory, canonical (symbolic links resolved).
    pub dir: PathBuf,
    /// The key's id.
    pub key_id: String,
    /// The public key itself (SPKI PEM), so a key file replaced in the
    /// project afterwards is not trusted in its place.
    pub key: String,
}

impl ProjectKeys {
    /// The file under `user_keys`.
    pub fn path(user_keys: &Path) -> PathBuf {
        user_keys.join(PROJECT_KEYS_FILE)
    }

    /// Reads the file; empty when it does not exist.
    pub fn load(user_keys: &Path) -> anyhow::Result<ProjectKeys> {
        let path = Self::path(user_keys);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        toml::from_str(&text).with_context(|| {
            format!(
                "{}: not a list of project keys; fix it or remove it and trust the keys again",
                path.display()
            )
        })
    }

    /// Records `key` as trusted for `dir` (canonical); false when it already was.
    pub fn add(&mut self, dir: PathBuf, key: &PublicKey) -> bool {
        let entry = ProjectKey {
            dir,
            key_id: key.id().to_string(),
            key: key.to_pem(),
        };
        if self.entries.contains(&entry) {
            return false;
        }
        self.entries
            .retain(|e| !(e.dir == entry.dir && e.key_id == entry.key_id));
        self.entries.push(entry);
        true
    }

    /// Writes the file atomically (a temporary file of its own, renamed).
    pub fn save(&self, user_keys: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(user_keys)
            .with_context(|| format!("creating {}", user_keys.display()))?;
        let path = Self::path(user_keys);
        let body = toml::to_string(self).context("writing the project keys")?;
        let text = format!(
            "# Keys trusted for one project each, written by `stance key trust --project`.\n{body}"
        );
        let mut tmp = tempfile::NamedTempFile::new_in(user_keys)
            .with_context(|| format!("writing into {}", user_keys.display()))?;
        std::io::Write::write_all(&mut tmp, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        tmp.persist(&path)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// The keys trusted for `project`, among those its lock names.
    fn for_project(&self, project: &Path, named: &[String]) -> anyhow::Result<Vec<PublicKey>> {
        let Ok(dir) = std::fs::canonicalize(project) else {
            return Ok(Vec::new());
        };
        let mut keys = Vec::new();
        for e in self.entries.iter().filter(|e| e.dir == dir) {
            if !named.contains(&e.key_id) {
                continue;
            }
            let source = format!(
                "project key {}, trusted for {} by `stance key trust --project`",
                e.key_id,
                dir.display()
            );
            let key = PublicKey::from_pem(&e.key, source)?;
            if key.id().as_str() == e.key_id {
                keys.push(key);
            }
        }
        Ok(keys)
    }
}

/// How packs are trusted for one command.
#[derive(Debug, Clone, Default)]
pub struct TrustConfig {
    /// The project directory (its `stance.lock`).
    pub project: PathBuf,
    /// Public key files given on the command line (`--key`), trusted in
    /// addition to the user's keys.
    pub keys: Vec<PathBuf>,
    /// Per-user trusted keys (`Settings::user_keys_dir`).
    pub user_keys: PathBuf,
    /// Accept packs without a signature (`--allow-unsigned`).
    pub allow_unsigned: bool,
}

impl TrustConfig {
    /// The keys trusted for everything this user does: the `--key` files,
    /// then `user_keys/*.pub`.
    pub fn user_trusted_keys(&self) -> anyhow::Result<Vec<PublicKey>> {
        let mut keys = Vec::new();
        for path in &self.keys {
            keys.push(stance_pack::load_public_key(path)?);
        }
        keys.extend(stance_pack::load_public_keys_dir(&self.user_keys)?);
        Ok(keys)
    }

    /// The keys the project's `stance.lock` names and the user trusted for
    /// this project (`stance key trust --project`).
    pub fn project_trusted_keys(&self) -> anyhow::Result<Vec<PublicKey>> {
        let named = match Lock::read(&super::lock_path(&self.project))? {
            Some(lock) => lock.keys,
            None => return Ok(Vec::new()),
        };
        if named.is_empty() {
            return Ok(Vec::new());
        }
        ProjectKeys::load(&self.user_keys)?.for_project(&self.project, &named)
    }

    /// What verifying a pack for this project needs (`pack verify`, `scan
    /// --pack`, `detect --pack`): the user's keys and the project's trusted
    /// ones; fails when a key file cannot be read or is not a public key.
    pub fn verify_options(&self) -> anyhow::Result<VerifyOptions> {
        let mut keys = self.user_trusted_keys()?;
        keys.extend(self.project_trusted_keys()?);
        Ok(self.options(keys))
    }

    /// What installing into the per-user pack directory needs: the user's
    /// keys only (a pack installed there serves every project).
    pub fn install_options(&self) -> anyhow::Result<VerifyOptions> {
        Ok(self.options(self.user_trusted_keys()?))
    }

    fn options(&self, trusted_keys: Vec<PublicKey>) -> VerifyOptions {
        VerifyOptions {
            trusted_keys,
            allow_unsigned: self.allow_unsigned,
            host: super::host_versions(),
        }
    }

    /// Key files in the project's `.stance/keys` that hold `key_id` and are
    /// not trusted: for the message that says how to trust one.
    pub fn untrusted_project_key_files(&self, key_id: &str) -> Vec<PathBuf> {
        let dir = super::project_keys_dir(&self.project);
        let Ok(keys) = stance_pack::load_public_keys_dir(&dir) else {
            return Vec::new();
        };
        keys.iter()
            .filter(|k| k.id().as_str() == key_id)
            .map(|k| PathBuf::from(k.source()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A project whose `.stance/keys` and lock name a key, and a user with
    /// no keys: (project, user keys dir, the key, guard).
    fn setup() -> (PathBuf, PathBuf, PublicKey, tempfile::TempDir) {
        let root = tempfile::tempdir().unwrap();
        let project = root.path().join("project");
        let keys = project.join(".stance/keys");
        std::fs::create_dir_all(&keys).unwrap();
        let generated = stance_pack::generate_key(&root.path().join("k")).unwrap();
        let public = stance_pack::load_public_key(&generated.public_path).unwrap();
        std::fs::copy(&generated.public_path, keys.join("k.pub")).unwrap();
        std::fs::write(
            project.join("stance.lock"),
            format!("version = 1\nkeys = [\"{}\"]\n", public.id()),
        )
        .unwrap();
        (project, root.path().join("home-keys"), public, root)
    }

    fn config(project: &Path, user_keys: &Path) -> TrustConfig {
        TrustConfig {
            project: project.to_path_buf(),
            user_keys: user_keys.to_path_buf(),
            ..TrustConfig::default()
        }
    }

    #[test]
    fn a_project_key_is_trusted_only_where_the_user_said_so() {
        let (project, user_keys, public, root) = setup();
        let trust = config(&project, &user_keys);
        assert!(trust.verify_options().unwrap().trusted_keys.is_empty());
        assert_eq!(
            trust
                .untrusted_project_key_files(public.id().as_str())
                .len(),
            1
        );

        let mut consent = ProjectKeys::default();
        assert!(consent.add(std::fs::canonicalize(&project).unwrap(), &public));
        assert!(!consent.add(std::fs::canonicalize(&project).unwrap(), &public));
        consent.save(&user_keys).unwrap();
        let keys = trust.verify_options().unwrap().trusted_keys;
        assert_eq!(keys.len(), 1);
        assert!(
            keys[0].source().starts_with("project key"),
            "{}",
            keys[0].source()
        );
        assert!(trust.install_options().unwrap().trusted_keys.is_empty());

        // The same files in another directory: not trusted there.
        let other = root.path().join("other");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::copy(project.join("stance.lock"), other.join("stance.lock")).unwrap();
        assert!(
            config(&other, &user_keys)
                .verify_options()
                .unwrap()
                .trusted_keys
                .is_empty()
        );

        // A lock that stops naming the key stops its trust.
        std::fs::write(project.join("stance.lock"), "version = 1\n").unwrap();
        assert!(trust.verify_options().unwrap().trusted_keys.is_empty());
    }
}
