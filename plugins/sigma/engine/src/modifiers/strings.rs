//! String-matching modifiers: `contains`, `startswith` and `endswith` anchor
//! a wildcard pattern by adding leading and/or trailing `*`.
//!
//! They rewrite token lists only; none of them sees an event.

use crate::pattern::Tok;

/// `contains`: a `*` at both ends.
pub(super) fn contains(alts: Vec<Vec<Tok>>) -> Vec<Vec<Tok>> {
    alts.into_iter()
        .map(|mut t| {
            if t.first() != Some(&Tok::Star) {
                t.insert(0, Tok::Star);
            }
            if t.last() != Some(&Tok::Star) || t.len() == 1 {
                t.push(Tok::Star);
            }
            t
        })
        .collect()
}

/// `startswith`: a `*` at the end.
pub(super) fn starts_with(alts: Vec<Vec<Tok>>) -> Vec<Vec<Tok>> {
    alts.into_iter()
        .map(|mut t| {
            if t.last() != Some(&Tok::Star) {
                t.push(Tok::Star);
            }
            t
        })
        .collect()
}

/// `endswith`: a `*` at the start.
pub(super) fn ends_with(alts: Vec<Vec<Tok>>) -> Vec<Vec<Tok>> {
    alts.into_iter()
        .map(|mut t| {
            if t.first() != Some(&Tok::Star) {
                t.insert(0, Tok::Star);
            }
            t
        })
        .collect()
}
