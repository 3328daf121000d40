//! Settings: every path, backend and switch Stance takes from its
//! environment, resolved once — from flags, then `STANCE_*` variables, then
//! defaults — into one [`Settings`] value that the rest of the program
//! receives, the way ripgrep resolves its arguments once. Each value keeps
//! where it came from, for `stance version --format json`.
//!
//! This is the only module that reads the process environment
//! ([`Env::from_process`]); a test keeps it so. It never opens a file or a
//! database: it only decides where they are.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// The process environment, read once. Tests build one from pairs.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<OsString, OsString>,
}

impl Env {
    /// Every variable of this process, read now.
    pub fn from_process() -> Env {
        Env {
            vars: std::env::vars_os().collect(),
        }
    }

    /// An environment of exactly these variables.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Env {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v)))
                .collect(),
        }
    }

    /// A variable's value; unset and empty are the same.
    pub fn get(&self, name: &str) -> Option<&OsString> {
        self.vars
            .get(&OsString::from(name))
            .filter(|v| !v.is_empty())
    }

    /// A variable's value as text (lossy), unset and empty being `None`.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name).map(|v| v.to_string_lossy().into_owned())
    }

    /// The value of a variable a user named in a file (`hmac_secret_env`):
    /// set and not empty, or an error that names it.
    pub fn secret(&self, var: &str) -> Result<String, MissingVariable> {
        self.text(var)
            .ok_or_else(|| MissingVariable(var.to_string()))
    }
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "from", content = "name", rename_all = "lowercase")]
pub enum Origin {
    /// A command-line flag.
    Flag(&'static str),
    /// An environment variable.
    Env(&'static str),
    /// Stance's default.
    Default,
    /// Derived from another setting (named).
    Derived(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag(name) => write!(f, "flag {name}"),
            Origin::Env(name) => write!(f, "environment {name}"),
            Origin::Default => f.write_str("default"),
            Origin::Derived(from) => write!(f, "derived from {from}"),
        }
    }
}

/// A resolved value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting<T> {
    /// The value.
    pub value: T,
    /// Where it came from.
    pub origin: Origin,
}

impl<T> Setting<T> {
    fn new(value: T, origin: Origin) -> Setting<T> {
        Setting { value, origin }
    }
}

/// Where findings, assets and alerts are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    /// The embedded SQLite database at [`Settings::db`].
    Sqlite,
    /// A backend this build does not have (refused when the store is opened).
    Unavailable(String),
}

impl fmt::Display for StorageBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageBackend::Sqlite => f.write_str("sqlite"),
            StorageBackend::Unavailable(name) => write!(f, "{name} (not available in this build)"),
        }
    }
}

/// What the command line says about settings (the global flags and the
/// few command flags that name a place).
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `--db FILE`.
    pub db: Option<PathBuf>,
    /// `-v` counted.
    pub verbose: u8,
    /// `--quiet`.
    pub quiet: bool,
    /// `stance watch --status-file FILE`.
    pub status_file: Option<PathBuf>,
    /// `--mutes FILE` (`scan`, `mutes`, `watch`).
    pub mutes: Option<PathBuf>,
}

/// Every setting, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// The SQLite database.
    pub db: Setting<PathBuf>,
    /// Per-user state: trusted keys, installed packs.
    pub home: Setting<PathBuf>,
    /// Installed rule packs.
    pub pack_dir: Setting<PathBuf>,
    /// Precompiled components (`None`: no cache).
    pub cache_dir: Setting<Option<PathBuf>>,
    /// The per-installation key that authenticates precompiled components
    /// (`STANCE_CACHE_KEY`, else the user's data directory:
    /// `$XDG_DATA_HOME/stance/cache.key`, `~/.local/share/stance/cache.key`):
    /// outside the cache directory, created `0600` on first use, and the same
    /// whatever `STANCE_CACHE_DIR` or `STANCE_HOME` say, so every cache the
    /// user points Stance at is checked against one key.
    pub cache_key: Setting<PathBuf>,
    /// The status file of `stance watch`.
    pub status_file: Setting<PathBuf>,
    /// The mute file (`--mutes`, else `.stance/mutes.yaml` in the current
    /// directory, where a repository keeps it). A default that does not
    /// exist means no mutes; a file named by the flag must exist.
    pub mutes: Setting<PathBuf>,
    /// Where results are kept.
    pub storage_backend: Setting<StorageBackend>,
    /// The log filter (`warn`, `info`, `stance=debug`, …).
    pub log_level: Setting<String>,
    /// The region live collection uses when no `--region` is given (`None`:
    /// the AWS SDK's own chain decides).
    pub aws_region: Setting<Option<String>>,
    /// The plugin SDKs `stance plugin build` uses (`None`: the checkout this
    /// binary was built from).
    pub sdk_dir: Setting<Option<PathBuf>>,
    /// Docker's configuration directory (`DOCKER_CONFIG`, else `~/.docker`),
    /// for OCI registry credentials.
    pub docker_config: Setting<Option<PathBuf>>,
    /// Colour on a terminal (`NO_COLOR` turns it off).
    pub color: Setting<bool>,
    /// Width of tables when stdout is not a terminal.
    pub columns: Setting<usize>,
    /// No progress bars or summaries (`--quiet`).
    pub quiet: bool,
    /// The process environment, for what a user names by variable (a
    /// webhook's HMAC secret, a PagerDuty routing key) and for the search
    /// path of plugin toolchains.
    #[serde(skip)]
    pub env: Env,
}

