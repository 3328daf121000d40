//! The plugin limits of every command that runs plugins (scan, detect,
//! watch): the deadline of one call, the memory cap of one instance and the
//! cap on what one call returns. A plugin manifest may override them. Each
//! flag takes the range `runtime::limits` defines, so a value out of range
//! is refused by name before anything runs.

use crate::runtime::Limits;
use crate::runtime::limits::{MAX_OUTPUT_MIB, MEMORY_MIB, TIMEOUT_MS};

#[derive(Debug, clap::Args)]
pub struct LimitArgs {
    /// Deadline of one plugin call, in milliseconds, at most one hour (a plugin.toml may override it)
    #[arg(long, default_value_t = 10_000, value_parser = TIMEOUT_MS.parser())]
    timeout_ms: u64,

    /// Memory cap of one plugin instance, in MiB (1 to 4096)
    #[arg(long, default_value_t = 256, value_parser = MEMORY_MIB.parser())]
    memory_mib: u64,

    /// Cap on what one plugin call may return, in MiB (1 to 4096)
    #[arg(long, default_value_t = 64, value_parser = MAX_OUTPUT_MIB.parser())]
    max_output_mib: u64,
}

impl LimitArgs {
    /// The limits these flags set. clap refused a value out of range
    /// already; [`Limits::set`] checks the same ranges again.
    pub fn limits(&self) -> Limits {
        Limits::default()
            .with(&[
                ("timeout_ms", Some(self.timeout_ms)),
                ("memory_mib", Some(self.memory_mib)),
                ("max_output_mib", Some(self.max_output_mib)),
            ])
            .unwrap_or_default()
    }
}
