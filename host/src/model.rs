//! The records every stage shares (assets, rules, findings, events, alerts,
//! failures and their enumerations). They live in the `stance-model` crate
//! (host/model), which depends on no engine; this module re-exports it whole.

pub use stance_model::*;
