//! Collection: turning a source (a saved snapshot, or a live AWS scope)
//! into a snapshot of assets with the account context derived from them
//! ([`gather`], what `scan`, `collect` and `watch` call). Collectors only
//! read sources and build assets; they never evaluate rules or write to the
//! store. The AWS collector is the `stance-aws` crate (host/aws),
//! re-exported here as [`aws`]; its calls run on the process's one async
//! runtime (`net`).

#[cfg(feature = "aws-core")]
pub use stance_aws as aws;
pub mod context;
pub mod snapshot;
pub mod synthetic;

#[cfg(feature = "aws-core")]
use std::collections::BTreeSet;
use std::path::PathBuf;

pub use snapshot::{Scope, Snapshot, SnapshotError};

use crate::intake::InputLimits;
use context::Covered;

/// Where a collection comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A saved snapshot (JSON or NDJSON, optionally gzipped), read within
    /// the input limits.
    Snapshot(PathBuf, InputLimits),
    /// A live AWS collection.
    #[cfg(feature = "aws-core")]
    Aws(aws::AwsOptions),
}

/// Why a collection failed as a whole (what could not be collected in
/// part is recorded in the snapshot's errors instead).
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The snapshot file is unreadable or invalid.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// The collection could not start (credentials, options).
    #[cfg(feature = "aws-core")]
    #[error(transparent)]
    Aws(#[from] aws::AwsError),
    /// The async runtime could not start.
    #[error(transparent)]
    Net(#[from] crate::net::NetError),
}

/// Progress of a live collection, one unit per (account, region, service).
pub trait Progress: Send + Sync {
    /// Work in `region` of `account` starts: `units` services.
    fn begin(&self, account: &str, region: &str, units: usize);
    /// One service of `region` of `account` is done.
    fn done(&self, account: &str, region: &str, service: &str);
}

/// A progress sink that shows nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn begin(&self, _: &str, _: &str, _: usize) {}
    fn done(&self, _: &str, _: &str, _: &str) {}
}

/// Read the snapshot or run the live collection, and add the derived
/// account-context assets; returns it with a label for the scan record
/// (`snapshot:FILE`, `aws`).
pub fn gather(
    source: &Source,
    progress: &dyn Progress,
) -> Result<(Snapshot, String), CollectError> {
    match source {
        Source::Snapshot(path, limits) => {
            let _ = progress;
            let mut snapshot = snapshot::read_with(path, limits)?;
            // A snapshot states what exists: every type counts as collected.
            with_context(&mut snapshot, Covered::All);
            Ok((snapshot, format!("snapshot:{}", path.display())))
        }
        #[cfg(feature = "aws-core")]
        Source::Aws(opts) => {
            let mut snapshot = crate::net::block_on(aws::collect(opts, &Forward(progress)))??;
            let selected = selected_types(&opts.services);
            with_context(&mut snapshot, Covered::Only(&selected));
            Ok((snapshot, "aws".to_string()))
        }
    }
}

/// Add the derived account-context assets (`context`) to an AWS collection.
fn with_context(snapshot: &mut Snapshot, covered: Covered<'_>) {
    if snapshot.provider != "aws" {
        return;
    }
    let at = snapshot
        .collected_at
        .clone()
        .or_else(|| snapshot.assets.iter().map(|a| a.collected_at.clone()).max())
        .unwrap_or_else(crate::model::now_rfc3339);
    context::derive(
        &mut snapshot.assets,
        &snapshot.errors,
        &snapshot.scope.accounts,
        covered,
        &at,
    );
}

/// The resource types of the services a live collection selected (all when none named).
#[cfg(feature = "aws-core")]
fn selected_types(services: &[String]) -> BTreeSet<String> {
    aws::KNOWN_SERVICES
        .iter()
        .filter(|s| services.is_empty() || services.iter().any(|n| n == s.name))
        .flat_map(|s| s.types.iter().map(|t| t.to_string()))
        .collect()
}

/// Our progress, as the AWS collector reports it.
#[cfg(feature = "aws-core")]
struct Forward<'a>(&'a dyn Progress);

#[cfg(feature = "aws-core")]
impl aws::Progress for Forward<'_> {
    fn begin(&self, account: &str, region: &str, services: usize) {
        self.0.begin(account, region, services);
    }
    fn done(&self, account: &str, region: &str, service: &str) {
        self.0.done(account, region, service);
    }
}
