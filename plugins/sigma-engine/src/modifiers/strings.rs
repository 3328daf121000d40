//! String-matching modifiers: `contains`, `startswith` and `endswith` anchor
//! a wildcard pattern by adding leading and/or trailing `*`.

use crate::pattern::Tok;

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
