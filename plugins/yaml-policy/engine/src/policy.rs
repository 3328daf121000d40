//! Policy files: the YAML schema, its validation, and the mapping of
//! expression errors back to a line and column of the file.
//!
//! It never evaluates a policy; that is `eval`'s, driven by the crate's
//! `PolicySet`.

use serde::Deserialize;
pub use stance_model::{ComplianceRef, Remediation, Severity, type_matches};

use crate::error::{LoadError, SyntaxError};
use crate::parser::{Expr, parse};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckDoc {
    /// Accepted for compatibility with the original Stance format; only
    /// `expression` exists.
    #[serde(rename = "type", default)]
    kind: Option<String>,
    expression: String,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyDoc {
    id: String,
    name: String,
    #[serde(default)]
    description: String,
    severity: Severity,
    resource_type: String,
    check: CheckDoc,
    #[serde(default)]
    compliance: Vec<ComplianceRef>,
    #[serde(default)]
    remediation: Remediation,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default = "yes")]
    enabled: bool,
}

fn yes() -> bool {
    true
}

/// A file holds one policy (a mapping) or a list of them; parsed in one pass
/// so that errors keep their position in the file.
struct OneOrMany(Vec<PolicyDoc>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a policy (a mapping) or a list of policies")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<OneOrMany, A::Error> {
                PolicyDoc::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|p| OneOrMany(vec![p]))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<OneOrMany, A::Error> {
                Vec::<PolicyDoc>::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(OneOrMany)
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<OneOrMany, E> {
                Ok(OneOrMany(Vec::new()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A `{{path}}` placeholder or literal text of a finding message.
#[derive(Debug)]
pub(crate) enum Piece {
    Text(String),
    Path(Expr),
}

/// A loaded, parsed policy.
#[derive(Debug)]
pub struct Policy {
    /// Unique across the set: letters, digits, `-`, `_` and `.`.
    pub id: String,
    /// A short human title.
    pub name: String,
    /// What the policy checks and why it matters.
    pub description: String,
    /// The severity of a failure.
    pub severity: Severity,
    /// The assets it applies to: a type (`aws_s3_bucket`), a prefix (`aws_s3_*`) or `*`.
    pub resource_type: String,
    /// The check's expression text (`check.expression`); passing means compliant.
    pub expression: String,
    /// The compliance controls it maps to.
    pub compliance: Vec<ComplianceRef>,
    /// How to fix a failure.
    pub remediation: Remediation,
    /// Free-form labels.
    pub tags: Vec<String>,
    /// Disabled policies are loaded and listed but never evaluated.
    pub enabled: bool,
    /// The file the policy came from, as given to the loader.
    pub file: String,
    pub(crate) expr: Expr,
    pub(crate) message: Option<Vec<Piece>>,
}

impl Policy {
    /// The body paths the policy's expression may read (`encryption.enabled`,
    /// `ingress[].cidr_ipv4`), for collectors' field contracts and for
    /// marking results `error` when a field could not be collected.
    pub fn reads(&self) -> Vec<String> {
        crate::reads::body_paths(&self.expr)
    }

    /// Does the policy apply to assets of `resource_type`?
    pub fn applies_to(&self, resource_type: &str) -> bool {
        type_matches(&self.resource_type, resource_type)
    }
}

/// Parse one policy file (a single policy or a list of them).
pub fn load_file(file: &str, text: &str) -> Result<Vec<Policy>, Vec<LoadError>> {
    let located = |e: &serde_norway::Error| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        LoadError {
            file: file.to_string(),
            line,
            column,
            policy_id: None,
            message: strip_location(&e.to_string()),
        }
    };
    // JSON is the fast path (hosts may transcode YAML they have already
    // validated); anything else, or JSON that does not parse, goes through
    // the YAML parser, whose errors carry the file's own positions.
    let as_json = text
        .trim_start()
        .starts_with(['{', '['])
        .then(|| serde_json::from_str::<OneOrMany>(text).ok())
        .flatten();
    let docs: Vec<PolicyDoc> = match as_json {
        Some(OneOrMany(docs)) => docs,
        None => match serde_norway::from_str::<OneOrMany>(text) {
            Ok(OneOrMany(docs)) => docs,
            Err(e) => return Err(vec![located(&e)]),
        },
    };
    let positions = expression_positions(text);
    let mut policies = Vec::new();
    let mut errors = Vec::new();
    for (n, doc) in docs.into_iter().enumerate() {
        match compile(file, doc, positions.get(n)) {
            Ok(p) => policies.push(p),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(policies)
    } else {
        Err(errors)
    }
}

/// serde_norway appends " at line L column C"; we print the location first.
fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn compile(file: &str, doc: PolicyDoc, pos: Option<&ScalarPos>) -> Result<Policy, LoadError> {
    let fail = |message: String, line: usize, column: usize| LoadError {
        file: file.to_string(),
        line,
        column,
        policy_id: Some(doc.id.clone()),
        message,
    };
    if doc.id.is_empty()
        || !doc
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(fail(
            format!(
                "id {:?} must be non-empty and use only letters, digits, '-', '_' and '.'",
                doc.id
            ),
            0,
            0,
        ));
    }
    let rt = doc.resource_type.as_str();
    let body = rt.strip_suffix('*').unwrap_or(rt);
    if rt.is_empty()
        || !body
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(fail(
            format!(
                "resource_type {rt:?} must be a type like `aws_s3_bucket`, a prefix like `aws_s3_*`, or `*`"
            ),
            0,
            0,
        ));
    }
    if let Some(kind) = &doc.check.kind
        && kind != "expression"
    {
        return Err(fail(
            format!("check.type {kind:?} is not supported; the only check type is `expression`"),
            0,
            0,
        ));
    }
    let expr = parse(&doc.check.expression).map_err(|e: SyntaxError| {
        let (line, column) = pos.map(|p| p.locate(e.offset)).unwrap_or((0, 0));
        fail(e.message, line, column)
    })?;
    let message = match &doc.check.message {
        Some(m) => Some(parse_template(m).map_err(|e| fail(format!("check.message: {e}"), 0, 0))?),
        None => None,
    };
    Ok(Policy {
        id: doc.id,
        name: doc.name,
        description: doc.description,
        severity: doc.severity,
        resource_type: doc.resource_type,
        expression: doc.check.expression,
        compliance: doc.compliance,
        remediation: doc.remediation,
        tags: doc.tags,
        enabled: doc.enabled,
        file: file.to_string(),
        expr,
        message,
    })
}

fn parse_template(text: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            pieces.push(Piece::Text(rest[..open].to_string()));
        }
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| "unclosed `{{`".to_string())?;
        let inner = after[..close].trim();
        let expr = parse(inner).map_err(|e| format!("in `{{{{{inner}}}}}`: {}", e.message))?;
        pieces.push(Piece::Path(expr));
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_string()));
    }
    Ok(pieces)
}

