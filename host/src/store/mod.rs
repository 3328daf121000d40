//! Storage of scans, assets and findings in SQLite (WAL, versioned
//! migrations, one transaction per scan). The store never parses raw input
//! and never runs plugins; it keeps what the pipeline hands it and answers
//! queries for reports.
//!
//! A database is Stance's when its `application_id` says so (or, for
//! databases of older versions, its `user_version` and tables do); any
//! other file is refused before anything in it changes. Query commands open
//! the database read-only ([`Store::open_read_only`]).

mod alerts;
#[cfg(test)]
mod compact_tests;
mod diff;
mod exports;
mod layout;
mod lifecycle;
mod migrations;
mod prune;
mod query;
#[cfg(test)]
mod retention_tests;
#[cfg(test)]
mod tests;
mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

pub use alerts::{AlertFilter, AlertRow, DetectionRunRow, DetectionWriter, RunTotals, Suppression};
pub use diff::{Change, DiffEntry, DiffError, ScanDiff};
pub use exports::{ExportCounts, ExportedFinding};
pub use prune::{PrunePolicy, PruneReport, PrunedRun, PrunedScan};
pub use query::{
    AssetFilter, AssetRow, FindingFilter, FindingRow, NewFailure, ResourceRef, ScanRow,
};
pub use writer::{ScanMeta, ScanTotals, ScanWriter};

/// How long a writer waits for another process's scan to commit.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(600);

/// The SQLite `application_id` of every Stance database (`Stnc` in ASCII):
/// how Stance knows a file is its own before it changes anything in it.
/// Databases of Stance versions before it are recognised by their
/// `user_version` and tables, and get it at their next write.
pub const APPLICATION_ID: i64 = 0x5374_6e63;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened, configured or migrated.
    #[error("{path}: cannot open the database: {cause}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// SQLite's error (shown in the message, not repeated as a cause).
        cause: rusqlite::Error,
    },
    /// The file is not a Stance database: another application's SQLite
    /// file, or not SQLite at all. Nothing in it was changed.
    #[error(
        "{path}: not a Stance database ({what}); it was left untouched. Point --db (or STANCE_DB_PATH) at a Stance database or at a new file"
    )]
    Foreign {
        /// The file.
        path: PathBuf,
        /// What it is instead.
        what: String,
    },
    /// The database's schema is newer than this Stance knows, or older and
    /// the database cannot be written to upgrade it.
    #[error("{path}: {message}")]
    Schema {
        /// The database file.
        path: PathBuf,
        /// Both versions, and what to do.
        message: String,
    },
    /// A query or a write failed.
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    /// The database's directory could not be created.
    #[error("cannot create {path}: {cause}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The I/O error (shown in the message, not repeated as a cause).
        cause: std::io::Error,
    },
}

/// The result of a store operation.
pub type Result<T> = std::result::Result<T, StoreError>;

