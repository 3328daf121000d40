//! The toolkit every service collector shares, and nothing service-specific:
//! the SDK configuration ([`sdk`]), the scope of a collection (accounts and
//! regions, [`scope`]), [`Target`] (the account and region a collector reads:
//! calls under the concurrency limit, pages, assets), [`Output`], the
//! classification of SDK failures ([`errors`]), the recording of what could
//! not be read ([`record`]: gaps and collection errors) and the
//! normalization of what AWS returns ([`doc`]). It never names a service's
//! resource types and never decides which services run (`services/` and
//! `run.rs` do).
//!
//! A build with only some services leaves parts of it unused, which is no
//! defect: the build with every service (the `all` feature, on by default and
//! in the host's `aws` feature) checks it for dead code.
#![cfg_attr(not(feature = "all"), allow(dead_code, unused_imports))]

pub(crate) mod doc;
pub(crate) mod errors;
mod output;
pub(crate) mod record;
pub(crate) mod scope;
pub(crate) mod sdk;
mod target;

pub(crate) use output::Output;
pub(crate) use target::{Target, next_page};

#[cfg(test)]
pub(crate) use target::tests::target as test_target;
