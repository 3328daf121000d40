//! Events: audit-log records read from files, directories or stdin and
//! normalized into the WIT `event` record (CloudTrail first), and the alerts
//! detectors raise on them. Readers stream: a file is never held in memory
//! whole, events are handed on one by one to be batched. This module only
//! reads and normalizes; it never evaluates rules or writes to the store.

pub mod input;

pub use input::{
    InputError, InputStats, Inputs, LogFormat, TimeRange, parse_time_bound, read_bytes,
};