/// An open Stance database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Open (creating if needed) and migrate the database at `path`, for
    /// reading and writing. A file that is not a Stance database is refused
    /// before anything in it changes (no journal mode switch, no write).
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|cause| StoreError::Dir {
                path: dir.to_path_buf(),
                cause,
            })?;
        }
        let open_err = |cause| StoreError::Open {
            path: path.to_path_buf(),
            cause,
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        let identity = migrations::identify(&conn).map_err(open_err)?;
        check_identity(path, &identity)?;
        // WAL lets readers run while a scan writes; NORMAL sync is durable
        // at every commit in WAL mode except on power loss.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        migrations::migrate(&mut conn).map_err(|e| migration_error(path, e))?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Open the database at `path` for reading only (the query commands):
    /// nothing is created or written, so a read-only file or directory
    /// works. No file yet reads as an empty database. A database of an
    /// older schema is upgraded first when it can be written.
    pub fn open_read_only(path: &Path) -> Result<Store> {
        let open_err = |cause| StoreError::Open {
            path: path.to_path_buf(),
            cause,
        };
        if !path.exists() {
            return Store::empty(path);
        }
        let (conn, identity) = match read_only(path, false) {
            // A WAL database in a directory this user cannot write, with no
            // write-ahead log: nobody can be writing it (a writer would
            // need that log), so it is read as immutable.
            Err(e) if cannot_write(&e) && !sidecar(path, "-wal").exists() => {
                read_only(path, true).map_err(open_err)?
            }
            other => other.map_err(open_err)?,
        };
        check_identity(path, &identity)?;
        match identity {
            migrations::Identity::Empty => Store::empty(path),
            migrations::Identity::Stance { version } if version < migrations::known() => {
                drop(conn);
                Store::open(path).map_err(|e| StoreError::Schema {
                    path: path.to_path_buf(),
                    message: format!(
                        "the database has schema version {version}, older than this Stance's {}, and upgrading it failed ({e}); open it once with write access (any `stance scan`) to upgrade it",
                        migrations::known()
                    ),
                })
            }
            _ => Ok(Store {
                conn,
                path: path.to_path_buf(),
            }),
        }
    }

    /// An empty database in memory, reported as `path`: what a query sees
    /// before the first scan.
    fn empty(path: &Path) -> Result<Store> {
        let mut conn = Connection::open_in_memory().map_err(|cause| StoreError::Open {
            path: path.to_path_buf(),
            cause,
        })?;
        migrations::migrate(&mut conn).map_err(|e| migration_error(path, e))?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The database file, as given to [`Store::open`].
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the database (SQLite's `user_version`), after migration.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }
}

/// A read-only connection to `path`, identified; `immutable` reads the file
/// without locks or a write-ahead log.
fn read_only(path: &Path, immutable: bool) -> rusqlite::Result<(Connection, migrations::Identity)> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = if immutable {
        Connection::open_with_flags(format!("file:{}?immutable=1", uri_path(path)), flags)?
    } else {
        Connection::open_with_flags(path, flags - OpenFlags::SQLITE_OPEN_URI)?
    };
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let identity = migrations::identify(&conn)?;
    Ok((conn, identity))
}

/// Whether SQLite failed because it could not write or create a file.
fn cannot_write(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::CannotOpen)
    )
}

/// `path` with `suffix` appended (`-wal`, `-shm`).
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// `path` for an SQLite `file:` URI: `%`, `?` and `#` percent-encoded.
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            '%' | '?' | '#' => out.push_str(&format!("%{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Refuse a file that is not a Stance database, or one newer than this Stance.
fn check_identity(path: &Path, identity: &migrations::Identity) -> Result<()> {
    match identity {
        migrations::Identity::Foreign(what) => Err(StoreError::Foreign {
            path: path.to_path_buf(),
            what: what.clone(),
        }),
        migrations::Identity::Stance { version } if *version > migrations::known() => {
            Err(too_new(path, *version))
        }
        _ => Ok(()),
    }
}

fn too_new(path: &Path, found: i64) -> StoreError {
    StoreError::Schema {
        path: path.to_path_buf(),
        message: format!(
            "the database has schema version {found}, written by a newer Stance; this Stance knows versions up to {}. Upgrade Stance or use another --db.",
            migrations::known()
        ),
    }
}

fn migration_error(path: &Path, e: migrations::MigrationError) -> StoreError {
    match e {
        migrations::MigrationError::Sql(cause) => StoreError::Open {
            path: path.to_path_buf(),
            cause,
        },
        migrations::MigrationError::Step { version, message } => StoreError::Schema {
            path: path.to_path_buf(),
            message: format!("migrating the schema to version {version} failed: {message}"),
        },
        migrations::MigrationError::TooNew { found } => too_new(path, found),
        migrations::MigrationError::Foreign(what) => StoreError::Foreign {
            path: path.to_path_buf(),
            what,
        },
    }
}
