//! Value modifiers: parsing `field|mod1|mod2` keys and turning rule values
//! into compiled matchers; the modifier families live in the submodules
//! (matchers, string anchoring, encodings, numeric/cidr/fieldref/expand).
//!
//! It never reads YAML (`detection` hands it `RawValue`s) and never tests
//! events (`matcher` does).

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
    /// A string.
    Str(String),
    /// A number with its YAML spelling (`4625`, `1.5`).
    Num(f64, String),
    /// `true` or `false`.
    Bool(bool),
    /// `null` (or an empty value).
    Null,
}

impl RawValue {
    /// The value as text; `None` for null.
    fn text(&self) -> Option<String> {
        match self {
            RawValue::Str(s) => Some(s.clone()),
            RawValue::Num(_, t) => Some(t.clone()),
            RawValue::Bool(b) => Some(b.to_string()),
            RawValue::Null => None,
        }
    }
}

/// One value modifier, as `parse_mod` names them.
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

/// The modifier named `s` (with its aliases: `wide`, `ignorecase`, ...).
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

/// A value may expand (windash, base64offset, placeholders) into at most this many patterns.
const MAX_ALTERNATIVES: usize = 4096;

/// The modifiers of one `field|mod|...` key, with what the compilers ask of them.
struct Mods {
    /// In the order written.
    list: Vec<Mod>,
    /// `cased`: strings and field references compare case-sensitively.
    cased: bool,
    /// The comparison modifier (`lt` ... `neq`), if any.
    cmp: Option<CmpOp>,
    /// The time-part modifier (`minute` ... `year`), if any.
    time: Option<TimePart>,
    /// Whether any modifier transforms or anchors the string (`contains`, encodings, `windash`).
    string: bool,
}

impl Mods {
    /// Parses the modifier names of a key, refusing unknown ones.
    fn parse<'k>(names: impl Iterator<Item = &'k str>) -> Result<Mods, RuleError> {
        let list = names
            .map(|m| {
                parse_mod(m).ok_or_else(|| RuleError::new(format!("unknown value modifier '{m}'")))
            })
            .collect::<Result<Vec<Mod>, RuleError>>()?;
        Ok(Mods {
            cased: list.contains(&Mod::Cased),
            cmp: list.iter().find_map(|m| match m {
                Mod::Cmp(op) => Some(*op),
                _ => None,
            }),
            time: list.iter().find_map(|m| match m {
                Mod::Time(p) => Some(*p),
                _ => None,
            }),
            string: list.iter().any(|m| {
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
            }),
            list,
        })
    }

    /// Whether the key carries `m`.
    fn has(&self, m: Mod) -> bool {
        self.list.contains(&m)
    }

    /// Combinations that no value can satisfy, whatever the family.
    fn check(&self, keyword: bool) -> Result<(), RuleError> {
        for flag in [Mod::ReI, Mod::ReM, Mod::ReS] {
            if self.has(flag) && !self.has(Mod::Re) {
                return Err(RuleError::new(
                    "the regular-expression flags i, m and s need the re modifier",
                ));
            }
        }
        if keyword
            && (self.has(Mod::Exists)
                || self.has(Mod::FieldRef)
                || self.cmp.is_some()
                || self.time.is_some())
        {
            return Err(RuleError::new(
                "exists, fieldref and comparison modifiers need a field name",
            ));
        }
        Ok(())
    }
}

/// The compiled alternatives of each value of an item.
type Compiled = Result<Vec<Vec<Matcher>>, RuleError>;

