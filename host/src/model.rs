//! The data model every stage shares (DESIGN.md, "Data model"): assets,
//! rules, findings and collections. It lives in the `stance-model` crate,
//! which the collectors build against too; this module re-exports it whole.

pub use stance_model::*;
