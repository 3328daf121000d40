//! `stance watch`: the long-running mode. Scans on an interval and detects
//! over a directory that receives log files, with plugins, policies and packs
//! reloaded in the background and swapped in between runs (`reload`); what
//! is active and what failed is written to a status file (`status`).

pub mod generation;
pub mod reload;
pub mod run;
pub mod status;

pub use generation::Generation;
pub use run::{WatchOptions, watch};
pub use status::Status;
