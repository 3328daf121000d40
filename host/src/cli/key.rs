//! `stance key`: signing keys for rule packs.

use std::path::PathBuf;
use std::process::ExitCode;

use super::Globals;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Generate an Ed25519 key pair: the private key in FILE (mode 0600), the public key in FILE.pub
    Generate {
        /// Where to write the private key (FILE.pub gets the public key); never overwritten
        #[arg(long, short, value_name = "FILE")]
        out: PathBuf,
    },
}

pub fn run(g: &Globals, cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Generate { out } => {
            let key = stance_pack::generate_key(&out)?;
            println!(
                "key {}: private key {} (keep it secret), public key {}",
                key.id,
                key.private_path.display(),
                key.public_path.display()
            );
            if !g.quiet() {
                eprintln!(
                    "Sign packs with `stance pack sign PACK --key {}`. To trust this key, copy {} into {}/ (for you) or <project>/.stance/keys/ (for a project).",
                    key.private_path.display(),
                    key.public_path.display(),
                    g.settings().user_keys_dir().display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
