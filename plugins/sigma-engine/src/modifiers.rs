//! Value modifiers: parsing `field|mod1|mod2` keys and turning rule values
//! into compiled matchers (wildcards, regular expressions, CIDR, numbers,
//! encodings, placeholders, field references, time parts).

use std::collections::BTreeMap;
use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{Datelike, Timelike};
use regex::{Regex, RegexBuilder};
use serde_json::Value;

use crate::error::RuleError;
use crate::event::{self, Field, FieldMap};
use crate::pattern::{self, Pattern, Tok};

/// A rule value as written in YAML.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    Str(String),
    /// A number with its YAML spelling (`4625`, `1.5`).
    Num(f64, String),
    Bool(bool),
    Null,
}

impl RawValue {
    fn text(&self) -> Option<String> {
        match self {
            RawValue::Str(s) => Some(s.clone()),
            RawValue::Num(_, t) => Some(t.clone()),
            RawValue::Bool(b) => Some(b.to_string()),
            RawValue::Null => None,
        }
    }
}

/// Comparison operators of the numeric modifiers and of correlation conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CmpOp {
    Lt,
    Lte,
    Gt,
    Gte,
    Eq,
    Neq,
}

impl CmpOp {
    pub fn holds(self, actual: f64, expected: f64) -> bool {
        match self {
            CmpOp::Lt => actual < expected,
            CmpOp::Lte => actual <= expected,
            CmpOp::Gt => actual > expected,
            CmpOp::Gte => actual >= expected,
            CmpOp::Eq => actual == expected,
            CmpOp::Neq => actual != expected,
        }
    }

    pub fn parse(s: &str) -> Option<CmpOp> {
        Some(match s {
            "lt" => CmpOp::Lt,
            "lte" => CmpOp::Lte,
            "gt" => CmpOp::Gt,
            "gte" => CmpOp::Gte,
            "eq" => CmpOp::Eq,
            "neq" => CmpOp::Neq,
            _ => return None,
        })
    }
}

/// Components the time modifiers extract from a date value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimePart {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

/// How a field reference compares the two fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefMode {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Cidr> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
            None => (s, None),
        };
        let net: IpAddr = addr.trim().parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Cidr { net, prefix })
    }

    pub fn contains(&self, ip: &IpAddr) -> bool {
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                (u32::from(n) & mask) == (u32::from(*a) & mask)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                (u128::from(n) & mask) == (u128::from(*a) & mask)
            }
            _ => false,
        }
    }
}

/// One compiled value test.
#[derive(Debug, Clone)]
pub enum Matcher {
    Str(Pattern),
    Re(Regex),
    Num {
        value: f64,
        text: String,
    },
    Bool(bool),
    Null,
    Cidr(Cidr),
    Cmp(CmpOp, f64),
    Exists(bool),
    FieldRef {
        field: Field,
        mode: RefMode,
        cased: bool,
    },
    Time {
        part: TimePart,
        op: CmpOp,
        value: f64,
    },
    /// `neq`: the field is present and differs.
    Not(Box<Matcher>),
}

/// What matchers need besides the candidate values: the whole event, for `fieldref`.
pub struct Ctx<'a> {
    pub body: &'a Value,
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
    pub field: Option<Field>,
    /// One entry per value written in the rule; each may have expanded into
    /// several alternatives (windash, base64offset, placeholders), OR-ed.
    pub values: Vec<Vec<Matcher>>,
    /// `|all`: every value must match (otherwise any).
    pub all: bool,
}

impl FieldItem {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mod {
    Contains,
    StartsWith,
    EndsWith,
    All,
    Re,
    ReI,
    ReM,
    ReS,
    Cidr,
    Base64,
    Base64Offset,
    Utf16Le,
    Utf16Be,
    Utf16,
    Windash,
    Exists,
    Cmp(CmpOp),
    FieldRef,
    Expand,
    Cased,
    Time(TimePart),
}

fn parse_mod(s: &str) -> Option<Mod> {
    Some(match s {
        "contains" => Mod::Contains,
        "startswith" => Mod::StartsWith,
        "endswith" => Mod::EndsWith,
        "all" => Mod::All,
        "re" => Mod::Re,
        "i" | "ignorecase" => Mod::ReI,
        "m" | "multiline" => Mod::ReM,
        "s" | "dotall" => Mod::ReS,
        "cidr" => Mod::Cidr,
        "base64" => Mod::Base64,
        "base64offset" => Mod::Base64Offset,
        "utf16le" | "wide" => Mod::Utf16Le,
        "utf16be" => Mod::Utf16Be,
        "utf16" => Mod::Utf16,
        "windash" => Mod::Windash,
        "exists" => Mod::Exists,
        "lt" => Mod::Cmp(CmpOp::Lt),
        "lte" => Mod::Cmp(CmpOp::Lte),
        "gt" => Mod::Cmp(CmpOp::Gt),
        "gte" => Mod::Cmp(CmpOp::Gte),
        "neq" => Mod::Cmp(CmpOp::Neq),
        "fieldref" => Mod::FieldRef,
        "expand" => Mod::Expand,
        "cased" => Mod::Cased,
        "minute" => Mod::Time(TimePart::Minute),
        "hour" => Mod::Time(TimePart::Hour),
        "day" => Mod::Time(TimePart::Day),
        "week" => Mod::Time(TimePart::Week),
        "month" => Mod::Time(TimePart::Month),
        "year" => Mod::Time(TimePart::Year),
        _ => return None,
    })
}

/// Placeholder values for `expand`, by placeholder name (without the `%`).
pub type Placeholders = BTreeMap<String, Vec<String>>;

const WINDASH: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];
const MAX_ALTERNATIVES: usize = 4096;

