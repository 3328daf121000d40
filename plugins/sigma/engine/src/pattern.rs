//! Sigma strings: parsing of `*`/`?` wildcards, `\` escapes and `%placeholder%`
//! tokens, and their compilation into fast case-folding string matchers.
//!
//! It knows nothing of fields or modifiers: those rewrite tokens before a
//! `Pattern` is built from them.

use std::borrow::Cow;

/// One element of a Sigma string value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// A plain character.
    Char(char),
    /// A raw byte, produced by the UTF-16 encodings (matched as the Latin-1 character).
    Byte(u8),
    /// `*`: any run of characters, possibly empty.
    Star,
    /// `?`: exactly one character.
    One,
    /// `%name%` under the `expand` modifier.
    Placeholder(String),
}

/// Splits a Sigma string into tokens. A backslash escapes `*`, `?` and itself
/// (and `%` when `placeholders` is on); before any other character it is a
/// plain backslash, so `\\\x` and `\\\\x` both mean two backslashes.
pub fn parse(raw: &str, placeholders: bool) -> Vec<Tok> {
    let chars: Vec<char> = raw.chars().collect();
    let mut out = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => match chars.get(i + 1) {
                Some(&n) if n == '*' || n == '?' || n == '\\' || (placeholders && n == '%') => {
                    out.push(Tok::Char(n));
                    i += 2;
                    continue;
                }
                _ => out.push(Tok::Char('\\')),
            },
            '*' => out.push(Tok::Star),
            '?' => out.push(Tok::One),
            '%' if placeholders => {
                let rest = &chars[i + 1..];
                let end = rest.iter().position(|&c| c == '%');
                match end {
                    Some(n)
                        if n > 0 && rest[..n].iter().all(|c| c.is_alphanumeric() || *c == '_') =>
                    {
                        out.push(Tok::Placeholder(rest[..n].iter().collect()));
                        i += n + 2;
                        continue;
                    }
                    _ => out.push(Tok::Char('%')),
                }
            }
            c => out.push(Tok::Char(c)),
        }
        i += 1;
    }
    out
}

/// Tokens for a literal text: no wildcard is special.
pub fn literal(text: &str) -> Vec<Tok> {
    text.chars().map(Tok::Char).collect()
}

/// Whether the tokens hold a wildcard or placeholder (forbidden under base64).
pub fn has_special(toks: &[Tok]) -> bool {
    toks.iter()
        .any(|t| matches!(t, Tok::Star | Tok::One | Tok::Placeholder(_)))
}

/// The bytes of wildcard-free tokens: characters as UTF-8, raw bytes as themselves.
pub fn to_bytes(toks: &[Tok]) -> Vec<u8> {
    let mut out = Vec::with_capacity(toks.len());
    let mut buf = [0u8; 4];
    for t in toks {
        match t {
            Tok::Char(c) => out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes()),
            Tok::Byte(b) => out.push(*b),
            _ => {}
        }
    }
    out
}

