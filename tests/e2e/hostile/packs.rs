//! Hostile inputs: packs (see the module doc of `hostile`).

#[allow(unused_imports)]
use super::*;
