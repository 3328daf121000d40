//! The host side of the WIT imports: what a plugin's store holds and the
//! functions a plugin may call (log, settings). WASI is present only as an
//! empty context: no files, no environment, no network, frozen clocks.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{
    HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView,
};

use super::bindings::policy::stance::plugin::host::{Host, Level};
use super::bindings::policy::stance::plugin::types;
use super::limits::MemoryLimiter;
use super::state::CallState;

/// Lines a plugin may log per call; the rest are counted and dropped.
const MAX_LOG_LINES: u32 = 1000;
/// Longest log line kept.
const MAX_LOG_LINE: usize = 4096;
/// What a plugin writes to stdout/stderr is kept (up to this much) to
/// explain a trap, e.g. a panic message.
pub(crate) const STDERR_CAPTURE: usize = 64 * 1024;

/// What one call's wasmtime store holds: the empty WASI context, the
/// memory limiter, the plugin's name and settings, and (for detectors) the
/// journaled state.
pub(crate) struct CallData {
    wasi: WasiCtx,
    table: ResourceTable,
    pub limiter: MemoryLimiter,
    plugin: Arc<str>,
    settings: Arc<str>,
    log_lines: u32,
    /// A detector's state for the duration of one call (None for policies).
    pub state: Option<CallState>,
}

impl CallData {
    pub fn new(
        plugin: Arc<str>,
        settings: Arc<str>,
        max_memory: usize,
        stderr: MemoryOutputPipe,
    ) -> CallData {
        let wasi = WasiCtxBuilder::new()
            .stdout(stderr.clone())
            .stderr(stderr)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .wall_clock(FrozenClock)
            .monotonic_clock(FrozenClock)
            .secure_random(wasmtime_wasi::Deterministic::new(vec![
                0x5a, 0x17, 0xc3, 0x8e,
            ]))
            .insecure_random(wasmtime_wasi::Deterministic::new(vec![
                0x42, 0x99, 0x0d, 0x61,
            ]))
            .insecure_random_seed(0x5354_414e_4345)
            .build();
        CallData {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                max_memory,
                hit: false,
            },
            plugin,
            settings,
            log_lines: 0,
            state: None,
        }
    }
}

impl CallData {
    /// Start a call: the memory flag and the log budget are per call (an
    /// instance that serves several calls keeps its memory and its cap).
    pub fn begin_call(&mut self) {
        self.limiter.hit = false;
        self.log_lines = 0;
    }
}

impl WasiView for CallData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Clocks that always read zero: plugins get time from the data they are
/// given (an asset's `collected_at`, an event's `time`), which keeps their
/// results reproducible.
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

impl types::Host for CallData {}

impl Host for CallData {
    fn log(&mut self, level: Level, message: String) {
        self.log_lines += 1;
        if self.log_lines > MAX_LOG_LINES {
            if self.log_lines == MAX_LOG_LINES + 1 {
                tracing::warn!(plugin = %self.plugin, "plugin logged more than {MAX_LOG_LINES} lines in one call; dropping the rest");
            }
            return;
        }
        let mut message = message;
        if message.len() > MAX_LOG_LINE {
            let mut cut = MAX_LOG_LINE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let plugin = &*self.plugin;
        match level {
            Level::Trace => tracing::trace!(target: "stance::plugin", plugin, "{message}"),
            Level::Debug => tracing::debug!(target: "stance::plugin", plugin, "{message}"),
            Level::Info => tracing::info!(target: "stance::plugin", plugin, "{message}"),
            Level::Warn => tracing::warn!(target: "stance::plugin", plugin, "{message}"),
            Level::Error => tracing::error!(target: "stance::plugin", plugin, "{message}"),
        }
    }

    fn settings(&mut self) -> String {
        self.settings.to_string()
    }
}

impl super::bindings::detector::stance::plugin::state::Host for CallData {
    fn get(&mut self, key: String) -> Option<Vec<u8>> {
        self.state.as_ref().and_then(|s| s.get(&key))
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), String> {
        match self.state.as_mut() {
            Some(s) => s.set(key, value),
            None => Err("this plugin has no state store".to_string()),
        }
    }

    fn delete(&mut self, key: String) {
        if let Some(s) = self.state.as_mut() {
            s.delete(key);
        }
    }

    fn keys(&mut self, prefix: String) -> Vec<String> {
        self.state
            .as_ref()
            .map(|s| s.keys(&prefix))
            .unwrap_or_default()
    }
}
