//! A Sigma rule engine (specification v2) over JSON events: detection rules
//! with every value modifier, the full condition grammar, and correlation
//! rules whose windows live in a caller-supplied key-value store.
//!
//! The crate is pure computation with no I/O, threads or clock: rules come in
//! as YAML text and events as JSON, so it runs natively and inside a
//! `wasm32-wasip2` detector plugin alike. Semantics and the choices made where
//! the specification is silent are listed in `README.md` next to this crate;
//! how Stance runs it (the detector plugin, its state, alerts) is in
//! `docs/detection.md`.
//!
//! ```
//! use stance_sigma_engine::{Engine, EngineConfig, Event, MemoryStore};
//! let rule = "title: Root login\nid: r1\nlogsource: {product: aws, service: cloudtrail}\n\
//!             detection:\n  sel:\n    userIdentity.type: Root\n  condition: sel\nlevel: high\n";
//! let (engine, errors) = Engine::load(&[("root.yml", rule)], EngineConfig::default());
//! assert!(errors.is_empty());
//! let ev = Event::from_json("e1", "aws_cloudtrail", "2024-01-01T00:00:00Z",
//!                           r#"{"userIdentity": {"type": "Root"}}"#).unwrap();
//! let matches = engine.evaluate(&[ev], &mut MemoryStore::default());
//! assert_eq!(matches[0].rule_id, "r1");
//! ```

#![warn(missing_docs)]

mod condition;
mod correlation;
mod detection;
mod engine;
mod error;
mod event;
mod modifiers;
mod pattern;
mod rule;
mod stream;

pub use correlation::{MemoryStore, StateStore};
pub use engine::{
    Engine, EngineConfig, Evaluation, FieldEquals, FieldTarget, Match, Prefilter, RuleInfo,
    RuleKind, Screen, SourceMapping,
};
pub use error::{EvalIssue, LoadError};
pub use event::Event;
pub use modifiers::{CmpOp, Placeholders};
pub use rule::{CorrelationType, Level, LogSource, RuleMeta, parse_timespan};
