//! Event logs read as `--log-format cloudtrail` and as `auto` (any bytes, gzip
//! included, through the host's own reader with its default limits): no
//! panic, no hang, no memory blow-up, and every event has an id and a JSON
//! body.

#![no_main]

use libfuzzer_sys::fuzz_target;
use stance_fuzz::check_events;
use stance_fuzz::event_input::{LogFormat, read_bytes};

fuzz_target!(|data: &[u8]| {
    for format in [LogFormat::Cloudtrail, LogFormat::Auto] {
        match read_bytes(data, format) {
            Ok(events) => check_events(&events),
            Err(refusal) => assert!(!refusal.is_empty(), "a refusal without a reason"),
        }
    }
});
