//! `stance pack`: create, build, sign, verify, share, install and pin rule
//! packs (docs/packs.md). Every refusal is an error naming the pack, the
//! file and the reason, and exits 2.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use semver::Version;
use stance_pack::{Lock, PackArchive, PackSpec, Trust};

use super::Globals;
use crate::catalog::{LockOutcome, Resolved, Selection};
use crate::pack::{self, NetOptions, PackSource, TrustConfig};
use crate::report::{self, Format};
use crate::settings::Settings;

/// How packs are trusted: shared by every command that verifies or loads packs.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TrustArgs {
    /// A trusted public key file (repeatable), besides ~/.stance/keys/*.pub and the project keys you trusted with `stance key trust --project`
    #[arg(long = "key", value_name = "PUBFILE")]
    pub keys: Vec<PathBuf>,

    /// Accept packs that are not signed. For local development only: says so loudly every time
    #[arg(long)]
    pub allow_unsigned: bool,

    /// The project directory: its stance.lock (default: the current directory)
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
}

impl TrustArgs {
    pub fn project(&self) -> PathBuf {
        self.project.clone().unwrap_or_else(|| PathBuf::from("."))
    }

    /// The trust configuration; warns when unsigned packs are allowed.
    pub fn config(&self, settings: &Settings) -> TrustConfig {
        if self.allow_unsigned {
            crate::say_err!(
                "WARNING: --allow-unsigned: packs WITHOUT A SIGNATURE will be accepted. Use this for local development only, never in production."
            );
        }
        TrustConfig {
            project: self.project(),
            keys: self.keys.clone(),
            user_keys: settings.user_keys_dir(),
            allow_unsigned: self.allow_unsigned,
        }
    }
}

/// Network options for commands that reach a registry or a URL.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct NetArgs {
    /// Allow plain http to a registry or URL that is not on a loopback address
    #[arg(long)]
    pub insecure: bool,
}