/// Table width when stdout is not a terminal and `COLUMNS` is not set.
pub const DEFAULT_COLUMNS: usize = 160;

impl Settings {
    /// Resolve every setting from the flags, the environment and defaults.
    pub fn resolve(flags: &Flags, env: Env) -> Settings {
        let user_home = env.get("HOME").map(PathBuf::from).or_else(dirs::home_dir);
        let dot_stance = user_home
            .clone()
            .unwrap_or_else(|| PathBuf::from("."))
            .join(".stance");
        let db = path_setting(
            flags.db.clone(),
            "--db",
            &env,
            "STANCE_DB_PATH",
            Setting::new(dot_stance.join("stance.db"), Origin::Default),
        );
        let home = path_setting(
            None,
            "",
            &env,
            "STANCE_HOME",
            Setting::new(dot_stance, Origin::Default),
        );
        let pack_dir = path_setting(
            None,
            "",
            &env,
            "STANCE_PACK_DIR",
            Setting::new(home.value.join("packs"), Origin::Derived("STANCE_HOME")),
        );
        let status_file = path_setting(
            flags.status_file.clone(),
            "--status-file",
            &env,
            "",
            Setting::new(
                beside(&db.value, "watch-status.json"),
                Origin::Derived("db"),
            ),
        );
        Settings {
            cache_dir: cache_dir(&env, user_home.as_deref()),
            cache_key: cache_key(&env, user_home.as_deref()),
            storage_backend: storage_backend(&env),
            log_level: log_level(flags.verbose, &env),
            aws_region: optional_text(&env, "STANCE_AWS_REGION"),
            sdk_dir: optional_path(&env, "STANCE_SDK_DIR"),
            docker_config: match env.get("DOCKER_CONFIG") {
                Some(v) => Setting::new(Some(PathBuf::from(v)), Origin::Env("DOCKER_CONFIG")),
                None => Setting::new(
                    user_home.as_ref().map(|h| h.join(".docker")),
                    Origin::Default,
                ),
            },
            color: match env.get("NO_COLOR") {
                Some(_) => Setting::new(false, Origin::Env("NO_COLOR")),
                None => Setting::new(true, Origin::Default),
            },
            columns: match env.text("COLUMNS").and_then(|c| c.trim().parse().ok()) {
                Some(n) => Setting::new(n, Origin::Env("COLUMNS")),
                None => Setting::new(DEFAULT_COLUMNS, Origin::Default),
            },
            quiet: flags.quiet,
            mutes: path_setting(
                flags.mutes.clone(),
                "--mutes",
                &env,
                "",
                Setting::new(PathBuf::from(".stance/mutes.yaml"), Origin::Default),
            ),
            db,
            home,
            pack_dir,
            status_file,
            env,
        }
    }

    /// Per-user trusted keys: `<home>/keys/*.pub`.
    pub fn user_keys_dir(&self) -> PathBuf {
        self.home.value.join("keys")
    }
}

/// A variable a file names is not set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the environment variable {0} is not set (or empty)")]
pub struct MissingVariable(pub String);

/// A flag, else a variable, else `default`.
fn path_setting(
    flag: Option<PathBuf>,
    flag_name: &'static str,
    env: &Env,
    var: &'static str,
    default: Setting<PathBuf>,
) -> Setting<PathBuf> {
    if let Some(p) = flag {
        return Setting::new(p, Origin::Flag(flag_name));
    }
    if !var.is_empty()
        && let Some(v) = env.get(var)
    {
        return Setting::new(PathBuf::from(v), Origin::Env(var));
    }
    default
}

fn beside(file: &Path, name: &str) -> PathBuf {
    match file.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => dir.join(name),
        None => PathBuf::from(name),
    }
}

/// `STANCE_CACHE_DIR`, else the user's cache directory (`~/.cache/stance`).
fn cache_dir(env: &Env, user_home: Option<&Path>) -> Setting<Option<PathBuf>> {
    if let Some(v) = env.get("STANCE_CACHE_DIR") {
        return Setting::new(Some(PathBuf::from(v)), Origin::Env("STANCE_CACHE_DIR"));
    }
    let base = match env.get("XDG_CACHE_HOME") {
        Some(x) => Some(PathBuf::from(x)),
        None => user_home.map(|h| h.join(".cache")).or_else(dirs::cache_dir),
    };
    Setting::new(base.map(|d| d.join("stance")), Origin::Default)
}

