//! The policy world: assets in, findings out.

use crate::{Asset, Finding, PluginError, PluginInfo};

/// A policy plugin. Both functions are called on a fresh instance, so a
/// plugin keeps no state between batches.
pub trait Policy {
    /// The plugin's name, version, rules and settings. The host calls this
    /// once with the settings in place before the plugin goes live; return an
    /// error to refuse settings that are wrong.
    fn describe() -> Result<PluginInfo, PluginError>;

    /// Evaluate a batch of assets: one finding per (rule, asset) the plugin
    /// decides on. An `Err` fails the whole batch: the host records every
    /// (rule, asset) of the batch as `error`. To fail one rule on one asset,
    /// return [`Finding::error`](crate::Finding::error) instead.
    fn evaluate(batch: Vec<Asset>) -> Result<Vec<Finding>, PluginError>;
}

/// Export a type implementing [`Policy`] as the plugin's component.
#[macro_export]
macro_rules! export_policy {
    ($plugin:ident) => {
        const _: () = {
            impl $crate::bindings::exports::stance::plugin::policy_plugin::Guest for $plugin {
                fn describe() -> ::std::result::Result<$crate::PluginInfo, $crate::PluginError> {
                    <$plugin as $crate::Policy>::describe()
                }
                fn evaluate(
                    batch: ::std::vec::Vec<$crate::Asset>,
                ) -> ::std::result::Result<::std::vec::Vec<$crate::Finding>, $crate::PluginError>
                {
                    <$plugin as $crate::Policy>::evaluate(batch)
                }
            }
    $crate::bindings::__stance_export_policy_world!($plugin with_types_in $crate::bindings);
        };
    };
}
