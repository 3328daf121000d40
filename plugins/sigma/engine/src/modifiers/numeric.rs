//! Numeric comparisons, time parts, CIDR networks, field-reference modes and
//! `expand` placeholder resolution.
//!
//! The value types and their arithmetic only; which modifier makes which
//! matcher is decided by the parent module.

use std::net::IpAddr;

use super::{MAX_ALTERNATIVES, Placeholders, RawValue};
use crate::error::RuleError;
use crate::pattern::{self, Tok};

/// Comparison operators of the numeric modifiers and of correlation conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CmpOp {
    /// `lt`: less than.
    Lt,
    /// `lte`: less than or equal.
    Lte,
    /// `gt`: greater than.
    Gt,
    /// `gte`: greater than or equal.
    Gte,
    /// `eq`: equal (correlation conditions; time parts without another comparison).
    Eq,
    /// `neq`: not equal.
    Neq,
}

impl CmpOp {
    /// Whether `actual op expected` holds.
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

    /// The operator named `s` (`lt`, `lte`, `gt`, `gte`, `eq`, `neq`).
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
    /// `minute`: 0 to 59.
    Minute,
    /// `hour`: 0 to 23 (UTC).
    Hour,
    /// `day`: day of the month, 1 to 31.
    Day,
    /// `week`: ISO week number, 1 to 53.
    Week,
    /// `month`: 1 to 12.
    Month,
    /// `year`: the calendar year.
    Year,
}

/// How a field reference compares the two fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefMode {
    /// `fieldref`: the values are equal.
    Equals,
    /// `fieldref|contains`: this field's value contains the other's.
    Contains,
    /// `fieldref|startswith`: this field's value starts with the other's.
    StartsWith,
    /// `fieldref|endswith`: this field's value ends with the other's.
    EndsWith,
}

/// An IPv4 or IPv6 network of the `cidr` modifier.
#[derive(Debug, Clone)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a single-host network).
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

    /// Whether `ip` is in the network (never across address families).
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

/// A rule value as a number: numbers, and strings that parse as one.
pub(super) fn number(v: &RawValue) -> Option<f64> {
    match v {
        RawValue::Num(n, _) => Some(*n),
        RawValue::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `expand`: every combination of the values of the `%placeholder%`s in `toks`.
pub(super) fn resolve_placeholders(
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
