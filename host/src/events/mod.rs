//! Events: audit-log records read from files, directories or stdin and
//! normalized into the WIT `event` record (CloudTrail first), and the alerts
//! detectors raise on them. Readers stream: a file is never held in memory
//! whole, events are handed on one by one to be batched, and every record is
//! held to the input limits (`intake::InputLimits`) before it is. This module
//! only reads and normalizes; it never evaluates rules or writes to the store.

pub mod input;

pub use crate::intake::InputLimits;
pub use input::{
    InputError, InputStats, Inputs, LogFormat, REPORTED_PER_INPUT, TimeRange, parse_time_bound,
    read_bytes,
};