impl NetArgs {
    fn options(self, settings: &Settings) -> NetOptions {
        NetOptions {
            insecure: self.insecure,
            docker_config: settings.docker_config.value.clone(),
        }
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Write a starter stance-pack.toml into DIR
    Init {
        dir: PathBuf,
        /// The pack name (default: the directory's name)
        #[arg(long)]
        name: Option<String>,
    },
    /// Build the pack in DIR into one deterministic archive
    Build {
        dir: PathBuf,
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Sign a pack archive with a private key (in place, or into -o OUT)
    Sign {
        pack: PathBuf,
        /// The private key file (`stance key generate`)
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        #[arg(short, long, value_name = "OUT")]
        output: Option<PathBuf>,
    },
    /// Verify a pack archive: integrity, signature by a trusted key, WIT and Stance versions
    Verify {
        pack: PathBuf,
        #[command(flatten)]
        trust: TrustArgs,
    },
    /// Push a pack archive to an OCI registry: oci://REGISTRY/REPO:TAG
    Push {
        pack: PathBuf,
        target: String,
        #[command(flatten)]
        net: NetArgs,
    },
    /// Pull a pack archive from an OCI registry (oci://REGISTRY/REPO:TAG or @sha256:…) into FILE
    Pull {
        source: String,
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        #[command(flatten)]
        net: NetArgs,
    },
    /// Verify and install a pack from a file, an https URL or an OCI reference
    Install {
        source: String,
        #[command(flatten)]
        trust: TrustArgs,
        #[command(flatten)]
        net: NetArgs,
    },
    /// List the installed packs, every version
    List {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Remove an installed pack: NAME (every version) or NAME@VERSION
    Remove {
        #[arg(value_name = "NAME[@VERSION]")]
        pack: String,
    },
    /// Move the packs of stance.lock (or only the named ones) to the newest installed versions in range
    Update {
        /// Packs to update (NAME), or requirements to add or change (NAME@RANGE); all when none
        #[arg(value_name = "NAME[@RANGE]")]
        packs: Vec<PackSpec>,
        /// The project directory holding stance.lock (default: the current directory)
        #[arg(long, value_name = "DIR")]
        project: Option<PathBuf>,
    },
}

pub fn run(g: &Globals, cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Init { dir, name } => init(&dir, name),
        Command::Build { dir, output } => build(&dir, &output),
        Command::Sign { pack, key, output } => sign(&pack, &key, output.as_deref()),
        Command::Verify { pack, trust } => verify(g, &pack, &trust),
        Command::Push { pack, target, net } => push(&pack, &target, net.options(g.settings())),
        Command::Pull {
            source,
            output,
            net,
        } => pull(&source, &output, net.options(g.settings())),
        Command::Install { source, trust, net } => install(g, &source, &trust, net),
        Command::List { format } => list(g, format),
        Command::Remove { pack } => remove(g, &pack),
        Command::Update { packs, project } => update(g, &packs, project),
    }
}

/// Writes `bytes` to `path` through a temporary file renamed into place.
fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("writing into {}", dir.display()))?;
    tmp.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn init(dir: &Path, name: Option<String>) -> anyhow::Result<ExitCode> {
    let name = match name {
        Some(n) => n,
        None => {
            let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
            abs.file_name()
                .map(|n| n.to_string_lossy().to_lowercase())
                .unwrap_or_default()
        }
    };
    let path = stance_pack::init(dir, &name)?;
    crate::say!("wrote {} for pack {name}", path.display());
    Ok(ExitCode::SUCCESS)
}

fn build(dir: &Path, output: &Path) -> anyhow::Result<ExitCode> {
    let bytes = stance_pack::build(dir)?;
    let archive = PackArchive::from_bytes(&bytes, &output.display().to_string())?;
    write_atomic(output, &bytes)?;
    crate::say!(
        "built {} ({} files) into {}: {}",
        archive.manifest().id(),
        archive.entries().len(),
        output.display(),
        archive.archive_digest()
    );
    Ok(ExitCode::SUCCESS)
}

fn sign(path: &Path, key: &Path, output: Option<&Path>) -> anyhow::Result<ExitCode> {
    let bytes = pack::fetch::read_file(path)?;
    let key = stance_pack::load_private_key(key)?;
    let signed = stance_pack::sign(&bytes, &path.display().to_string(), &key)?;
    let out = output.unwrap_or(path);
    let archive = PackArchive::from_bytes(&signed, &out.display().to_string())?;
    write_atomic(out, &signed)?;
    crate::say!(
        "signed {} with key {} into {}: {}",
        archive.manifest().id(),
        key.id(),
        out.display(),
        archive.archive_digest()
    );
    Ok(ExitCode::SUCCESS)
}

fn verify(g: &Globals, path: &Path, trust: &TrustArgs) -> anyhow::Result<ExitCode> {
    let config = trust.config(g.settings());
    let options = config.verify_options()?;
    let bytes = pack::fetch::read_file(path)?;
    let pack = stance_pack::verify(&bytes, &path.display().to_string(), &options)
        .map_err(|e| pack::explain_refusal(e, &config, false))?;
    pack::warn_if_unsigned(&pack);
    let host = pack::host_versions();
    let how = match pack.trust() {
        Trust::Signed { key_id, key_source } => {
            format!("signed by trusted key {key_id} ({key_source})")
        }
        Trust::UnsignedAllowed => "NOT SIGNED (allowed by --allow-unsigned)".to_string(),
    };
    crate::say!(
        "pack {} ({}): OK: intact ({} files), {how}; compatible with {} and Stance {}; archive {}",
        pack.manifest().id(),
        path.display(),
        pack.files().len(),
        host.wit,
        host.stance,
        pack.archive_digest()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "oci")]
fn push(path: &Path, target: &str, net: NetOptions) -> anyhow::Result<ExitCode> {
    let bytes = pack::fetch::read_file(path)?;
    let pushed = pack::oci::push(&bytes, &path.display().to_string(), target, net)?;
    crate::say!(
        "pushed {}@{} ({}) to {}\npinned: {}",
        pushed.config.name,
        pushed.config.version,
        pushed.config.digest,
        pushed.tagged,
        pushed.pinned
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "oci")]
fn pull(source: &str, output: &Path, net: NetOptions) -> anyhow::Result<ExitCode> {
    let pulled = pack::oci::pull(source, net)?;
    write_atomic(output, &pulled.archive)?;
    crate::say!(
        "pulled {}@{} ({}) from {} into {}; check it with `stance pack verify {}`",
        pulled.config.name,
        pulled.config.version,
        pulled.config.digest,
        pulled.pinned,
        output.display(),
        output.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "oci"))]
