//! Value modifiers: parsing `field|mod1|mod2` keys and turning rule values
//! into compiled matchers; the modifier families live in the submodules
//! (matchers, string anchoring, encodings, numeric/cidr/fieldref/expand).

mod encodings;
mod matcher;
mod numeric;
mod strings;

use std::collections::BTreeMap;

use regex::RegexBuilder;

use crate::error::RuleError;
use crate::event::Field;
use crate::pattern::{self, Pattern, Tok};

pub use matcher::{Ctx, FieldItem, Matcher};
pub use numeric::{Cidr, CmpOp, RefMode, TimePart};
use numeric::{number, resolve_placeholders};

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

fn transform(m: Mod, alts: Vec<Vec<Tok>>) -> Result<Vec<Vec<Tok>>, RuleError> {
    Ok(match m {
        Mod::Contains => strings::contains(alts),
        Mod::StartsWith => strings::starts_with(alts),
        Mod::EndsWith => strings::ends_with(alts),
        Mod::Windash => encodings::windash(alts)?,
        Mod::Base64 => encodings::base64(alts)?,
        Mod::Base64Offset => encodings::base64_offset(alts)?,
        Mod::Utf16Le | Mod::Utf16Be | Mod::Utf16 => encodings::utf16(m, alts),
        _ => alts,
    })
}
