//! Collection: turning a source (a saved snapshot today; cloud APIs later)
//! into assets. Collectors only read sources and build assets; they never
//! evaluate rules or write to the store.

#[cfg(feature = "aws-core")]
pub mod aws;
pub mod snapshot;
pub mod synthetic;

pub use snapshot::{Scope, Snapshot, SnapshotError};
