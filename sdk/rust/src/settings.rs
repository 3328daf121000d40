//! The plugin's own settings, as the host validated and handed them over.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::PluginError;
use crate::bindings::stance::plugin::host;

/// The settings as a JSON object (`{}` when none are configured).
pub fn json() -> Result<Value, PluginError> {
    serde_json::from_str(&host::settings())
        .map_err(|e| PluginError::new(format!("settings are not JSON: {e}")))
}

/// The settings deserialized into `T`.
pub fn get<T: DeserializeOwned>() -> Result<T, PluginError> {
    serde_json::from_str(&host::settings())
        .map_err(|e| PluginError::new(format!("invalid settings: {e}")))
}
