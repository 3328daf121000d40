//! Logging through the host: lines land in Stance's log tagged with the
//! plugin's name. Plugins have no stdout or stderr worth writing to.

use crate::bindings::stance::plugin::host::{self, Level};

/// Log `message` at trace level (shown with `stance -vvv`).
pub fn trace(message: &str) {
    host::log(Level::Trace, message);
}

/// Log `message` at debug level (shown with `stance -vv`).
pub fn debug(message: &str) {
    host::log(Level::Debug, message);
}

/// Log `message` at info level (shown with `stance -v`).
pub fn info(message: &str) {
    host::log(Level::Info, message);
}

/// Log `message` at warn level (shown by default).
pub fn warn(message: &str) {
    host::log(Level::Warn, message);
}

/// Log `message` at error level. It only logs: to fail the batch, return
/// an error from `evaluate`.
pub fn error(message: &str) {
    host::log(Level::Error, message);
}
