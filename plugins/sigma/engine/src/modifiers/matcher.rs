//! Compiled value tests (`Matcher`) and the per-field selection items that
//! apply them to an event.
//!
//! Matching happens here; nothing here reads rule text (see the parent
//! module for compiling).

use std::net::IpAddr;

use chrono::{Datelike, Timelike};
use regex::Regex;
use serde_json::Value;

use super::{Cidr, CmpOp, RefMode, TimePart};
use crate::event::{self, Field, FieldMap};
use crate::pattern::{self, Pattern};

/// One compiled value test.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// A Sigma string (wildcards, anchoring and encodings already applied).
    Str(Pattern),
    /// `re`: the regular expression is found in the value's text.
    Re(Regex),
    /// A number: an equal JSON number, or a string spelling it.
    Num {
        /// The number.
        value: f64,
        /// Its YAML spelling, matched as text too (`007`).
        text: String,
    },
    /// A boolean: an equal JSON boolean, or its text.
    Bool(bool),
    /// `null`: the field is absent or null.
    Null,
    /// `cidr`: an IP address in the network.
    Cidr(Cidr),
    /// `lt`/`lte`/`gt`/`gte`: a number (or numeric string) compared with the rule's.
    Cmp(CmpOp, f64),
    /// `exists`: whether the field must be present.
    Exists(bool),
    /// `fieldref`: compared with the value of another field of the event.
    FieldRef {
        /// The other field.
        field: Field,
        /// How the values compare.
        mode: RefMode,
        /// Whether case matters (`cased`).
        cased: bool,
    },
    /// A time part of an RFC 3339 value compared with a number.
    Time {
        /// Which part.
        part: TimePart,
        /// How it compares (`eq` without a comparison modifier).
        op: CmpOp,
        /// The rule's number.
        value: f64,
    },
    /// `neq`: the field is present and differs.
    Not(Box<Matcher>),
}

/// What matchers need besides the candidate values: the whole event, for `fieldref`.
pub struct Ctx<'a> {
    /// The event's JSON.
    pub body: &'a Value,
    /// The field mapping of the event's source, if it has a non-empty one.
    pub map: Option<&'a FieldMap>,
}

impl Matcher {
    /// Whether the field, found as `vals` (empty when absent), satisfies this test.
    pub fn test(&self, vals: &[&Value], ctx: &Ctx<'_>) -> bool {
        match self {
            Matcher::Exists(want) => vals.is_empty() != *want,
            Matcher::Null => vals.is_empty() || vals.iter().any(|v| v.is_null()),
            Matcher::Not(inner) => {
                !vals.is_empty() && vals.iter().all(|v| !v.is_null()) && !inner.test(vals, ctx)
            }
            _ => vals
                .iter()
                .any(|v| event::for_each_item(v, &mut |x| self.test_scalar(x, ctx))),
        }
    }

    /// Tests one value (an array element or a scalar; objects are matched as JSON text).
    pub fn test_scalar(&self, x: &Value, ctx: &Ctx<'_>) -> bool {
        match self {
            Matcher::Str(p) => event::text_of(x).is_some_and(|t| p.matches(&t)),
            Matcher::Re(r) => event::text_of(x).is_some_and(|t| r.is_match(&t)),
            Matcher::Num { value, text } => match x {
                Value::Number(n) => n.as_f64() == Some(*value),
                Value::String(s) => s == text || s.trim().parse::<f64>().ok() == Some(*value),
                _ => false,
            },
            Matcher::Bool(b) => match x {
                Value::Bool(v) => v == b,
                Value::String(s) => s.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
                _ => false,
            },
            Matcher::Null => x.is_null(),
            Matcher::Cidr(c) => match x {
                Value::String(s) => s.trim().parse::<IpAddr>().is_ok_and(|ip| c.contains(&ip)),
                _ => false,
            },
            Matcher::Cmp(op, v) => event::number_of(x).is_some_and(|n| op.holds(n, *v)),
            Matcher::Exists(want) => *want,
            Matcher::FieldRef { field, mode, cased } => {
                let Some(mine) = event::text_of(x) else {
                    return false;
                };
                let mut other = Vec::new();
                event::lookup(ctx.body, field, ctx.map, &mut other);
                let fold = |s: &str| {
                    if *cased {
                        s.to_string()
                    } else {
                        pattern::fold(s).into_owned()
                    }
                };
                let mine = fold(&mine);
                other.iter().any(|o| {
                    event::for_each_item(o, &mut |y| {
                        let Some(theirs) = event::text_of(y) else {
                            return false;
                        };
                        let theirs = fold(&theirs);
                        match mode {
                            RefMode::Equals => mine == theirs,
                            RefMode::Contains => mine.contains(&theirs),
                            RefMode::StartsWith => mine.starts_with(&theirs),
                            RefMode::EndsWith => mine.ends_with(&theirs),
                        }
                    })
                })
            }
            Matcher::Time { part, op, value } => {
                let Some(t) = event::text_of(x) else {
                    return false;
                };
                let Some(ms) = event::parse_time(&t) else {
                    return false;
                };
                let Some(dt) = chrono::DateTime::from_timestamp_millis(ms) else {
                    return false;
                };
                let n = match part {
                    TimePart::Minute => dt.minute(),
                    TimePart::Hour => dt.hour(),
                    TimePart::Day => dt.day(),
                    TimePart::Week => dt.iso_week().week(),
                    TimePart::Month => dt.month(),
                    TimePart::Year => u32::try_from(dt.year()).unwrap_or(0),
                };
                op.holds(f64::from(n), *value)
            }
            Matcher::Not(inner) => !inner.test_scalar(x, ctx),
        }
    }
}

/// One `field|modifiers: values` entry of a selection (or a keyword list when `field` is `None`).
#[derive(Debug, Clone)]
pub struct FieldItem {
    /// The field tested; `None` for keywords (searched in every value).
    pub field: Option<Field>,
    /// One entry per value written in the rule; each may have expanded into
    /// several alternatives (windash, base64offset, placeholders), OR-ed.
    pub values: Vec<Vec<Matcher>>,
    /// `|all`: every value must match (otherwise any).
    pub all: bool,
}

impl FieldItem {
    /// Whether the event satisfies the item.
    pub fn matches(&self, ctx: &Ctx<'_>) -> bool {
        match &self.field {
            Some(field) => {
                let mut vals = Vec::new();
                event::lookup(ctx.body, field, ctx.map, &mut vals);
                let one = |alts: &Vec<Matcher>| alts.iter().any(|m| m.test(&vals, ctx));
                if self.all {
                    self.values.iter().all(one)
                } else {
                    self.values.iter().any(one)
                }
            }
            None => {
                let one = |alts: &Vec<Matcher>| {
                    event::any_leaf(ctx.body, &mut |leaf| {
                        alts.iter().any(|m| m.test_scalar(leaf, ctx))
                    })
                };
                if self.all {
                    self.values.iter().all(one)
                } else {
                    self.values.iter().any(one)
                }
            }
        }
    }
}
