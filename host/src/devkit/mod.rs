//! The plugin developer kit behind `stance plugin new|build|test|bench`:
//! plugin projects (`stance-plugin.toml`), scaffolding, building with each
//! language's own toolchain, running case files, and measuring a component.

pub mod bench;
pub mod build;
pub mod metadata;
pub mod project;
pub mod scaffold;
pub mod sdk;
pub mod suite;

pub use project::{Lang, Project, ProjectError};
