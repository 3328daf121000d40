//! Encoding modifiers: `windash` dash permutations, `base64`, `base64offset`
//! and the `utf16`/`utf16le`/`utf16be` (`wide`) byte encodings.
//!
//! Each rewrites the token lists of a value into their encoded
//! alternatives; none of them sees an event.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::Mod;
use crate::error::RuleError;
use crate::pattern::{self, Tok};

/// What `windash` lets a leading `-` or `/` be: hyphen, slash, en dash, em dash, horizontal bar.
const WINDASH: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// Whether the token is a word character (letter, digit or `_`).
fn is_word(t: Option<&Tok>) -> bool {
    matches!(t, Some(Tok::Char(c)) if c.is_alphanumeric() || *c == '_')
}

/// The flags of one alternative: each `-` or `/` that starts a word
/// (`\B[-/]\b`): not after a word character, before one.
fn flags(t: &[Tok]) -> Vec<usize> {
    (0..t.len())
        .filter(|&i| {
            matches!(t[i], Tok::Char('-') | Tok::Char('/'))
                && !is_word(i.checked_sub(1).and_then(|p| t.get(p)))
                && is_word(t.get(i + 1))
        })
        .collect()
}

/// `windash`: every permutation of the dash characters for each flag, at
/// most five flags per value and `limit` alternatives in all (counted
/// before any is built).
pub(super) fn windash(alts: Vec<Vec<Tok>>, limit: usize) -> Result<Vec<Vec<Tok>>, RuleError> {
    let spots: Vec<Vec<usize>> = alts.iter().map(|t| flags(t)).collect();
    if spots.iter().any(|s| s.len() > 5) {
        return Err(RuleError::new(
            "windash on a value with more than 5 flags expands too far",
        ));
    }
    let total = spots.iter().try_fold(0usize, |n, s| {
        n.checked_add(WINDASH.len().pow(s.len() as u32))
    });
    if total.is_none_or(|n| n > limit) {
        return Err(RuleError::new(format!(
            "windash expands the value into more than {limit} alternatives"
        )));
    }
    let mut out = Vec::new();
    for (t, spots) in alts.into_iter().zip(spots) {
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
    Ok(out)
}

/// `base64`: the value's bytes, base64-encoded (no wildcards allowed).
pub(super) fn base64(alts: Vec<Vec<Tok>>) -> Result<Vec<Vec<Tok>>, RuleError> {
    let mut out = Vec::with_capacity(alts.len());
    for t in alts {
        if pattern::has_special(&t) {
            return Err(RuleError::new(
                "base64 cannot encode a value with wildcards",
            ));
        }
        out.push(pattern::literal(&B64.encode(pattern::to_bytes(&t))));
    }
    Ok(out)
}

/// `base64offset`: the three encodings of the value at each offset modulo
/// three, trimmed to the characters that do not depend on what surrounds it.
pub(super) fn base64_offset(alts: Vec<Vec<Tok>>) -> Result<Vec<Vec<Tok>>, RuleError> {
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
    Ok(out)
}

/// `utf16le`/`wide`, `utf16be`, `utf16` (little-endian with a byte-order mark):
/// characters become their UTF-16 code-unit bytes.
pub(super) fn utf16(m: Mod, alts: Vec<Vec<Tok>>) -> Vec<Vec<Tok>> {
    alts.into_iter()
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
        .collect()
}
