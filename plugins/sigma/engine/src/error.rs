//! The engine's errors: load-time errors, each naming the rule file, the
//! document within it and its line, the rule's title when known, and the
//! field at fault;
//! and the issues met while evaluating, which never stop a batch.
//!
//! Only the types live here; the modules that read rules and run batches
//! decide what is an error.

use std::fmt;

/// Why one rule (or one YAML document) could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LoadError {
    /// The name the rule text was given (usually its file path).
    pub file: String,
    /// 1-based index of the YAML document within the source.
    pub document: usize,
    /// 1-based line of the source: where the YAML syntax error is, or
    /// where the document's content starts (0 when unknown).
    pub line: usize,
    /// The rule's title, when the document had one.
    pub title: Option<String>,
    /// The field at fault, as a dotted path (`detection.selection.eventName|contains`).
    pub field: Option<String>,
    /// What is wrong, and where it helps, how to write it instead.
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if self.document > 1 {
            write!(f, " (document {})", self.document)?;
        }
        if let Some(title) = &self.title {
            write!(f, " [{title}]")?;
        }
        f.write_str(": ")?;
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// An error inside one rule, before the rule's source and title are attached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RuleError {
    /// The field at fault, relative to the part of the rule being read.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl RuleError {
    /// An error about the part being read as a whole.
    pub fn new(message: impl Into<String>) -> Self {
        RuleError {
            field: None,
            message: message.into(),
        }
    }

    /// An error about `field` of the part being read.
    pub fn at(field: impl Into<String>, message: impl Into<String>) -> Self {
        RuleError {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// Prefixes the field path with `parent` (`detection` + `selection` → `detection.selection`).
    pub fn within(mut self, parent: &str) -> Self {
        self.field = Some(match self.field {
            Some(f) if !f.is_empty() => format!("{parent}.{f}"),
            _ => parent.to_string(),
        });
        self
    }
}

/// A problem met while evaluating a batch that did not stop the batch: an
/// event whose time cannot be read, or a state store that refused a write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalIssue {
    /// An event matched a rule that feeds correlations, but its time could
    /// not be read, so no correlation counted it.
    #[error("event {event_id}: time {time:?} is not RFC 3339; correlations skipped it")]
    BadTime {
        /// The event's id.
        event_id: String,
        /// The event's time, as given.
        time: String,
    },
    /// The state store refused a write; the window it held is out of date.
    #[error("state store refused key {key}: {message}")]
    State {
        /// The key written.
        key: String,
        /// The store's reason.
        message: String,
    },
    /// A stored window could not be read; it was started afresh.
    #[error("state key {key} held unreadable data; the window was reset")]
    CorruptState {
        /// The key read.
        key: String,
    },
}
