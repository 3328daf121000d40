//! The plugin developer kit behind `stance plugin new|build|test`:
//! scaffolding a project, building it with its language's own toolchain
//! (and knowing when a build is stale), the case-file format, and running
//! case files against a component. Projects are read through
//! `catalog::project`; measuring a component is `bench::plugin`'s.

pub mod build;
pub mod cases;
pub mod digest;
pub mod metadata;
pub mod scaffold;
pub mod sdk;
pub mod suite;

pub use crate::catalog::{Lang, Project, ProjectError};
