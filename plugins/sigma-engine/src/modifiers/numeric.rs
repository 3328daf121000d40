//! Numeric comparisons, time parts, CIDR networks, field-reference modes and
//! `expand` placeholder resolution.

use std::net::IpAddr;

use super::{MAX_ALTERNATIVES, Placeholders, RawValue};
use crate::error::RuleError;
use crate::pattern::{self, Tok};

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

pub(super) fn number(v: &RawValue) -> Option<f64> {
    match v {
        RawValue::Num(n, _) => Some(*n),
        RawValue::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

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
