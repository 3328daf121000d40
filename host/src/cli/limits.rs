//! The plugin limits of every command that runs plugins (scan, detect,
//! watch): the deadline of one call, the memory cap of one instance and the
//! cap on what one call returns. A plugin manifest may override them.

use std::time::Duration;

use crate::runtime::Limits;

#[derive(Debug, clap::Args)]
pub struct LimitArgs {
    /// Deadline of one plugin call, in milliseconds (a plugin.toml may override it)
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    timeout_ms: u64,

    /// Memory cap of one plugin instance, in MiB
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    memory_mib: u64,

    /// Cap on what one plugin call may return, in MiB
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    max_output_mib: u64,
}

impl LimitArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            timeout: Duration::from_millis(self.timeout_ms),
            memory_bytes: (self.memory_mib as usize) << 20,
            output_bytes: (self.max_output_mib as usize) << 20,
        }
    }
}
