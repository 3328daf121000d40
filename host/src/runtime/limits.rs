//! Per-plugin limits and the memory limiter that enforces them.

use std::time::Duration;

/// What one plugin call may use. Defaults are deliberately generous for
/// honest plugins and tight enough that a hostile one cannot hurt the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock deadline of one call (`describe` or one batch), enforced by epoch interruption.
    pub timeout: Duration,
    /// Linear memory an instance may grow to.
    pub memory_bytes: usize,
    /// Total size of what one call may return.
    pub output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(10),
            memory_bytes: 256 << 20,
            output_bytes: 64 << 20,
        }
    }
}

/// Caps linear memory and tables, remembering whether it refused a growth
/// so that the resulting trap can be reported as "memory limit", not as an
/// opaque crash.
pub(crate) struct MemoryLimiter {
    pub max_memory: usize,
    pub hit: bool,
}

const MAX_TABLE_ELEMENTS: usize = 1 << 20;
const MAX_INSTANCES: usize = 1000;

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn memories(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_INSTANCES
    }
}
