//! Per-plugin limits, the range each may take, and the memory limiter that
//! enforces them. Every way a limit is set — a command-line flag, a
//! `plugin.toml`, a `stance-plugin.toml` — goes through [`Limits::set`] (or
//! the same [`LimitRange`] in clap), so a value out of range is an error
//! that names it, never a number that wraps.

use std::time::Duration;

/// The range a limit may take, in the unit a user writes it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitRange {
    /// Its name in flags (with `-` for `_`) and manifests.
    pub name: &'static str,
    /// The smallest value.
    pub min: u64,
    /// The largest value.
    pub max: u64,
    /// Why the largest is what it is.
    pub why: &'static str,
}

/// `timeout_ms` / `--timeout-ms`: 1 ms to one hour.
pub const TIMEOUT_MS: LimitRange = LimitRange {
    name: "timeout_ms",
    min: 1,
    max: 3_600_000,
    why: "one hour",
};

/// `memory_mib` / `--memory-mib`: 1 MiB to 4 GiB, the most a 32-bit wasm
/// memory can hold.
pub const MEMORY_MIB: LimitRange = LimitRange {
    name: "memory_mib",
    min: 1,
    max: 4096,
    why: "a 32-bit wasm memory holds at most 4 GiB",
};

/// `max_output_mib` / `--max-output-mib`: 1 MiB to 4 GiB (a call cannot
/// return more than its memory holds).
pub const MAX_OUTPUT_MIB: LimitRange = LimitRange {
    name: "max_output_mib",
    min: 1,
    max: 4096,
    why: "a call cannot return more than a 32-bit wasm memory holds",
};

/// `--state-kib`, the quota of a detector's kept state: 1 KiB to 4 GiB.
pub const STATE_KIB: LimitRange = LimitRange {
    name: "state_kib",
    min: 1,
    max: 4 << 20,
    why: "4 GiB",
};

/// A limit out of its range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} = {value} is out of range: it must be between {min} and {max} ({why})")]
pub struct LimitError {
    /// The limit's name.
    pub name: &'static str,
    /// The value given.
    pub value: u64,
    /// The smallest value.
    pub min: u64,
    /// The largest value.
    pub max: u64,
    /// Why the largest is what it is.
    pub why: &'static str,
}

impl LimitRange {
    /// `value` when it is in range.
    pub fn check(&self, value: u64) -> Result<u64, LimitError> {
        if (self.min..=self.max).contains(&value) {
            Ok(value)
        } else {
            Err(LimitError {
                name: self.name,
                value,
                min: self.min,
                max: self.max,
                why: self.why,
            })
        }
    }

    /// A clap parser of this range, for the flag of the same name.
    pub fn parser(&self) -> clap::builder::RangedU64ValueParser<u64> {
        clap::value_parser!(u64).range(self.min..=self.max)
    }
}

/// `n` MiB in bytes; callers pass a value already in range.
fn mib(n: u64) -> usize {
    usize::try_from(n.saturating_mul(1 << 20)).unwrap_or(usize::MAX)
}

/// `n` KiB in bytes, `n` checked against [`STATE_KIB`].
pub fn state_bytes(kib: u64) -> Result<usize, LimitError> {
    let kib = STATE_KIB.check(kib)?;
    Ok(usize::try_from(kib.saturating_mul(1 << 10)).unwrap_or(usize::MAX))
}

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

impl Limits {
    /// Set the limit called `name` (`timeout_ms`, `memory_mib`,
    /// `max_output_mib`) to `value`, in the unit of its name, refusing a
    /// value out of its range or an unknown name.
    pub fn set(&mut self, name: &str, value: u64) -> Result<(), LimitError> {
        match name {
            "timeout_ms" => self.timeout = Duration::from_millis(TIMEOUT_MS.check(value)?),
            "memory_mib" => self.memory_bytes = mib(MEMORY_MIB.check(value)?),
            "max_output_mib" => self.output_bytes = mib(MAX_OUTPUT_MIB.check(value)?),
            _ => {
                return Err(LimitError {
                    name: "an unknown limit",
                    value,
                    min: 0,
                    max: 0,
                    why: "the limits are timeout_ms, memory_mib and max_output_mib",
                });
            }
        }
        Ok(())
    }

    /// These limits with every value given set ([`Limits::set`]).
    pub fn with(mut self, values: &[(&str, Option<u64>)]) -> Result<Limits, LimitError> {
        for (name, value) in values {
            if let Some(v) = value {
                self.set(name, *v)?;
            }
        }
        Ok(self)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_out_of_range_are_refused_never_wrapped() {
        let mut l = Limits::default();
        // 2^44 MiB is 2^64 bytes: once "0 MiB"; 2^44 + 1 was "1 MiB".
        for v in [17_592_186_044_416, 17_592_186_044_417, 4097, 0] {
            let err = l.set("memory_mib", v).unwrap_err();
            assert_eq!(err.value, v);
            assert!(err.to_string().contains("between 1 and 4096"), "{err}");
        }
        assert_eq!(l, Limits::default(), "a refused value changes nothing");
        l.set("memory_mib", 4096).unwrap();
        assert_eq!(l.memory_bytes, 4096 << 20);
        assert!(l.set("timeout_ms", u64::MAX).is_err());
        assert!(l.set("max_output_mib", 1 << 50).is_err());
        l.set("timeout_ms", 3_600_000).unwrap();
        assert_eq!(l.timeout, Duration::from_secs(3600));
        assert!(l.set("fuel", 1).is_err());
        let l = Limits::default()
            .with(&[("memory_mib", Some(64)), ("timeout_ms", None)])
            .unwrap();
        assert_eq!(l.memory_bytes, 64 << 20);
        assert_eq!(l.timeout, Limits::default().timeout);
        assert_eq!(state_bytes(64 << 10), Ok(64 << 20));
        assert!(state_bytes(1 << 54).is_err(), "2^54 KiB wrapped to 0 bytes");
        assert!(state_bytes(0).is_err());
    }
}
