//! The `detection` section: search identifiers (maps AND-ed, lists OR-ed,
//! keyword lists) compiled from YAML, and the condition that joins them.
//!
//! Values and their modifiers are compiled by `modifiers`, the condition by
//! `condition`; this module never reads rule metadata or log sources.

use serde_norway::Value as Yaml;

use crate::condition::{self, Cond};
use crate::error::RuleError;
use crate::modifiers::{self, Ctx, FieldItem, Placeholders, RawValue};

/// One search identifier.
#[derive(Debug, Clone)]
pub enum Selection {
    /// A map: every item must match.
    All(Vec<FieldItem>),
    /// A list of maps (or keywords): any element may match.
    Any(Vec<Selection>),
}

impl Selection {
    /// Whether the event satisfies the selection.
    pub fn matches(&self, ctx: &Ctx<'_>) -> bool {
        match self {
            Selection::All(items) => items.iter().all(|i| i.matches(ctx)),
            Selection::Any(sels) => sels.iter().any(|s| s.matches(ctx)),
        }
    }
}

/// A compiled detection: named selections and the condition over them.
#[derive(Debug, Clone)]
pub struct Detection {
    /// The search identifiers, in the order written.
    pub selections: Vec<Selection>,
    /// The condition over them (a list of conditions is OR-ed).
    pub condition: Cond,
}

impl Detection {
    /// Whether the event satisfies the condition.
    pub fn matches(&self, ctx: &Ctx<'_>) -> bool {
        self.condition
            .eval(&mut |i| self.selections[i].matches(ctx))
    }

    /// Compiles a `detection` (or filter) map.
    pub fn compile(section: &Yaml, placeholders: &Placeholders) -> Result<Detection, RuleError> {
        let Yaml::Mapping(map) = untag(section) else {
            return Err(RuleError::new(
                "must be a map of search identifiers and a condition",
            ));
        };
        let mut names = Vec::new();
        let mut selections = Vec::new();
        let mut conditions = Vec::new();
        for (k, v) in map {
            let key = key_text(k).ok_or_else(|| RuleError::new("keys must be strings"))?;
            match key.as_str() {
                "condition" => match untag(v) {
                    Yaml::String(s) => conditions.push(s.clone()),
                    Yaml::Sequence(list) => {
                        for c in list {
                            match untag(c) {
                                Yaml::String(s) => conditions.push(s.clone()),
                                _ => return Err(RuleError::at("condition", "must be a string")),
                            }
                        }
                    }
                    _ => {
                        return Err(RuleError::at(
                            "condition",
                            "must be a string or a list of strings",
                        ));
                    }
                },
                "timeframe" => {
                    return Err(RuleError::at(
                        "timeframe",
                        "timeframe belonged to Sigma v1 aggregations; write a correlation rule",
                    ));
                }
                _ => {
                    let sel = compile_selection(v, placeholders).map_err(|e| e.within(&key))?;
                    names.push(key);
                    selections.push(sel);
                }
            }
        }
        if conditions.is_empty() {
            return Err(RuleError::at("condition", "is missing"));
        }
        let mut conds = Vec::with_capacity(conditions.len());
        for c in &conditions {
            conds.push(condition::parse(c, &names).map_err(|e| e.within("condition"))?);
        }
        let condition = if conds.len() == 1 {
            conds.remove(0)
        } else {
            Cond::Or(conds)
        };
        Ok(Detection {
            selections,
            condition,
        })
    }
}

/// The value under any YAML tags (`!tag value` → `value`).
pub fn untag(v: &Yaml) -> &Yaml {
    match v {
        Yaml::Tagged(t) => untag(&t.value),
        other => other,
    }
}

/// A scalar as text (null as the empty string); `None` for lists and maps.
pub fn key_text(k: &Yaml) -> Option<String> {
    match untag(k) {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        Yaml::Null => Some(String::new()),
        _ => None,
    }
}

/// A scalar as a rule value; `None` for lists and maps.
fn raw(v: &Yaml) -> Option<RawValue> {
    Some(match untag(v) {
        Yaml::String(s) => RawValue::Str(s.clone()),
        Yaml::Number(n) => RawValue::Num(n.as_f64()?, n.to_string()),
        Yaml::Bool(b) => RawValue::Bool(*b),
        Yaml::Null => RawValue::Null,
        _ => return None,
    })
}

/// A field's value or value list.
fn raw_list(v: &Yaml) -> Result<Vec<RawValue>, RuleError> {
    match untag(v) {
        Yaml::Sequence(items) => items
            .iter()
            .map(|i| raw(i).ok_or_else(|| RuleError::new("a value list may hold only scalars")))
            .collect(),
        Yaml::Mapping(_) => Err(RuleError::new("a field's value cannot be a map")),
        other => Ok(vec![
            raw(other).ok_or_else(|| RuleError::new("unsupported value"))?,
        ]),
    }
}

/// A map selection: every `field|mods: values` must match.
fn compile_map(
    map: &serde_norway::Mapping,
    placeholders: &Placeholders,
) -> Result<Selection, RuleError> {
    if map.is_empty() {
        return Err(RuleError::new("an empty map selects nothing"));
    }
    let mut items = Vec::with_capacity(map.len());
    for (k, v) in map {
        let key = key_text(k).ok_or_else(|| RuleError::new("field names must be strings"))?;
        let values = raw_list(v).map_err(|e| e.within(&key))?;
        items.push(
            modifiers::compile_item(&key, &values, placeholders).map_err(|e| e.within(&key))?,
        );
    }
    Ok(Selection::All(items))
}

/// One search identifier: a map, a list of maps or keywords, or a keyword.
fn compile_selection(v: &Yaml, placeholders: &Placeholders) -> Result<Selection, RuleError> {
    match untag(v) {
        Yaml::Mapping(map) => compile_map(map, placeholders),
        Yaml::Sequence(items) => {
            if items.is_empty() {
                return Err(RuleError::new("an empty list selects nothing"));
            }
            if items.iter().all(|i| raw(i).is_some()) {
                let values = raw_list(v)?;
                return Ok(Selection::All(vec![modifiers::compile_item(
                    "",
                    &values,
                    placeholders,
                )?]));
            }
            let mut out = Vec::with_capacity(items.len());
            for (n, item) in items.iter().enumerate() {
                let sel = match untag(item) {
                    Yaml::Mapping(map) => compile_map(map, placeholders),
                    Yaml::Sequence(_) => Err(RuleError::new("lists cannot nest")),
                    scalar => match raw(scalar) {
                        Some(r) => Ok(Selection::All(vec![modifiers::compile_item(
                            "",
                            &[r],
                            placeholders,
                        )?])),
                        None => Err(RuleError::new("unsupported list element")),
                    },
                }
                .map_err(|e| e.within(&format!("[{n}]")))?;
                out.push(sel);
            }
            Ok(Selection::Any(out))
        }
        Yaml::Null => Err(RuleError::new("is empty")),
        scalar => match raw(scalar) {
            Some(r) => Ok(Selection::All(vec![modifiers::compile_item(
                "",
                &[r],
                placeholders,
            )?])),
            None => Err(RuleError::new("unsupported search identifier")),
        },
    }
}
