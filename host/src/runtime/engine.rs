//! The one place the wasmtime engine is configured (every knob is named
//! here), the epoch ticker that enforces deadlines, and the linker that
//! grants plugins their imports.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, OptLevel};

use super::bindings;
use super::cache::ComponentCache;
use super::host_api::CallData;

/// How often the engine's epoch advances: the granularity of deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Native stack a plugin's wasm frames may use before the call traps.
pub const MAX_WASM_STACK: usize = 1 << 20;

/// The wasm engine could not be configured or linked; the payload is wasmtime's message.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the wasm runtime: {0}")]
pub struct RuntimeError(pub String);

/// A configured engine with its linker and component cache.
pub struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<CallData>,
    pub(crate) cache: ComponentCache,
    ticker: Option<Ticker>,
}

impl Runtime {
    /// Configure the engine (component model, epoch deadlines, stack limit),
    /// link WASI (every store gets an empty context) and the host imports of
    /// both worlds, and start the epoch thread, which stops when the runtime
    /// is dropped.
    pub fn new(cache: ComponentCache) -> Result<Runtime, RuntimeError> {
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .max_wasm_stack(MAX_WASM_STACK)
            .cranelift_opt_level(OptLevel::Speed)
            .parallel_compilation(true);
        let engine = Engine::new(&config).map_err(|e| RuntimeError(e.to_string()))?;

        let mut linker: Linker<CallData> = Linker::new(&engine);
        // WASI is linked so that components built by ordinary toolchains
        // instantiate, but every store gets an empty context: no
        // preopened directories, no environment, no sockets (see host_api).
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| RuntimeError(e.to_string()))?;
        bindings::policy::Policy::add_to_linker::<CallData, HasSelf<CallData>>(
            &mut linker,
            |data| data,
        )
        .map_err(|e| RuntimeError(e.to_string()))?;
        // Detectors also import the host-kept key-value state (host_api).
        bindings::detector::stance::plugin::state::add_to_linker::<CallData, HasSelf<CallData>>(
            &mut linker,
            |data| data,
        )
        .map_err(|e| RuntimeError(e.to_string()))?;

        let ticker = Ticker::start(&engine);
        Ok(Runtime {
            engine,
            linker,
            cache,
            ticker: Some(ticker),
        })
    }

    /// Where this runtime keeps precompiled components.
    pub fn cache(&self) -> &ComponentCache {
        &self.cache
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(t) = self.ticker.take() {
            t.stop();
        }
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until stopped.
struct Ticker {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<()>,
}

impl Ticker {
    fn start(engine: &Engine) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let weak = engine.weak();
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("stance-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .unwrap_or_else(|e| panic!("cannot spawn the epoch thread: {e}"));
        Ticker { stop, handle }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.handle.join();
    }
}

/// Deadline in epoch ticks for a timeout (at least one tick; saturating,
/// never wrapping, for a timeout no flag or manifest allows).
pub(crate) fn deadline_ticks(timeout: Duration) -> u64 {
    let ticks = (timeout.as_millis() / EPOCH_TICK.as_millis()).max(1);
    u64::try_from(ticks).unwrap_or(u64::MAX).saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_saturate_instead_of_wrapping() {
        assert_eq!(deadline_ticks(Duration::from_millis(1)), 2);
        assert_eq!(deadline_ticks(Duration::from_secs(10)), 1001);
        assert_eq!(deadline_ticks(Duration::MAX), u64::MAX);
    }
}