/// Lower-cases `s` only when it has something to lower.
pub fn fold(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            Cow::Borrowed(s)
        }
    } else if s.chars().any(char::is_uppercase) {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// A pattern token after folding: literal runs merged, `*` runs merged.
#[derive(Debug, Clone, PartialEq, Eq)]
enum GlobTok {
    /// Literal text.
    Lit(String),
    /// `?`.
    One,
    /// `*`.
    Many,
}

/// The shape of a pattern, so that common ones avoid the general matcher.
#[derive(Debug, Clone)]
enum Kind {
    /// No wildcard: equality.
    Exact(String),
    /// `text*`.
    Prefix(String),
    /// `*text`.
    Suffix(String),
    /// `*text*`.
    Contains(String),
    /// Only `*`s: any string.
    Any,
    /// Anything else.
    Glob(Vec<GlobTok>),
}

/// A compiled Sigma string: equality with wildcards, case-insensitive unless `cased`.
#[derive(Debug, Clone)]
pub struct Pattern {
    kind: Kind,
    /// Case-sensitive; otherwise the pattern is stored folded.
    cased: bool,
}

impl Pattern {
    /// Compiles tokens (placeholders already expanded).
    pub fn new(toks: &[Tok], cased: bool) -> Pattern {
        // Fold the literal parts; merge adjacent `*`.
        let mut g: Vec<GlobTok> = Vec::new();
        for t in toks {
            let ch = match t {
                Tok::Char(c) => Some(*c),
                Tok::Byte(b) => Some(char::from(*b)),
                // Unresolved placeholders never reach here; treat defensively as text.
                Tok::Placeholder(_) => None,
                Tok::Star => {
                    if g.last() != Some(&GlobTok::Many) {
                        g.push(GlobTok::Many);
                    }
                    continue;
                }
                Tok::One => {
                    g.push(GlobTok::One);
                    continue;
                }
            };
            let text: String = match (ch, t) {
                (Some(c), _) => c.to_string(),
                (None, Tok::Placeholder(p)) => format!("%{p}%"),
                _ => String::new(),
            };
            let text = if cased {
                text
            } else {
                fold(&text).into_owned()
            };
            match g.last_mut() {
                Some(GlobTok::Lit(s)) => s.push_str(&text),
                _ => g.push(GlobTok::Lit(text)),
            }
        }
        let kind = match g.as_slice() {
            [] => Kind::Exact(String::new()),
            [GlobTok::Lit(s)] => Kind::Exact(s.clone()),
            [GlobTok::Many] => Kind::Any,
            [GlobTok::Lit(s), GlobTok::Many] => Kind::Prefix(s.clone()),
            [GlobTok::Many, GlobTok::Lit(s)] => Kind::Suffix(s.clone()),
            [GlobTok::Many, GlobTok::Lit(s), GlobTok::Many] => Kind::Contains(s.clone()),
            _ => Kind::Glob(g),
        };
        Pattern { kind, cased }
    }

    /// The whole string the pattern equals (folded unless `cased`), when it
    /// has no wildcard.
    pub fn literal(&self) -> Option<&str> {
        match &self.kind {
            Kind::Exact(s) => Some(s),
            _ => None,
        }
    }

    /// Whether the whole of `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        if let Kind::Any = self.kind {
            return true;
        }
        if !self.cased && text.is_ascii() {
            // Patterns are folded already: compare ASCII text without allocating.
            let b = text.as_bytes();
            match &self.kind {
                Kind::Exact(s) => return b.eq_ignore_ascii_case(s.as_bytes()),
                Kind::Prefix(s) => {
                    return b.len() >= s.len() && b[..s.len()].eq_ignore_ascii_case(s.as_bytes());
                }
                Kind::Suffix(s) => {
                    return b.len() >= s.len()
                        && b[b.len() - s.len()..].eq_ignore_ascii_case(s.as_bytes());
                }
                _ => {}
            }
        }
        let text = if self.cased {
            Cow::Borrowed(text)
        } else {
            fold(text)
        };
        let t: &str = &text;
        match &self.kind {
            Kind::Exact(s) => t == s,
            Kind::Prefix(s) => t.starts_with(s.as_str()),
            Kind::Suffix(s) => t.ends_with(s.as_str()),
            Kind::Contains(s) => t.contains(s.as_str()),
            Kind::Any => true,
            Kind::Glob(g) => glob(g, t),
        }
    }
}

/// Matches a segment (literals and `?`, no `*`) at byte offset `pos`; returns the end offset.
fn seg_at(seg: &[GlobTok], text: &str, mut pos: usize) -> Option<usize> {
    for t in seg {
        match t {
            GlobTok::Lit(s) => {
                if text.get(pos..)?.starts_with(s.as_str()) {
                    pos += s.len();
                } else {
                    return None;
                }
            }
            GlobTok::One => {
                let c = text.get(pos..)?.chars().next()?;
                pos += c.len_utf8();
            }
            GlobTok::Many => return None,
        }
    }
    Some(pos)
}

/// Length of a segment in characters (segments have a fixed length).
fn seg_chars(seg: &[GlobTok]) -> usize {
    seg.iter()
        .map(|t| match t {
            GlobTok::Lit(s) => s.chars().count(),
            _ => 1,
        })
        .sum()
}

/// Wildcard matching: segments between `*` have fixed lengths, so matching
/// the first at the start, the last at the end and the middle ones leftmost
/// is exact and linear in practice.
fn glob(g: &[GlobTok], text: &str) -> bool {
    let segs: Vec<&[GlobTok]> = g.split(|t| *t == GlobTok::Many).collect();
    if segs.len() == 1 {
        return seg_at(segs[0], text, 0) == Some(text.len());
    }
    let first = segs[0];
    let last = segs[segs.len() - 1];
    let Some(mut pos) = seg_at(first, text, 0) else {
        return false;
    };
    for seg in &segs[1..segs.len() - 1] {
        if seg.is_empty() {
            continue;
        }
        let mut found = None;
        let mut start = pos;
        loop {
            if let Some(end) = seg_at(seg, text, start) {
                found = Some(end);
                break;
            }
            match text.get(start..).and_then(|r| r.chars().next()) {
                Some(c) => start += c.len_utf8(),
                None => break,
            }
        }
        match found {
            Some(end) => pos = end,
            None => return false,
        }
    }
    // The last segment is anchored at the end.
    let n = seg_chars(last);
    let tail_start = match text.char_indices().rev().nth(n.wrapping_sub(1)) {
        _ if n == 0 => text.len(),
        Some((i, _)) => i,
        None => return false,
    };
    tail_start >= pos && seg_at(last, text, tail_start) == Some(text.len())
}
