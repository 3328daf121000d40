//! Errors of loading policies: each names the file, line and column.
//!
//! Errors met while evaluating are `eval`'s: they make an `error` outcome,
//! never a load error.

use std::fmt;

/// A syntax error at a byte offset of an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// What is wrong.
    pub message: String,
    /// Byte offset into the expression text where it went wrong.
    pub offset: usize,
}

impl SyntaxError {
    /// An error at byte `offset`.
    pub fn new(message: impl Into<String>, offset: usize) -> Self {
        SyntaxError {
            message: message.into(),
            offset,
        }
    }
}

/// A policy file that cannot be loaded, located in its source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LoadError {
    /// The file's path, as given to the loader.
    pub file: String,
    /// 1-based; 0 when the problem concerns the whole file.
    pub line: usize,
    /// 1-based; 0 when the problem concerns the whole file.
    pub column: usize,
    /// The policy at fault, when the file got far enough to name it.
    pub policy_id: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, &self.policy_id) {
            (0, Some(id)) => write!(f, "{}: policy {id}: {}", self.file, self.message),
            (0, None) => write!(f, "{}: {}", self.file, self.message),
            (_, Some(id)) => write!(
                f,
                "{}:{}:{}: policy {id}: {}",
                self.file, self.line, self.column, self.message
            ),
            (_, None) => write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            ),
        }
    }
}

/// Every problem found while loading a set of policy files.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LoadErrors(
    /// File by file, in the order found; duplicate ids come last.
    pub Vec<LoadError>,
);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}