/// Where an `expression:` scalar sits in the file: one entry per source line
/// of the scalar, as (1-based line, 1-based column of its first character, its length in chars).
#[derive(Debug)]
pub(crate) struct ScalarPos {
    lines: Vec<(usize, usize, usize)>,
    /// The scalar is quoted: offsets inside it are one column to the right.
    quoted: bool,
}

impl ScalarPos {
    fn locate(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset;
        let shift = usize::from(self.quoted);
        for (i, &(line, col, len)) in self.lines.iter().enumerate() {
            if offset <= len || i + 1 == self.lines.len() {
                return (line, col + shift + offset);
            }
            offset -= len + 1;
        }
        (0, 0)
    }
}

/// Find every `expression:` key in the text, in document order.
fn expression_positions(text: &str) -> Vec<ScalarPos> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim_start().trim_start_matches("- ");
        let key_indent = line.len() - trimmed.len();
        if let Some(value) = trimmed.strip_prefix("expression:") {
            let value_start =
                key_indent + "expression:".len() + (value.len() - value.trim_start().len());
            let value = value.trim();
            if value.is_empty() || value.starts_with('|') || value.starts_with('>') {
                // Block scalar or plain multi-line scalar: the following more-indented lines.
                let mut scalar = Vec::new();
                let mut j = i + 1;
                while j < lines.len() {
                    let l = lines[j];
                    let li = l.len() - l.trim_start().len();
                    if !l.trim().is_empty() && li <= indent {
                        break;
                    }
                    if !l.trim().is_empty() {
                        scalar.push((j + 1, li + 1, l.trim().chars().count()));
                    }
                    j += 1;
                }
                out.push(ScalarPos {
                    lines: scalar,
                    quoted: false,
                });
                i = j;
                continue;
            }
            let quoted = value.starts_with('"') || value.starts_with('\'');
            let mut scalar = vec![(
                i + 1,
                line[..value_start].chars().count() + 1,
                value.chars().count(),
            )];
            // A plain or quoted scalar may continue on more-indented lines.
            let mut j = i + 1;
            while j < lines.len() {
                let l = lines[j];
                let li = l.len() - l.trim_start().len();
                if l.trim().is_empty() || li <= indent {
                    break;
                }
                scalar.push((j + 1, li + 1, l.trim().chars().count()));
                j += 1;
            }
            out.push(ScalarPos {
                lines: scalar,
                quoted,
            });
            i = j;
            continue;
        }
        i += 1;
    }
    out
}