/// Compiles `key: values`; `key` is `field|mod|...` (an empty field name makes a keyword search).
pub fn compile_item(
    key: &str,
    values: &[RawValue],
    placeholders: &Placeholders,
) -> Result<FieldItem, RuleError> {
    let mut parts = key.split('|');
    let name = parts.next().unwrap_or_default();
    let mut mods = Vec::new();
    for m in parts {
        match parse_mod(m) {
            Some(p) => mods.push(p),
            None => return Err(RuleError::new(format!("unknown value modifier '{m}'"))),
        }
    }
    let field = (!name.is_empty()).then(|| Field::new(name));
    let has = |m: Mod| mods.contains(&m);
    let all = has(Mod::All);
    let cased = has(Mod::Cased);
    let cmp = mods.iter().find_map(|m| match m {
        Mod::Cmp(op) => Some(*op),
        _ => None,
    });
    let time = mods.iter().find_map(|m| match m {
        Mod::Time(p) => Some(*p),
        _ => None,
    });
    let string_mods = mods.iter().any(|m| {
        matches!(
            m,
            Mod::Contains
                | Mod::StartsWith
                | Mod::EndsWith
                | Mod::Base64
                | Mod::Base64Offset
                | Mod::Utf16Le
                | Mod::Utf16Be
                | Mod::Utf16
                | Mod::Windash
        )
    });
    for flag in [Mod::ReI, Mod::ReM, Mod::ReS] {
        if has(flag) && !has(Mod::Re) {
            return Err(RuleError::new(
                "the regular-expression flags i, m and s need the re modifier",
            ));
        }
    }
    if field.is_none()
        && (has(Mod::Exists) || has(Mod::FieldRef) || cmp.is_some() || time.is_some())
    {
        return Err(RuleError::new(
            "exists, fieldref and comparison modifiers need a field name",
        ));
    }

    let mut out = Vec::with_capacity(values.len());

    if has(Mod::Exists) {
        if mods.len() > 1 {
            return Err(RuleError::new(
                "exists cannot be combined with other modifiers",
            ));
        }
        for v in values {
            match v {
                RawValue::Bool(b) => out.push(vec![Matcher::Exists(*b)]),
                RawValue::Str(s)
                    if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") =>
                {
                    out.push(vec![Matcher::Exists(s.eq_ignore_ascii_case("true"))])
                }
                other => {
                    return Err(RuleError::new(format!(
                        "exists takes true or false, not {other:?}"
                    )));
                }
            }
        }
        return Ok(FieldItem {
            field,
            values: out,
            all,
        });
    }

    if has(Mod::Re) {
        if string_mods || has(Mod::Cidr) || has(Mod::FieldRef) || cmp.is_some() {
            return Err(RuleError::new(
                "re cannot be combined with string, cidr, fieldref or comparison modifiers",
            ));
        }
        for v in values {
            let Some(src) = v.text().filter(|_| !matches!(v, RawValue::Bool(_))) else {
                return Err(RuleError::new("re takes a string"));
            };
            let re = RegexBuilder::new(&src)
                .case_insensitive(has(Mod::ReI))
                .multi_line(has(Mod::ReM))
                .dot_matches_new_line(has(Mod::ReS))
                .build()
                .map_err(|e| RuleError::new(format!("invalid regular expression {src:?}: {e}")))?;
            out.push(vec![Matcher::Re(re)]);
        }
        return Ok(FieldItem {
            field,
            values: out,
            all,
        });
    }

    if has(Mod::Cidr) {
        if string_mods || has(Mod::FieldRef) || cmp.is_some() {
            return Err(RuleError::new(
                "cidr cannot be combined with other value modifiers",
            ));
        }
        for v in values {
            let net = match v {
                RawValue::Str(s) => Cidr::parse(s),
                _ => None,
            };
            match net {
                Some(n) => out.push(vec![Matcher::Cidr(n)]),
                None => return Err(RuleError::new(format!("invalid CIDR network {v:?}"))),
            }
        }
        return Ok(FieldItem {
            field,
            values: out,
            all,
        });
    }

    if let Some(part) = time {
        let op = cmp.unwrap_or(CmpOp::Eq);
        for v in values {
            let n = number(v).ok_or_else(|| {
                RuleError::new(format!("time modifiers take a number, not {v:?}"))
            })?;
            out.push(vec![Matcher::Time { part, op, value: n }]);
        }
        return Ok(FieldItem {
            field,
            values: out,
            all,
        });
    }

    if let Some(op) = cmp.filter(|op| *op != CmpOp::Neq) {
        if string_mods || has(Mod::FieldRef) {
            return Err(RuleError::new(
                "lt, lte, gt and gte cannot be combined with string modifiers",
            ));
        }
        for v in values {
            let n = number(v).ok_or_else(|| {
                RuleError::new(format!("{op:?} takes a number, not {v:?}").to_lowercase())
            })?;
            out.push(vec![Matcher::Cmp(op, n)]);
        }
        return Ok(FieldItem {
            field,
            values: out,
            all,
        });
    }
    let neq = cmp == Some(CmpOp::Neq);

    if has(Mod::FieldRef) {
        let mut mode = RefMode::Equals;
        for m in &mods {
            match m {
                Mod::Contains => mode = RefMode::Contains,
                Mod::StartsWith => mode = RefMode::StartsWith,
                Mod::EndsWith => mode = RefMode::EndsWith,
                Mod::FieldRef | Mod::All | Mod::Cased | Mod::Cmp(CmpOp::Neq) => {}
                other => {
                    return Err(RuleError::new(
                        format!("fieldref cannot be combined with {other:?}").to_lowercase(),
                    ));
                }
            }
        }
        for v in values {
            let RawValue::Str(name) = v else {
                return Err(RuleError::new("fieldref takes a field name"));
            };
            let m = Matcher::FieldRef {
                field: Field::new(name),
                mode,
                cased,
            };
            out.push(vec![if neq { Matcher::Not(Box::new(m)) } else { m }]);
        }
        return Ok(FieldItem {
            field,
            values: out,
            all,
        });
    }

    let expand = has(Mod::Expand);
    for v in values {
        let alts: Vec<Matcher> = match v {
            RawValue::Null => vec![Matcher::Null],
            RawValue::Num(n, t) if !string_mods && field.is_some() => vec![Matcher::Num {
                value: *n,
                text: t.clone(),
            }],
            RawValue::Bool(b) if !string_mods && field.is_some() => vec![Matcher::Bool(*b)],
            other => {
                let text = other.text().unwrap_or_default();
                let toks = match other {
                    RawValue::Str(s) => pattern::parse(s, expand),
                    _ => pattern::literal(&text),
                };
                let mut alts = if expand {
                    resolve_placeholders(toks, placeholders)?
                } else {
                    vec![toks]
                };
                for m in &mods {
                    alts = transform(*m, alts)?;
                    if alts.len() > MAX_ALTERNATIVES {
                        return Err(RuleError::new(format!(
                            "value {text:?} expands into more than {MAX_ALTERNATIVES} alternatives"
                        )));
                    }
                }
                if field.is_none()
                    && !mods
                        .iter()
                        .any(|m| matches!(m, Mod::Contains | Mod::StartsWith | Mod::EndsWith))
                {
                    // Keywords are searched anywhere in a value.
                    alts = transform(Mod::Contains, alts)?;
                }
                alts.iter()
                    .map(|t| Matcher::Str(Pattern::new(t, cased)))
                    .collect()
            }
        };
        let alts = if neq {
            alts.into_iter()
                .map(|m| Matcher::Not(Box::new(m)))
                .collect()
        } else {
            alts
        };
        out.push(alts);
    }
    Ok(FieldItem {
        field,
        values: out,
        all,
    })
}

