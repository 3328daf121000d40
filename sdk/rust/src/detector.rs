//! The detector world: events in, alerts out, with a host-kept state store.

use crate::{Alert, Event, PluginError, PluginInfo};

/// A detector plugin. Instances are fresh per batch: keep anything that must
/// outlive a batch (correlation windows) in [`state`].
pub trait Detector {
    /// The plugin's name, version, rules and settings. The host calls this
    /// once with the settings in place before the plugin goes live; return an
    /// error to refuse settings that are wrong.
    fn describe() -> Result<PluginInfo, PluginError>;

    /// Look at a batch of events, in the order read: the alerts they raise.
    /// An `Err` fails the whole batch: it raises no alerts and what it did to
    /// [`state`] is rolled back.
    fn evaluate(batch: Vec<Event>) -> Result<Vec<Alert>, PluginError>;
}

/// The bounded key-value store the host keeps for this detector. It survives
/// batch boundaries and hot reloads.
pub mod state {
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    use crate::PluginError;
    use crate::bindings::stance::plugin::state as host_state;

    /// The raw value stored under `key`, if any.
    pub fn get_bytes(key: &str) -> Option<Vec<u8>> {
        host_state::get(key)
    }

    /// Store a raw value under `key`; fails when the key is too long or the
    /// detector's quota (bytes or keys) would be exceeded.
    pub fn set_bytes(key: &str, value: &[u8]) -> Result<(), PluginError> {
        host_state::set(key, value).map_err(PluginError::new)
    }

    /// The JSON value stored under `key`, if any.
    pub fn get<T: DeserializeOwned>(key: &str) -> Result<Option<T>, PluginError> {
        match host_state::get(key) {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| PluginError::new(format!("state {key}: {e}"))),
        }
    }

    /// Store `value` as JSON under `key`; fails as [`set_bytes`] does, or
    /// when the value does not serialise.
    pub fn set<T: Serialize>(key: &str, value: &T) -> Result<(), PluginError> {
        let bytes =
            serde_json::to_vec(value).map_err(|e| PluginError::new(format!("state {key}: {e}")))?;
        set_bytes(key, &bytes)
    }

    /// Remove `key`; nothing happens when it is not set.
    pub fn delete(key: &str) {
        host_state::delete(key);
    }

    /// Every key that starts with `prefix`, in byte order (all keys for `""`).
    pub fn keys(prefix: &str) -> Vec<String> {
        host_state::keys(prefix)
    }
}

/// Export a type implementing [`Detector`] as the plugin's component.
#[macro_export]
macro_rules! export_detector {
    ($plugin:ident) => {
        const _: () = {
            impl $crate::bindings::exports::stance::plugin::detector_plugin::Guest for $plugin {
                fn describe() -> ::std::result::Result<$crate::PluginInfo, $crate::PluginError> {
                    <$plugin as $crate::Detector>::describe()
                }
                fn evaluate(
                    batch: ::std::vec::Vec<$crate::Event>,
                ) -> ::std::result::Result<::std::vec::Vec<$crate::Alert>, $crate::PluginError>
                {
                    <$plugin as $crate::Detector>::evaluate(batch)
                }
            }
            $crate::bindings::__stance_export_detector_world!($plugin with_types_in $crate::bindings);
        };
    };
}
