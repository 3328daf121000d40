//! Plugins and policies embedded in the `stance` binary, so that one
//! installed file is a complete scanner. `host/build.rs` compiles the
//! plugins to wasm32-wasip2 and lists the policy files.

/// The declarative policy engine (`plugins/yaml-policy`) as a wasm component.
pub const YAML_POLICY_WASM: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/stance_yaml_policy.wasm"));

/// The origin reported for the embedded policy engine.
pub const YAML_POLICY_ORIGIN: &str = "builtin:yaml-policy";

/// The Sigma engine (`plugins/sigma`) as a detector component.
pub const SIGMA_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/stance_sigma_plugin.wasm"));

/// The origin reported for the embedded Sigma engine.
pub const SIGMA_ORIGIN: &str = "builtin:sigma";

mod generated {
    include!(concat!(env!("OUT_DIR"), "/builtin_policies.rs"));
}

/// The built-in policy pack (`policies/aws`): (path relative to the repository, YAML text).
pub fn policies() -> &'static [(&'static str, &'static str)] {
    generated::POLICIES
}

/// The compliance framework catalogues (`policies/frameworks`).
pub fn frameworks() -> &'static [(&'static str, &'static str)] {
    generated::FRAMEWORKS
}

/// The built-in Sigma detection pack (`policies/cloudtrail`): (path relative to the repository, YAML text).
pub fn sigma_rules() -> &'static [(&'static str, &'static str)] {
    generated::SIGMA_RULES
}