fn number(v: &RawValue) -> Option<f64> {
    match v {
        RawValue::Num(n, _) => Some(*n),
        RawValue::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn resolve_placeholders(
    toks: Vec<Tok>,
    placeholders: &Placeholders,
) -> Result<Vec<Vec<Tok>>, RuleError> {
    let mut alts: Vec<Vec<Tok>> = vec![Vec::new()];
    for t in toks {
        match t {
            Tok::Placeholder(name) => {
                let Some(values) = placeholders.get(&name) else {
                    return Err(RuleError::new(format!(
                        "placeholder %{name}% has no values configured"
                    )));
                };
                if values.is_empty() {
                    return Err(RuleError::new(format!(
                        "placeholder %{name}% has an empty value list"
                    )));
                }
                let mut next = Vec::with_capacity(alts.len() * values.len());
                for a in &alts {
                    for v in values {
                        let mut n = a.clone();
                        n.extend(pattern::parse(v, false));
                        next.push(n);
                    }
                }
                if next.len() > MAX_ALTERNATIVES {
                    return Err(RuleError::new(
                        "placeholders expand into too many alternatives",
                    ));
                }
                alts = next;
            }
            other => alts.iter_mut().for_each(|a| a.push(other.clone())),
        }
    }
    Ok(alts)
}

fn is_word(t: Option<&Tok>) -> bool {
    matches!(t, Some(Tok::Char(c)) if c.is_alphanumeric() || *c == '_')
}

fn transform(m: Mod, alts: Vec<Vec<Tok>>) -> Result<Vec<Vec<Tok>>, RuleError> {
    Ok(match m {
        Mod::Contains => alts
            .into_iter()
            .map(|mut t| {
                if t.first() != Some(&Tok::Star) {
                    t.insert(0, Tok::Star);
                }
                if t.last() != Some(&Tok::Star) || t.len() == 1 {
                    t.push(Tok::Star);
                }
                t
            })
            .collect(),
        Mod::StartsWith => alts
            .into_iter()
            .map(|mut t| {
                if t.last() != Some(&Tok::Star) {
                    t.push(Tok::Star);
                }
                t
            })
            .collect(),
        Mod::EndsWith => alts
            .into_iter()
            .map(|mut t| {
                if t.first() != Some(&Tok::Star) {
                    t.insert(0, Tok::Star);
                }
                t
            })
            .collect(),
        Mod::Windash => {
            let mut out = Vec::new();
            for t in alts {
                // A `-` or `/` that starts a word (`\B[-/]\b`): not after a word character, before one.
                let spots: Vec<usize> = (0..t.len())
                    .filter(|&i| {
                        matches!(t[i], Tok::Char('-') | Tok::Char('/'))
                            && !is_word(i.checked_sub(1).and_then(|p| t.get(p)))
                            && is_word(t.get(i + 1))
                    })
                    .collect();
                if spots.len() > 5 {
                    return Err(RuleError::new(
                        "windash on a value with more than 5 flags expands too far",
                    ));
                }
                let mut acc = vec![t];
                for &i in &spots {
                    let mut next = Vec::with_capacity(acc.len() * WINDASH.len());
                    for a in &acc {
                        for d in WINDASH {
                            let mut n = a.clone();
                            n[i] = Tok::Char(d);
                            next.push(n);
                        }
                    }
                    acc = next;
                }
                out.extend(acc);
            }
            out
        }
        Mod::Base64 => {
            let mut out = Vec::with_capacity(alts.len());
            for t in alts {
                if pattern::has_special(&t) {
                    return Err(RuleError::new(
                        "base64 cannot encode a value with wildcards",
                    ));
                }
                out.push(pattern::literal(&B64.encode(pattern::to_bytes(&t))));
            }
            out
        }
        Mod::Base64Offset => {
            let mut out = Vec::with_capacity(alts.len() * 3);
            for t in alts {
                if pattern::has_special(&t) {
                    return Err(RuleError::new(
                        "base64offset cannot encode a value with wildcards",
                    ));
                }
                let bytes = pattern::to_bytes(&t);
                for shift in 0..3usize {
                    let mut input = vec![b' '; shift];
                    input.extend_from_slice(&bytes);
                    let enc = B64.encode(&input);
                    let start = [0usize, 2, 3][shift];
                    let trim_end = [0usize, 3, 2][(bytes.len() + shift) % 3];
                    let end = enc.len().saturating_sub(trim_end);
                    let piece = enc.get(start..end).unwrap_or_default();
                    out.push(pattern::literal(piece));
                }
            }
            out
        }
        Mod::Utf16Le | Mod::Utf16Be | Mod::Utf16 => alts
            .into_iter()
            .map(|t| {
                let mut out = Vec::with_capacity(t.len() * 2 + 2);
                if m == Mod::Utf16 {
                    out.push(Tok::Byte(0xFF));
                    out.push(Tok::Byte(0xFE));
                }
                for tok in t {
                    match tok {
                        Tok::Char(c) => {
                            let mut buf = [0u16; 2];
                            for unit in c.encode_utf16(&mut buf) {
                                let [hi, lo] = unit.to_be_bytes();
                                if m == Mod::Utf16Be {
                                    out.push(Tok::Byte(hi));
                                    out.push(Tok::Byte(lo));
                                } else {
                                    out.push(Tok::Byte(lo));
                                    out.push(Tok::Byte(hi));
                                }
                            }
                        }
                        other => out.push(other),
                    }
                }
                out
            })
            .collect(),
        _ => alts,
    })
}
