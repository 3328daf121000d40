//! Why a call into a plugin failed ([`PluginFailure`]), and the
//! classification of what wasmtime reports (a trap, an epoch interrupt, a
//! refused memory growth, a panic message on stderr) into one of those
//! causes. A failed call fails its batch alone; the run goes on.

use wasmtime::Trap;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use super::limits::Limits;

/// Why a call into a plugin failed. The scan goes on; the batch's results
/// are recorded as `error` with this cause.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PluginFailure {
    /// The call ran past its deadline.
    #[error("timed out after {} ms", .0.as_millis())]
    Timeout(std::time::Duration),
    /// The instance asked for more memory than its cap (bytes).
    #[error("exceeded its memory limit of {} MiB", .0 >> 20)]
    MemoryLimit(usize),
    /// The wasm stack overflowed.
    #[error("overflowed its stack")]
    StackOverflow,
    /// The guest panicked, with its message and location.
    #[error("panicked: {0}")]
    Panic(String),
    /// Any other trap.
    #[error("trapped: {0}")]
    Trap(String),
    /// What the call returned was bigger than the output cap.
    #[error("returned {size} bytes, over the output limit of {limit} bytes")]
    OutputTooLarge {
        /// Bytes returned.
        size: usize,
        /// The cap.
        limit: usize,
    },
    /// What the call returned breaks the contract.
    #[error("returned invalid results: {0}")]
    InvalidOutput(String),
    /// The plugin returned its own error for the batch.
    #[error("reported an error{}: {message}", .rule_id.as_ref().map(|r| format!(" in rule {r}")).unwrap_or_default())]
    PluginError {
        /// The rule the plugin named, if any.
        rule_id: Option<String>,
        /// The plugin's message.
        message: String,
    },
    /// The component could not be instantiated.
    #[error("could not be instantiated: {0}")]
    Instantiate(String),
}

impl PluginFailure {
    /// A short stable name of the kind of failure, for storage and filters.
    pub fn kind(&self) -> &'static str {
        match self {
            PluginFailure::Timeout(_) => "timeout",
            PluginFailure::MemoryLimit(_) => "memory-limit",
            PluginFailure::StackOverflow => "stack-overflow",
            PluginFailure::Panic(_) => "panic",
            PluginFailure::Trap(_) => "trap",
            PluginFailure::OutputTooLarge { .. } => "output-too-large",
            PluginFailure::InvalidOutput(_) => "invalid-output",
            PluginFailure::PluginError { .. } => "plugin-error",
            PluginFailure::Instantiate(_) => "instantiate",
        }
    }

    /// The rule the failure is attributed to, when known.
    pub fn rule_id(&self) -> Option<&str> {
        match self {
            PluginFailure::PluginError { rule_id, .. } => rule_id.as_deref(),
            _ => None,
        }
    }
}

/// Turn what wasmtime reported for a call into its cause.
pub(crate) fn classify(
    err: wasmtime::Error,
    memory_hit: bool,
    stderr: &MemoryOutputPipe,
    limits: &Limits,
    instantiating: bool,
) -> PluginFailure {
    let output = String::from_utf8_lossy(&stderr.contents()).into_owned();
    if memory_hit {
        return PluginFailure::MemoryLimit(limits.memory_bytes);
    }
    match err.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => PluginFailure::Timeout(limits.timeout),
        Some(Trap::StackOverflow) => PluginFailure::StackOverflow,
        Some(trap) => match panic_message(&output) {
            Some(message) => PluginFailure::Panic(message),
            None => {
                let tail = last_line(&output);
                PluginFailure::Trap(if tail.is_empty() {
                    trap.to_string()
                } else {
                    format!("{trap} ({tail})")
                })
            }
        },
        None if instantiating => PluginFailure::Instantiate(format!("{err:#}")),
        None => PluginFailure::InvalidOutput(format!("{err:#}")),
    }
}

/// The message of a Rust panic printed to stderr, if there is one.
fn panic_message(output: &str) -> Option<String> {
    let start = output.find("panicked at ")?;
    let rest = &output[start + "panicked at ".len()..];
    let (location, message) = rest.split_once('\n').unwrap_or((rest, ""));
    let message: Vec<&str> = message
        .lines()
        .take_while(|l| !l.starts_with("note:"))
        .collect();
    Some(format!(
        "{} at {}",
        message.join(" ").trim(),
        location.trim_end_matches(':')
    ))
}

fn last_line(output: &str) -> &str {
    output
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages_are_extracted() {
        let out = "\nthread '<unnamed>' panicked at src/lib.rs:12:9:\nboom here\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(panic_message(out).unwrap(), "boom here at src/lib.rs:12:9");
        assert_eq!(last_line("a\nlast words\n\n"), "last words");
    }
}
