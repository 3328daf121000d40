//! Write Stance plugins in Rust: implement one trait, invoke one macro.
//!
//! A policy plugin implements [`Policy`] and calls [`export_policy!`]; a
//! detector implements [`Detector`] (feature `detector`) and calls
//! [`export_detector!`]. The WIT bindings that wit-bindgen generates stay
//! inside this crate; plugin code sees plain Rust types and the helpers in
//! [`fields`], [`findings`], [`settings`] and [`log`].
//!
//! ```ignore
//! use stance_sdk::prelude::*;
//!
//! struct NoPublicBuckets;
//!
//! impl Policy for NoPublicBuckets {
//!     fn describe() -> Result<PluginInfo, PluginError> {
//!         Ok(PluginInfo::new("no-public-buckets", "0.1.0").rule(
//!             RuleInfo::new("acme-s3-1", "Buckets are not public", Severity::High)
//!                 .resource_types(["aws_s3_bucket"]),
//!         ))
//!     }
//!     fn evaluate(batch: Vec<Asset>) -> Result<Vec<Finding>, PluginError> {
//!         batch.iter().map(|asset| {
//!             let body = asset.body_json()?;
//!             let public = field(&body, "policy_status.is_public").and_then(|v| v.as_bool());
//!             Ok(match public {
//!                 Some(true) => Finding::fail("acme-s3-1", asset, "bucket is public"),
//!                 _ => Finding::pass("acme-s3-1", asset),
//!             })
//!         }).collect()
//!     }
//! }
//! stance_sdk::export_policy!(NoPublicBuckets);
//! ```
//!
//! Enable exactly one of the features `policy` (the default) and `detector`:
//! each embeds its world's component type into the plugin.

#![warn(missing_docs)]

#[cfg(all(feature = "policy", feature = "detector"))]
compile_error!("stance-sdk: enable either the `policy` or the `detector` feature, not both");

pub mod fields;
pub mod findings;
pub mod info;
pub mod log;
pub mod settings;

#[cfg(feature = "detector")]
pub mod detector;
#[cfg(feature = "policy")]
pub mod policy;

#[cfg(feature = "detector")]
pub use detector::{Detector, state};
#[cfg(feature = "policy")]
pub use policy::Policy;

/// The generated WIT bindings of the enabled world. Not a stable API: use the
/// re-exports at the crate root.
#[doc(hidden)]
pub mod bindings {
    #[cfg(feature = "policy")]
    wit_bindgen::generate!({
        world: "policy",
        path: "../../wit",
        generate_unused_types: true,
        pub_export_macro: true,
        export_macro_name: "__stance_export_policy_world",
        default_bindings_module: "stance_sdk::bindings",
    });

    #[cfg(feature = "detector")]
    wit_bindgen::generate!({
        world: "detector",
        path: "../../wit",
        generate_unused_types: true,
        pub_export_macro: true,
        export_macro_name: "__stance_export_detector_world",
        default_bindings_module: "stance_sdk::bindings",
    });
}

pub use bindings::stance::plugin::types::{
    Alert, Asset, ComplianceRef, Event, Evidence, Finding, PluginError, PluginInfo, Remediation,
    RuleInfo, SettingInfo, Severity, Status, Tag,
};
pub use fields::field;

/// The WIT package version these bindings were generated from.
pub const WIT_VERSION: &str = "0.1.0";

/// Everything a plugin usually needs, in one `use`.
pub mod prelude {
    #[cfg(feature = "detector")]
    pub use crate::Detector;
    #[cfg(feature = "policy")]
    pub use crate::Policy;
    pub use crate::fields::{field, field_array, field_bool, field_i64, field_str};
    pub use crate::{
        Alert, Asset, ComplianceRef, Event, Evidence, Finding, PluginError, PluginInfo,
        Remediation, RuleInfo, SettingInfo, Severity, Status, Tag,
    };
    pub use serde_json::{Value, json};
}
