//! Hostile inputs: parsers (see the module doc of `hostile`).

#[allow(unused_imports)]
use super::*;
