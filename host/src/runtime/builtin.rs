//! Plugins embedded in the `stance` binary (the `stance-builtin` crate), and
//! the origins they are reported under.

pub use stance_builtin::{SIGMA_WASM, YAML_POLICY_WASM, frameworks, policies, sigma_rules};

/// The origin reported for the embedded policy engine.
pub const YAML_POLICY_ORIGIN: &str = "builtin:yaml-policy";

/// The origin reported for the embedded Sigma engine.
pub const SIGMA_ORIGIN: &str = "builtin:sigma";
