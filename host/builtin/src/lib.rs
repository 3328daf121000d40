//! What the `stance` binary embeds, so that one installed file is a complete
//! scanner: the YAML policy engine and the Sigma engine as wasm components
//! (built for wasm32-wasip2 by `build.rs`), the built-in AWS policies and
//! Sigma rules, the compliance framework catalogues, and the scaffolds of
//! `stance plugin new`. Data only: what runs it is the host's business.

#![warn(missing_docs)]

/// The declarative policy engine (`plugins/yaml-policy/component` over
/// `plugins/yaml-policy/engine`) as a policy-world component.
pub const YAML_POLICY_WASM: &[u8] = include_bytes!(concat!(
    env!("OUT_DIR"),
    "/stance_yaml_policy_component.wasm"
));

/// The Sigma engine (`plugins/sigma/component` over `plugins/sigma/engine`)
/// as a detector-world component.
pub const SIGMA_WASM: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/stance_sigma_component.wasm"));

mod generated {
    include!(concat!(env!("OUT_DIR"), "/builtin_policies.rs"));
    include!(concat!(env!("OUT_DIR"), "/templates.rs"));

    pub fn policies() -> &'static [(&'static str, &'static str)] {
        POLICIES
    }
    pub fn frameworks() -> &'static [(&'static str, &'static str)] {
        FRAMEWORKS
    }
    pub fn sigma_rules() -> &'static [(&'static str, &'static str)] {
        SIGMA_RULES
    }
    pub fn templates() -> &'static [(&'static str, &'static str)] {
        TEMPLATES
    }
}

/// The built-in AWS policies (`policies/aws`): (path relative to the
/// repository, YAML text).
pub fn policies() -> &'static [(&'static str, &'static str)] {
    generated::policies()
}

/// The compliance framework catalogues (`policies/frameworks`).
pub fn frameworks() -> &'static [(&'static str, &'static str)] {
    generated::frameworks()
}

/// The built-in Sigma rules (`policies/cloudtrail`): (path relative to the
/// repository, YAML text).
pub fn sigma_rules() -> &'static [(&'static str, &'static str)] {
    generated::sigma_rules()
}

/// The plugin scaffolds (`sdk/templates/LANG/WORLD/…`): (path relative to
/// `sdk/templates`, text).
pub fn templates() -> &'static [(&'static str, &'static str)] {
    generated::templates()
}
