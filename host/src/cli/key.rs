//! `stance key`: signing keys for rule packs, and which of them the user
//! trusts (for every project, or for one project: `pack::trust`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use stance_pack::{LOCK_FILE, Lock, PublicKey};

use super::Globals;
use crate::pack::{self, ProjectKeys};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Generate an Ed25519 key pair: the private key in FILE (mode 0600), the public key in FILE.pub
    Generate {
        /// Where to write the private key (FILE.pub gets the public key); never overwritten
        #[arg(long, short, value_name = "FILE")]
        out: PathBuf,
    },
    /// Trust a public key: for every project (copied into ~/.stance/keys), or with --project for that project only
    Trust {
        /// The public key file (FILE.pub, as `stance key generate` wrote it)
        #[arg(value_name = "PUBFILE")]
        key: PathBuf,
        /// Trust the key for this project directory only: its stance.lock names the key, and you vouch for it here
        #[arg(long, value_name = "DIR")]
        project: Option<PathBuf>,
    },
}

pub fn run(g: &Globals, cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Generate { out } => generate(g, &out),
        Command::Trust { key, project } => {
            let public = stance_pack::load_public_key(&key)?;
            match project {
                Some(dir) => trust_for_project(g, &public, &dir),
                None => trust_for_user(g, &public, &key),
            }
        }
    }
}

fn generate(g: &Globals, out: &Path) -> anyhow::Result<ExitCode> {
    let key = stance_pack::generate_key(out)?;
    crate::say!(
        "key {}: private key {} (keep it secret), public key {}",
        key.id,
        key.private_path.display(),
        key.public_path.display()
    );
    if !g.quiet() {
        crate::say_err!(
            "Sign packs with `stance pack sign PACK --key {}`. To trust this key, run `stance key trust {}` (for you) or `stance key trust --project DIR {}` (for one project).",
            key.private_path.display(),
            key.public_path.display(),
            key.public_path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Copies the key into the user's key directory, as `<id>.pub`.
fn trust_for_user(g: &Globals, key: &PublicKey, file: &Path) -> anyhow::Result<ExitCode> {
    let dir = g.settings().user_keys_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let target = dir.join(format!("{}.pub", key.id()));
    let pem = key.to_pem();
    match std::fs::read_to_string(&target) {
        Ok(existing) if existing == pem => {
            crate::say!("key {} is already trusted ({})", key.id(), target.display());
            return Ok(ExitCode::SUCCESS);
        }
        Ok(_) => bail!(
            "{}: holds another key under the id {}; remove it first",
            target.display(),
            key.id()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", target.display())),
    }
    std::fs::write(&target, pem).with_context(|| format!("writing {}", target.display()))?;
    crate::say!(
        "key {} from {} is now trusted for every project: {}",
        key.id(),
        file.display(),
        target.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Records the key as trusted for `project` (by its canonical path, with
/// the key itself), and names it in the project's stance.lock.
fn trust_for_project(g: &Globals, key: &PublicKey, project: &Path) -> anyhow::Result<ExitCode> {
    let dir = std::fs::canonicalize(project)
        .with_context(|| format!("{}: not a project directory", project.display()))?;
    let lock_path = pack::lock_path(&dir);
    let mut lock = Lock::read(&lock_path)?.unwrap_or(Lock {
        version: stance_pack::lock::LOCK_VERSION,
        requires: Vec::new(),
        keys: Vec::new(),
        packs: Vec::new(),
    });
    let id = key.id().to_string();
    if !lock.keys.contains(&id) {
        lock.keys.push(id.clone());
        lock.keys.sort();
        lock.write(&lock_path)?;
        if !g.quiet() {
            crate::say_err!(
                "wrote {} (keys: {})",
                lock_path.display(),
                lock.keys.join(", ")
            );
        }
    }
    let user_keys = g.settings().user_keys_dir();
    let mut trusted = ProjectKeys::load(&user_keys)?;
    if trusted.add(dir.clone(), key) {
        trusted.save(&user_keys)?;
    }
    crate::say!(
        "key {id} is trusted for {} only (its {LOCK_FILE} names it; recorded in {})",
        dir.display(),
        ProjectKeys::path(&user_keys).display()
    );
    Ok(ExitCode::SUCCESS)
}