/// Compiles `key: values`; `key` is `field|mod|...` (an empty field name makes a keyword search).
///
/// One modifier family decides how values compile, first match wins:
/// `exists`, `re`, `cidr`, a time part, an ordering comparison, `fieldref`,
/// and otherwise strings (with `neq` negating them).
pub fn compile_item(
    key: &str,
    values: &[RawValue],
    placeholders: &Placeholders,
) -> Result<FieldItem, RuleError> {
    let mut parts = key.split('|');
    let name = parts.next().unwrap_or_default();
    let mods = Mods::parse(parts)?;
    let field = match name {
        "" => None,
        name => Some(Field::checked(name)?),
    };
    mods.check(field.is_none())?;
    let compiled = if mods.has(Mod::Exists) {
        exists_values(&mods, values)?
    } else if mods.has(Mod::Re) {
        regex_values(&mods, values)?
    } else if mods.has(Mod::Cidr) {
        cidr_values(&mods, values)?
    } else if let Some(part) = mods.time {
        time_values(part, mods.cmp.unwrap_or(CmpOp::Eq), values)?
    } else if let Some(op) = mods.cmp.filter(|op| *op != CmpOp::Neq) {
        comparison_values(&mods, op, values)?
    } else if mods.has(Mod::FieldRef) {
        fieldref_values(&mods, values)?
    } else {
        string_values(&mods, field.is_none(), values, placeholders)?
    };
    Ok(FieldItem {
        field,
        values: compiled,
        all: mods.has(Mod::All),
    })
}

/// `exists`: `true` or `false`, alone.
fn exists_values(mods: &Mods, values: &[RawValue]) -> Compiled {
    if mods.list.len() > 1 {
        return Err(RuleError::new(
            "exists cannot be combined with other modifiers",
        ));
    }
    values
        .iter()
        .map(|v| match v {
            RawValue::Bool(b) => Ok(vec![Matcher::Exists(*b)]),
            RawValue::Str(s)
                if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") =>
            {
                Ok(vec![Matcher::Exists(s.eq_ignore_ascii_case("true"))])
            }
            other => Err(RuleError::new(format!(
                "exists takes true or false, not {other:?}"
            ))),
        })
        .collect()
}

/// `re` (with its `i`, `m`, `s` flags): one regular expression per value.
fn regex_values(mods: &Mods, values: &[RawValue]) -> Compiled {
    if mods.string || mods.has(Mod::Cidr) || mods.has(Mod::FieldRef) || mods.cmp.is_some() {
        return Err(RuleError::new(
            "re cannot be combined with string, cidr, fieldref or comparison modifiers",
        ));
    }
    values
        .iter()
        .map(|v| {
            let Some(src) = v.text().filter(|_| !matches!(v, RawValue::Bool(_))) else {
                return Err(RuleError::new("re takes a string"));
            };
            let re = RegexBuilder::new(&src)
                .case_insensitive(mods.has(Mod::ReI))
                .multi_line(mods.has(Mod::ReM))
                .dot_matches_new_line(mods.has(Mod::ReS))
                .build()
                .map_err(|e| RuleError::new(format!("invalid regular expression {src:?}: {e}")))?;
            Ok(vec![Matcher::Re(re)])
        })
        .collect()
}

/// `cidr`: one IPv4 or IPv6 network per value.
fn cidr_values(mods: &Mods, values: &[RawValue]) -> Compiled {
    if mods.string || mods.has(Mod::FieldRef) || mods.cmp.is_some() {
        return Err(RuleError::new(
            "cidr cannot be combined with other value modifiers",
        ));
    }
    values
        .iter()
        .map(|v| {
            let net = match v {
                RawValue::Str(s) => Cidr::parse(s),
                _ => None,
            };
            match net {
                Some(n) => Ok(vec![Matcher::Cidr(n)]),
                None => Err(RuleError::new(format!("invalid CIDR network {v:?}"))),
            }
        })
        .collect()
}

/// A time part (`hour`, ...), compared with `op` (equality by default).
fn time_values(part: TimePart, op: CmpOp, values: &[RawValue]) -> Compiled {
    values
        .iter()
        .map(|v| {
            let n = number(v).ok_or_else(|| {
                RuleError::new(format!("time modifiers take a number, not {v:?}"))
            })?;
            Ok(vec![Matcher::Time { part, op, value: n }])
        })
        .collect()
}

/// `lt`, `lte`, `gt`, `gte`: one number per value.
fn comparison_values(mods: &Mods, op: CmpOp, values: &[RawValue]) -> Compiled {
    if mods.string || mods.has(Mod::FieldRef) {
        return Err(RuleError::new(
            "lt, lte, gt and gte cannot be combined with string modifiers",
        ));
    }
    values
        .iter()
        .map(|v| {
            let n = number(v).ok_or_else(|| {
                RuleError::new(format!("{op:?} takes a number, not {v:?}").to_lowercase())
            })?;
            Ok(vec![Matcher::Cmp(op, n)])
        })
        .collect()
}