/// `STANCE_CACHE_KEY`, else `cache.key` in the user's data directory
/// (`$XDG_DATA_HOME/stance`, `~/.local/share/stance`): never in the cache.
fn cache_key(env: &Env, user_home: Option<&Path>) -> Setting<PathBuf> {
    if let Some(v) = env.get("STANCE_CACHE_KEY") {
        return Setting::new(PathBuf::from(v), Origin::Env("STANCE_CACHE_KEY"));
    }
    let base = match env.get("XDG_DATA_HOME") {
        Some(x) => PathBuf::from(x),
        None => user_home
            .map(|h| h.join(".local/share"))
            .or_else(dirs::data_dir)
            .unwrap_or_else(|| PathBuf::from(".")),
    };
    Setting::new(base.join("stance/cache.key"), Origin::Default)
}

fn storage_backend(env: &Env) -> Setting<StorageBackend> {
    match env.text("STANCE_STORAGE_BACKEND") {
        None => Setting::new(StorageBackend::Sqlite, Origin::Default),
        Some(v) if v == "sqlite" => Setting::new(
            StorageBackend::Sqlite,
            Origin::Env("STANCE_STORAGE_BACKEND"),
        ),
        Some(v) => Setting::new(
            StorageBackend::Unavailable(v),
            Origin::Env("STANCE_STORAGE_BACKEND"),
        ),
    }
}

/// `-v` beats `STANCE_LOG_LEVEL`, which beats `warn`.
fn log_level(verbose: u8, env: &Env) -> Setting<String> {
    let flag = match verbose {
        0 => None,
        1 => Some("info"),
        2 => Some("debug"),
        _ => Some("trace"),
    };
    if let Some(level) = flag {
        return Setting::new(level.to_string(), Origin::Flag("-v"));
    }
    match env.text("STANCE_LOG_LEVEL") {
        Some(v) => Setting::new(v, Origin::Env("STANCE_LOG_LEVEL")),
        None => Setting::new("warn".to_string(), Origin::Default),
    }
}

fn optional_text(env: &Env, var: &'static str) -> Setting<Option<String>> {
    match env.text(var) {
        Some(v) => Setting::new(Some(v), Origin::Env(var)),
        None => Setting::new(None, Origin::Default),
    }
}

