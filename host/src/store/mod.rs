//! Storage of scans, assets and findings in SQLite (WAL, versioned
//! migrations, one transaction per scan). The store never parses raw input
//! and never runs plugins; it keeps what the pipeline hands it and answers
//! queries for reports.

mod alerts;
mod migrations;
mod query;
#[cfg(test)]
mod tests;
mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

pub use alerts::{AlertFilter, AlertRow, DetectionRunRow, DetectionWriter, RunTotals, Suppression};
pub use query::{AssetFilter, AssetRow, FindingFilter, FindingRow, ResourceRef, ScanRow};
pub use writer::{ScanMeta, ScanTotals, ScanWriter};

/// How long a writer waits for another process's scan to commit.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(600);

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened, configured or migrated.
    #[error("{path}: cannot open the database: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The database's schema is newer than this Stance knows.
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
    #[error("cannot create {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
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
    /// Open (creating if needed) and migrate the database at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        // WAL lets readers run while a scan writes; NORMAL sync is durable
        // at every commit in WAL mode except on power loss.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        migrations::migrate(&mut conn).map_err(|e| match e {
            migrations::MigrationError::Sql(source) => StoreError::Open {
                path: path.to_path_buf(),
                source,
            },
            migrations::MigrationError::TooNew { found, known } => StoreError::Schema {
                path: path.to_path_buf(),
                message: format!(
                    "the database has schema version {found}, written by a newer Stance; this Stance knows versions up to {known}. Upgrade Stance or use another --db."
                ),
            },
        })?;
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
