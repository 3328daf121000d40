//! Logging through the host: lines land in Stance's log tagged with the
//! plugin's name. Plugins have no stdout or stderr worth writing to.

use crate::bindings::stance::plugin::host::{self, Level};

pub fn trace(message: &str) {
    host::log(Level::Trace, message);
}

pub fn debug(message: &str) {
    host::log(Level::Debug, message);
}

pub fn info(message: &str) {
    host::log(Level::Info, message);
}

pub fn warn(message: &str) {
    host::log(Level::Warn, message);
}

pub fn error(message: &str) {
    host::log(Level::Error, message);
}
