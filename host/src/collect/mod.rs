//! Collection: turning a source (a saved snapshot, or live cloud APIs) into
//! assets. Collectors only read sources and build assets; they never
//! evaluate rules or write to the store. The AWS collector is the
//! `stance-aws` crate (host/aws), re-exported here as [`aws`].

#[cfg(feature = "aws-core")]
pub use stance_aws as aws;
pub mod context;
pub mod snapshot;
pub mod synthetic;

pub use snapshot::{Scope, Snapshot, SnapshotError};
