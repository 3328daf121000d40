//! Mutes: accepted risks, kept in a versioned YAML file (`.stance/mutes.yaml`
//! by default; `docs/mutes.md`). This module owns the file's format
//! (`file`: parsing and validation that names file, line and field), which
//! failing findings a mute covers on a given day, the audit of a file
//! against a scan's failures (`audit`), adding a mute without rewriting
//! what is there (`edit`), and the glob patterns that alert suppressions
//! share (`glob`).
//!
//! It never touches the store, runs plugins or reads the environment: the
//! pipeline hands it findings and the day, the CLI hands it paths.

pub mod audit;
pub mod edit;
mod file;
pub mod glob;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::model::MuteRef;

pub use file::parse;

/// Why a mute file was refused.
#[derive(Debug, thiserror::Error)]
pub enum MuteError {
    /// The file could not be read.
    #[error("{}: cannot read the mute file: {cause}", file.display())]
    Read {
        /// The mute file.
        file: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// The file could not be written.
    #[error("{}: cannot write the mute file: {cause}", file.display())]
    Write {
        /// The mute file.
        file: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// The file is not a valid mute file: where, which field, and what to do.
    #[error("{}:{line}: {what}", file.display())]
    Invalid {
        /// The mute file.
        file: PathBuf,
        /// The line (1-based) of the mute or the field.
        line: usize,
        /// The field at fault, when one is.
        field: Option<String>,
        /// The mute, the field and the message, as printed.
        what: String,
    },
}

/// A resource pattern: an ARN glob, or a regular expression written with
/// the `re:` prefix (matched against the whole resource id).
#[derive(Debug, Clone)]
pub enum Pattern {
    /// `*` and `?` wildcards.
    Glob(String),
    /// `re:...`, anchored at both ends.
    Regex(regex::Regex, String),
}

impl Pattern {
    /// Whether the resource id matches.
    pub fn matches(&self, text: &str) -> bool {
        match self {
            Pattern::Glob(g) => glob::matches(g, text),
            Pattern::Regex(re, _) => re.is_match(text),
        }
    }

    /// The pattern as written in the file.
    pub fn as_written(&self) -> &str {
        match self {
            Pattern::Glob(g) => g,
            Pattern::Regex(_, written) => written,
        }
    }
}

/// One validated mute.
#[derive(Debug, Clone)]
pub struct Mute {
    /// Its id, unique in the file; what findings' `muted_by.id` names.
    pub id: String,
    /// Rule ids or globs (any of them).
    pub rules: Vec<String>,
    /// Resource patterns (any of them).
    pub resources: Vec<Pattern>,
    /// Account globs (any of them); every account when empty.
    pub accounts: Vec<String>,
    /// Region globs (any of them); every region when empty.
    pub regions: Vec<String>,
    /// Tags the resource must carry, each value a glob (all of them).
    pub tags: BTreeMap<String, String>,
    /// Why the risk is accepted.
    pub reason: String,
    /// Who owns the decision.
    pub owner: Option<String>,
    /// The day the mute stops applying (it applies before that day, UTC);
    /// `None` for a permanent mute.
    pub expires: Option<NaiveDate>,
    /// When it was added.
    pub created: Option<NaiveDate>,
    /// The line of the mute's list item.
    pub line: usize,
    /// The line of its `rules` field.
    pub rules_line: usize,
}

/// What a finding is, for matching.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The rule's id.
    pub rule_id: &'a str,
    /// The resource's id (an ARN for AWS).
    pub resource: &'a str,
    /// Its account.
    pub account: &'a str,
    /// Its region.
    pub region: &'a str,
    /// The resource's tags.
    pub tags: &'a [(String, String)],
}

impl Mute {
    /// Whether the mute covers the subject, expiry aside: a rule, a
    /// resource, and (when given) an account, a region, and every tag.
    pub fn covers(&self, s: &Subject<'_>) -> bool {
        let any = |globs: &[String], text: &str| {
            globs.is_empty() || globs.iter().any(|g| glob::matches(g, text))
        };
        self.rules.iter().any(|r| glob::matches(r, s.rule_id))
            && self.resources.iter().any(|p| p.matches(s.resource))
            && any(&self.accounts, s.account)
            && any(&self.regions, s.region)
            && self.tags.iter().all(|(k, v)| {
                s.tags
                    .iter()
                    .any(|(tk, tv)| tk == k && glob::matches(v, tv))
            })
    }

    /// Whether it has expired on `today` (UTC): a mute stops applying on
    /// its `expires` day.
    pub fn expired(&self, today: NaiveDate) -> bool {
        self.expires.is_some_and(|e| today >= e)
    }

    /// What a muted finding keeps of the mute.
    pub fn to_ref(&self) -> MuteRef {
        MuteRef {
            id: self.id.clone(),
            reason: self.reason.clone(),
            owner: self.owner.clone(),
            expires: self.expires.map(|d| d.to_string()),
        }
    }
}

/// Which mutes cover a finding on a day.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cover<'a> {
    /// The first mute in force that covers it: the finding is muted.
    pub active: Option<&'a Mute>,
    /// When none in force does, the first expired one that would have.
    pub expired: Option<&'a Mute>,
}

/// The mutes of one file, in file order.
#[derive(Debug, Clone, Default)]
pub struct MuteSet {
    /// The file they came from; `None` when there was none.
    pub file: Option<PathBuf>,
    /// The mutes.
    pub mutes: Vec<Mute>,
}

impl MuteSet {
    /// Read and validate the mute file at `path`. A missing file is no
    /// mutes unless `required` (the user named it with `--mutes`).
    pub fn load(path: &Path, required: bool) -> Result<MuteSet, MuteError> {
        match std::fs::read_to_string(path) {
            Ok(text) => parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                Ok(MuteSet::default())
            }
            Err(cause) => Err(MuteError::Read {
                file: path.to_path_buf(),
                cause,
            }),
        }
    }

    /// Whether there are no mutes.
    pub fn is_empty(&self) -> bool {
        self.mutes.is_empty()
    }

    /// Whether any mute looks at tags (the caller then needs them).
    pub fn uses_tags(&self) -> bool {
        self.mutes.iter().any(|m| !m.tags.is_empty())
    }

    /// The mutes that cover a subject on `today`.
    pub fn cover(&self, s: &Subject<'_>, today: NaiveDate) -> Cover<'_> {
        let mut cover = Cover::default();
        for m in self.mutes.iter().filter(|m| m.covers(s)) {
            if !m.expired(today) {
                cover.active = Some(m);
                return cover;
            }
            cover.expired = cover.expired.or(Some(m));
        }
        cover
    }

    /// Refuse a mute whose rule entry (not a glob) names no rule that
    /// `known` knows: a typo must never mute silently, nor silently mute
    /// nothing.
    pub fn check_rules(&self, known: &dyn Fn(&str) -> bool) -> Result<(), MuteError> {
        for m in &self.mutes {
            if let Some(r) = m
                .rules
                .iter()
                .find(|r| !glob::is_glob(r) && !known(r.as_str()))
            {
                return Err(MuteError::Invalid {
                    file: self.file.clone().unwrap_or_default(),
                    line: m.rules_line,
                    field: Some("rules".into()),
                    what: format!(
                        "mute `{}`, field `rules`: no loaded rule has the id `{r}`; fix the id (`stance policies list` lists them) or write a glob such as `{r}*`",
                        m.id
                    ),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
