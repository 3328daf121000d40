//! Host bindings generated from `wit/` (the only contract with plugins).

pub mod policy {
    wasmtime::component::bindgen!({
        world: "policy",
        path: "../wit",
    });
}

/// The detector world shares `types` and `host` with the policy world: one
/// set of Rust types and one linker definition serve both.
pub mod detector {
    wasmtime::component::bindgen!({
        world: "detector",
        path: "../wit",
        with: {
            "stance:plugin/types": crate::runtime::bindings::policy::stance::plugin::types,
            "stance:plugin/host": crate::runtime::bindings::policy::stance::plugin::host,
        },
    });
}

/// A detector that also exports `prefilter` (optional, additive). Only its
/// `prefilter` export is used: the host looks it up on a `detector`
/// component and does without it when it is absent.
pub mod prefiltered {
    wasmtime::component::bindgen!({
        world: "detector-prefiltered",
        path: "../wit",
        with: {
            "stance:plugin/types": crate::runtime::bindings::policy::stance::plugin::types,
            "stance:plugin/host": crate::runtime::bindings::policy::stance::plugin::host,
            "stance:plugin/state": crate::runtime::bindings::detector::stance::plugin::state,
        },
    });
}
