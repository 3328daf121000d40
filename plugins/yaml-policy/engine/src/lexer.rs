//! Tokens of the expression language, with byte spans into the expression
//! text so that every parse error can point at a line and column.
//!
//! No grammar here: which token may follow which is the parser's.

use crate::error::SyntaxError;

/// A byte range of the expression text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// The smallest span covering both.
    pub fn join(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// A token's kind (and its text, for identifiers and literals).
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Ident(String),
    Str(String),
    Num(serde_json::Number),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Arrow,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    End,
}

impl Tok {
    /// The token as an error message names it.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Str(s) => format!("string '{s}'"),
            Tok::Num(n) => format!("number {n}"),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::LBracket => "`[`".into(),
            Tok::RBracket => "`]`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Dot => "`.`".into(),
            Tok::Arrow => "`=>`".into(),
            Tok::Eq => "`==`".into(),
            Tok::Ne => "`!=`".into(),
            Tok::Lt => "`<`".into(),
            Tok::Le => "`<=`".into(),
            Tok::Gt => "`>`".into(),
            Tok::Ge => "`>=`".into(),
            Tok::End => "the end of the expression".into(),
        }
    }
}

/// A token and where it sits.
#[derive(Debug, Clone)]
pub struct Token {
    /// What it is.
    pub tok: Tok,
    /// Where it is.
    pub span: Span,
}

/// Splits an expression into tokens, ending with `Tok::End`.
pub fn tokenize(src: &str) -> Result<Vec<Token>, SyntaxError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let simple = |tok: Tok, len: usize| Token {
            tok,
            span: Span {
                start,
                end: start + len,
            },
        };
        let two = bytes.get(i + 1).copied();
        let token = match (c, two) {
            (b'(', _) => simple(Tok::LParen, 1),
            (b')', _) => simple(Tok::RParen, 1),
            (b'[', _) => simple(Tok::LBracket, 1),
            (b']', _) => simple(Tok::RBracket, 1),
            (b',', _) => simple(Tok::Comma, 1),
            (b'.', _) => simple(Tok::Dot, 1),
            (b'=', Some(b'=')) => simple(Tok::Eq, 2),
            (b'=', Some(b'>')) => simple(Tok::Arrow, 2),
            (b'!', Some(b'=')) => simple(Tok::Ne, 2),
            (b'<', Some(b'=')) => simple(Tok::Le, 2),
            (b'>', Some(b'=')) => simple(Tok::Ge, 2),
            (b'<', _) => simple(Tok::Lt, 1),
            (b'>', _) => simple(Tok::Gt, 1),
            (b'\'' | b'"', _) => lex_string(src, start)?,
            (b'0'..=b'9', _) | (b'-', Some(b'0'..=b'9')) => lex_number(src, start)?,
            (c, _) if c.is_ascii_alphabetic() || c == b'_' => {
                let mut j = i + 1;
                while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                    j += 1;
                }
                Token {
                    tok: Tok::Ident(src[i..j].to_string()),
                    span: Span { start, end: j },
                }
            }
            (b'=', _) => {
                return Err(SyntaxError::new(
                    "`=` is not an operator; compare with `==`",
                    start,
                ));
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(SyntaxError::new(
                    format!("unexpected character `{ch}`"),
                    start,
                ));
            }
        };
        i = token.span.end;
        out.push(token);
    }
    out.push(Token {
        tok: Tok::End,
        span: Span {
            start: src.len(),
            end: src.len(),
        },
    });
    Ok(out)
}

fn lex_string(src: &str, start: usize) -> Result<Token, SyntaxError> {
    let mut chars = src[start..].char_indices();
    let (_, quote) = chars.next().unwrap_or((0, '\''));
    let mut value = String::new();
    while let Some((offset, ch)) = chars.next() {
        match ch {
            c if c == quote => {
                return Ok(Token {
                    tok: Tok::Str(value),
                    span: Span {
                        start,
                        end: start + offset + ch.len_utf8(),
                    },
                });
            }
            '\\' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, c @ ('\\' | '\'' | '"'))) => value.push(c),
                Some((o, c)) => {
                    return Err(SyntaxError::new(
                        format!("unknown escape `\\{c}` in string"),
                        start + o - 1,
                    ));
                }
                None => break,
            },
            c => value.push(c),
        }
    }
    Err(SyntaxError::new("unterminated string", start))
}

fn lex_number(src: &str, start: usize) -> Result<Token, SyntaxError> {
    let bytes = src.as_bytes();
    let mut j = start + 1;
    while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == b'.') {
        j += 1;
    }
    let text = &src[start..j];
    let number = if text.contains('.') {
        text.parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
    } else {
        text.parse::<i64>().ok().map(serde_json::Number::from)
    };
    let number =
        number.ok_or_else(|| SyntaxError::new(format!("`{text}` is not a number"), start))?;
    Ok(Token {
        tok: Tok::Num(number),
        span: Span { start, end: j },
    })
}
