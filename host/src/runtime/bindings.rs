//! Host bindings generated from `wit/` (the only contract with plugins).

pub mod policy {
    wasmtime::component::bindgen!({
        world: "policy",
        path: "../wit",
    });
}