fn push(_: &Path, target: &str, _: NetOptions) -> anyhow::Result<ExitCode> {
    bail!("{target}: this Stance was built without OCI support (the `oci` feature)")
}

#[cfg(not(feature = "oci"))]
fn pull(source: &str, _: &Path, _: NetOptions) -> anyhow::Result<ExitCode> {
    bail!("{source}: this Stance was built without OCI support (the `oci` feature)")
}

fn install(g: &Globals, source: &str, trust: &TrustArgs, net: NetArgs) -> anyhow::Result<ExitCode> {
    let config = trust.config(g.settings());
    // A pack in the per-user directory serves every project: only keys the
    // user trusts everywhere (and --key) may vouch for it.
    let options = config.install_options()?;
    let net = net.options(g.settings());
    let (bytes, label) = pack::fetch(&PackSource::parse(source), &net)?;
    let verified = stance_pack::verify(&bytes, &label, &options)
        .map_err(|e| pack::explain_refusal(e, &config, true))?;
    pack::warn_if_unsigned(&verified);
    let store = pack::installed(&g.settings().pack_dir.value);
    let installed = store.install(&verified)?;
    let p = installed.pack();
    let signed = match &p.signed_by {
        Some(k) => format!("signed by {k}"),
        None => "UNSIGNED".to_string(),
    };
    match installed {
        stance_pack::Installed::New(_) => crate::say!(
            "installed {}@{} ({signed}, {}) from {label} into {}",
            p.name,
            p.version,
            p.archive_digest,
            p.dir.display()
        ),
        stance_pack::Installed::AlreadyPresent(_) => crate::say!(
            "{}@{} is already installed with the same archive ({})",
            p.name,
            p.version,
            p.archive_digest
        ),
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(serde::Serialize)]
struct ListRow {
    name: String,
    version: String,
    digest: String,
    signed_by: Option<String>,
    source: String,
    path: String,
}

fn list(g: &Globals, format: Format) -> anyhow::Result<ExitCode> {
    let store = pack::installed(&g.settings().pack_dir.value);
    let rows: Vec<ListRow> = store
        .list()?
        .into_iter()
        .map(|p| ListRow {
            name: p.name,
            version: p.version.to_string(),
            digest: p.archive_digest.to_string(),
            signed_by: p.signed_by,
            source: p.source,
            path: p.dir.display().to_string(),
        })
        .collect();
    let mut out = report::open_output(None)?;
    match format {
        Format::Sarif | Format::Ocsf | Format::Junit | Format::Asff => {
            return Err(report::unsupported(format, "packs").into());
        }
        Format::Json => report::write_json(&mut out, &rows)?,
        Format::Csv => report::write_csv(
            &mut out,
            &["name", "version", "digest", "signed_by", "source", "path"],
            rows.iter().map(|r| {
                vec![
                    r.name.clone(),
                    r.version.clone(),
                    r.digest.clone(),
                    r.signed_by.clone().unwrap_or_default(),
                    r.source.clone(),
                    r.path.clone(),
                ]
            }),
        )?,
        Format::Table => {
            if rows.is_empty() {
                writeln!(
                    out,
                    "no packs installed in {} (install one with `stance pack install`)",
                    store.root().display()
                )?;
            } else {
                let w = |f: fn(&ListRow) -> usize, h: &str| {
                    rows.iter().map(f).max().unwrap_or(0).max(h.len())
                };
                let (wn, wv) = (
                    w(|r| r.name.len(), "NAME"),
                    w(|r| r.version.len(), "VERSION"),
                );
                let ws = w(
                    |r| r.signed_by.as_deref().unwrap_or("UNSIGNED").len(),
                    "SIGNED BY",
                );
                writeln!(
                    out,
                    "{:wn$}  {:wv$}  {:ws$}  {:23}  SOURCE",
                    "NAME", "VERSION", "SIGNED BY", "DIGEST"
                )?;
                for r in &rows {
                    let short = r.digest.get(..23).unwrap_or(&r.digest);
                    writeln!(
                        out,
                        "{:wn$}  {:wv$}  {:ws$}  {short:23}  {}",
                        r.name,
                        r.version,
                        r.signed_by.as_deref().unwrap_or("UNSIGNED"),
                        r.source
                    )?;
                }
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn remove(g: &Globals, spec: &str) -> anyhow::Result<ExitCode> {
    let (name, version) = match spec.split_once('@') {
        Some((name, v)) => {
            let v = v.trim().trim_start_matches('=');
            let version = Version::parse(v).map_err(|e| {
                anyhow::anyhow!("`{spec}`: `{v}` is not a version ({e}); write NAME or NAME@VERSION, e.g. aws-cis@1.2.0")
            })?;
            (name, Some(version))
        }
        None => (spec, None),
    };
    let store = pack::installed(&g.settings().pack_dir.value);
    let removed = store.remove(name, version.as_ref())?;
    for v in &removed {
        crate::say!("removed {name}@{v}");
    }
    if let Ok(Some(lock)) = Lock::read(&pack::lock_path(Path::new(".")))
        && let Some(pinned) = lock.get(name)
        && removed.contains(&pinned.version)
    {
        crate::say_err!(
            "warning: stance.lock pins {name}@{}, which is no longer installed: install it again or run `stance pack update`",
            pinned.version
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn update(g: &Globals, specs: &[PackSpec], project: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let project = project.unwrap_or_else(|| PathBuf::from("."));
    let path = pack::lock_path(&project);
    let lock = Lock::read(&path)?;
    // A NAME@RANGE argument sets that requirement; a bare NAME only selects.
    let mut roots: Vec<PackSpec> = match &lock {
        Some(l) => l.requirements()?,
        None => Vec::new(),
    };
    for spec in specs {
        let given = spec.req != semver::VersionReq::STAR;
        match roots.iter_mut().find(|r| r.name == spec.name) {
            Some(r) if given => *r = spec.clone(),
            Some(_) => {}
            None => roots.push(spec.clone()),
        }
    }
    if roots.is_empty() {
        bail!(
            "{}: no stance.lock and no packs named: run `stance pack update NAME@RANGE` (e.g. aws-cis@^1) or `stance scan --pack NAME@RANGE` to create it",
            path.display()
        );
    }
    let only: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
    let store = pack::installed(&g.settings().pack_dir.value);
    let (new, changes) = stance_pack::update(&roots, &store, lock.as_ref(), &only)?;
    if lock.as_ref() == Some(&new) {
        crate::say!("{} is up to date", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    new.write(&path)?;
    for c in &changes {
        crate::say!("{c}");
    }
    if !g.quiet() {
        crate::say_err!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Resolve what a command runs, saying when `stance.lock` was written.
pub fn resolve(g: &Globals, selection: &Selection) -> anyhow::Result<Resolved> {
    let resolved = selection.resolve()?;
    if let LockOutcome::Written { path, changes } = &resolved.lock
        && !g.quiet()
    {
        let what: Vec<String> = changes.iter().map(ToString::to_string).collect();
        crate::say_err!("wrote {} ({})", path.display(), what.join(", "));
    }
    Ok(resolved)
}