/// `fieldref` (alone or with `contains`/`startswith`/`endswith`, `cased`,
/// `neq`): one field name per value.
fn fieldref_values(mods: &Mods, values: &[RawValue]) -> Compiled {
    let mut mode = RefMode::Equals;
    for m in &mods.list {
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
    let neq = mods.cmp == Some(CmpOp::Neq);
    values
        .iter()
        .map(|v| {
            let RawValue::Str(name) = v else {
                return Err(RuleError::new("fieldref takes a field name"));
            };
            let m = Matcher::FieldRef {
                field: Field::checked(name)?,
                mode,
                cased: mods.cased,
            };
            Ok(vec![if neq { Matcher::Not(Box::new(m)) } else { m }])
        })
        .collect()
}

/// Plain values: null, numbers and booleans as such, everything else as a
/// Sigma string through the string modifiers; `neq` negates each.
fn string_values(
    mods: &Mods,
    keyword: bool,
    values: &[RawValue],
    placeholders: &Placeholders,
) -> Compiled {
    let neq = mods.cmp == Some(CmpOp::Neq);
    values
        .iter()
        .map(|v| {
            let alts: Vec<Matcher> = match v {
                RawValue::Null => vec![Matcher::Null],
                RawValue::Num(n, t) if !mods.string && !keyword => vec![Matcher::Num {
                    value: *n,
                    text: t.clone(),
                }],
                RawValue::Bool(b) if !mods.string && !keyword => vec![Matcher::Bool(*b)],
                other => string_patterns(mods, keyword, other, placeholders)?
                    .iter()
                    .map(|t| Matcher::Str(Pattern::new(t, mods.cased)))
                    .collect(),
            };
            Ok(if neq {
                alts.into_iter()
                    .map(|m| Matcher::Not(Box::new(m)))
                    .collect()
            } else {
                alts
            })
        })
        .collect()
}

/// A value as Sigma string patterns: placeholders expanded, each modifier
/// applied in the order written; keywords are searched anywhere in a value.
fn string_patterns(
    mods: &Mods,
    keyword: bool,
    value: &RawValue,
    placeholders: &Placeholders,
) -> Result<Vec<Vec<Tok>>, RuleError> {
    let expand = mods.has(Mod::Expand);
    let text = value.text().unwrap_or_default();
    let toks = match value {
        RawValue::Str(s) => pattern::parse(s, expand),
        _ => pattern::literal(&text),
    };
    let mut alts = if expand {
        resolve_placeholders(toks, placeholders)?
    } else {
        vec![toks]
    };
    for m in &mods.list {
        alts = transform(*m, alts)?;
        if alts.len() > MAX_ALTERNATIVES {
            return Err(RuleError::new(format!(
                "value {text:?} expands into more than {MAX_ALTERNATIVES} alternatives"
            )));
        }
    }
    let anchored = mods
        .list
        .iter()
        .any(|m| matches!(m, Mod::Contains | Mod::StartsWith | Mod::EndsWith));
    if keyword && !anchored {
        alts = transform(Mod::Contains, alts)?;
    }
    Ok(alts)
}

/// Applies one string modifier to every alternative (others leave them as they are).
fn transform(m: Mod, alts: Vec<Vec<Tok>>) -> Result<Vec<Vec<Tok>>, RuleError> {
    Ok(match m {
        Mod::Contains => strings::contains(alts),
        Mod::StartsWith => strings::starts_with(alts),
        Mod::EndsWith => strings::ends_with(alts),
        Mod::Windash => encodings::windash(alts, MAX_ALTERNATIVES)?,
        Mod::Base64 => encodings::base64(alts)?,
        Mod::Base64Offset => encodings::base64_offset(alts)?,
        Mod::Utf16Le | Mod::Utf16Be | Mod::Utf16 => encodings::utf16(m, alts),
        _ => alts,
    })
}