fn optional_path(env: &Env, var: &'static str) -> Setting<Option<PathBuf>> {
    match env.get(var) {
        Some(v) => Setting::new(Some(PathBuf::from(v)), Origin::Env(var)),
        None => Setting::new(None, Origin::Default),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(flags: Flags, pairs: &[(&str, &str)]) -> Settings {
        Settings::resolve(&flags, Env::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn defaults_live_under_the_home_directory() {
        let s = resolve(Flags::default(), &[("HOME", "/home/ada")]);
        assert_eq!(s.db.value, PathBuf::from("/home/ada/.stance/stance.db"));
        assert_eq!(s.db.origin, Origin::Default);
        assert_eq!(s.home.value, PathBuf::from("/home/ada/.stance"));
        assert_eq!(s.pack_dir.value, PathBuf::from("/home/ada/.stance/packs"));
        assert_eq!(
            s.cache_dir.value,
            Some(PathBuf::from("/home/ada/.cache/stance"))
        );
        assert_eq!(
            s.status_file.value,
            PathBuf::from("/home/ada/.stance/watch-status.json")
        );
        assert_eq!(s.storage_backend.value, StorageBackend::Sqlite);
        assert_eq!(s.log_level.value, "warn");
        assert!(s.color.value);
        assert_eq!(s.columns.value, DEFAULT_COLUMNS);
        assert_eq!(s.user_keys_dir(), PathBuf::from("/home/ada/.stance/keys"));
        assert_eq!(
            s.cache_key.value,
            PathBuf::from("/home/ada/.local/share/stance/cache.key")
        );
    }

    #[test]
    fn the_cache_key_lives_outside_the_cache_and_can_be_moved() {
        let s = resolve(
            Flags::default(),
            &[
                ("HOME", "/h"),
                ("STANCE_CACHE_DIR", "/shared/cache"),
                ("STANCE_HOME", "/srv/stance"),
            ],
        );
        assert_eq!(
            s.cache_key.value,
            PathBuf::from("/h/.local/share/stance/cache.key")
        );
        assert_eq!(s.cache_key.origin, Origin::Default);
        let s = resolve(Flags::default(), &[("HOME", "/h"), ("XDG_DATA_HOME", "/d")]);
        assert_eq!(s.cache_key.value, PathBuf::from("/d/stance/cache.key"));
        let s = resolve(
            Flags::default(),
            &[
                ("HOME", "/h"),
                ("STANCE_CACHE_KEY", "/etc/stance/cache.key"),
            ],
        );
        assert_eq!(s.cache_key.value, PathBuf::from("/etc/stance/cache.key"));
        assert_eq!(s.cache_key.origin, Origin::Env("STANCE_CACHE_KEY"));
    }

    #[test]
    fn flags_beat_variables_which_beat_defaults() {
        let env = [
            ("HOME", "/home/ada"),
            ("STANCE_DB_PATH", "/var/lib/stance.db"),
            ("STANCE_LOG_LEVEL", "debug"),
        ];
        let s = resolve(Flags::default(), &env);
        assert_eq!(s.db.value, PathBuf::from("/var/lib/stance.db"));
        assert_eq!(s.db.origin, Origin::Env("STANCE_DB_PATH"));
        assert_eq!(s.log_level.origin, Origin::Env("STANCE_LOG_LEVEL"));
        let flags = Flags {
            db: Some("/tmp/x.db".into()),
            verbose: 1,
            ..Flags::default()
        };
        let s = resolve(flags, &env);
        assert_eq!(s.db.value, PathBuf::from("/tmp/x.db"));
        assert_eq!(s.db.origin, Origin::Flag("--db"));
        assert_eq!(s.log_level.value, "info");
        assert_eq!(s.log_level.origin, Origin::Flag("-v"));
        // The status file follows the database it sits beside.
        assert_eq!(s.status_file.value, PathBuf::from("/tmp/watch-status.json"));
    }

    #[test]
    fn the_mute_file_defaults_to_the_repository_and_the_flag_names_another() {
        let s = resolve(Flags::default(), &[("HOME", "/h")]);
        assert_eq!(s.mutes.value, PathBuf::from(".stance/mutes.yaml"));
        assert_eq!(s.mutes.origin, Origin::Default);
        let flags = Flags {
            mutes: Some("ci/mutes.yaml".into()),
            ..Flags::default()
        };
        let s = resolve(flags, &[("HOME", "/h")]);
        assert_eq!(s.mutes.value, PathBuf::from("ci/mutes.yaml"));
        assert_eq!(s.mutes.origin, Origin::Flag("--mutes"));
    }

    #[test]
    fn home_moves_packs_and_keys_but_the_pack_dir_can_be_set_alone() {
        let s = resolve(
            Flags::default(),
            &[("HOME", "/h"), ("STANCE_HOME", "/srv/stance")],
        );
        assert_eq!(s.pack_dir.value, PathBuf::from("/srv/stance/packs"));
        assert_eq!(s.pack_dir.origin, Origin::Derived("STANCE_HOME"));
        assert_eq!(s.user_keys_dir(), PathBuf::from("/srv/stance/keys"));
        // The database stays where it was: STANCE_DB_PATH moves it.
        assert_eq!(s.db.value, PathBuf::from("/h/.stance/stance.db"));
        let s = resolve(
            Flags::default(),
            &[("HOME", "/h"), ("STANCE_PACK_DIR", "/opt/packs")],
        );
        assert_eq!(s.pack_dir.value, PathBuf::from("/opt/packs"));
        assert_eq!(s.pack_dir.origin, Origin::Env("STANCE_PACK_DIR"));
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let s = resolve(
            Flags::default(),
            &[("HOME", "/h"), ("STANCE_DB_PATH", ""), ("NO_COLOR", "")],
        );
        assert_eq!(s.db.origin, Origin::Default);
        assert!(s.color.value, "NO_COLOR= (empty) does not turn colour off");
        let s = resolve(Flags::default(), &[("NO_COLOR", "1"), ("COLUMNS", "99")]);
        assert!(!s.color.value);
        assert_eq!(s.columns.value, 99);
    }

    #[test]
    fn an_unknown_backend_is_kept_to_be_refused_when_the_store_opens() {
        let s = resolve(Flags::default(), &[("STANCE_STORAGE_BACKEND", "s3")]);
        assert_eq!(
            s.storage_backend.value,
            StorageBackend::Unavailable("s3".into())
        );
        let s = resolve(Flags::default(), &[("STANCE_AWS_REGION", "eu-west-3")]);
        assert_eq!(s.aws_region.value.as_deref(), Some("eu-west-3"));
    }

    #[test]
    fn secrets_are_read_by_the_name_a_file_gives() {
        let s = resolve(
            Flags::default(),
            &[("HOOK_SECRET", "s3cr3t"), ("EMPTY", "")],
        );
        assert_eq!(s.env.secret("HOOK_SECRET").as_deref(), Ok("s3cr3t"));
        assert_eq!(
            s.env.secret("EMPTY").unwrap_err().to_string(),
            "the environment variable EMPTY is not set (or empty)"
        );
    }
}
