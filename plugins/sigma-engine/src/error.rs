//! Load-time errors: every problem names the rule file, the document within
//! it, the rule's title when known, and the field at fault.

use std::fmt;

/// Why one rule (or one YAML document) could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LoadError {
    /// The name the rule text was given (usually its file path).
    pub file: String,
    /// 1-based index of the YAML document within the source.
    pub document: usize,
    /// The rule's title, when the document had one.
    pub title: Option<String>,
    /// The field at fault, as a dotted path (`detection.selection.eventName|contains`).
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
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
    pub field: Option<String>,
    pub message: String,
}

impl RuleError {
    pub fn new(message: impl Into<String>) -> Self {
        RuleError {
            field: None,
            message: message.into(),
        }
    }

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
    #[error("event {event_id}: time {time:?} is not RFC 3339; correlations skipped it")]
    BadTime { event_id: String, time: String },
    #[error("state store refused key {key}: {message}")]
    State { key: String, message: String },
    #[error("state key {key} held unreadable data; the window was reset")]
    CorruptState { key: String },
}
