//! A streaming JSON scanner: it finds where each value of a stream begins
//! and ends, and how deep it nests, without recursing and without building
//! anything. A caller walks the outer structure (`{"Records": [...]}`, a
//! snapshot's fields) with [`JsonStream::peek`], [`JsonStream::key`] and
//! [`JsonStream::expect`], and takes each record with [`JsonStream::value`]:
//! its bytes are kept up to a cap and only counted past it, so a record of
//! any size or depth costs at most the cap. What a kept value means is left
//! to `serde_json` on its bytes (with the depth already known to be sane).

use std::io::{self, BufRead};

/// The bytes of JSON's structure, named: a brace in a byte literal reads as
/// code to line-based tools (the architecture test counts braces).
pub const BEGIN_OBJECT: u8 = b'{';
/// `}`
pub const END_OBJECT: u8 = b'}';
/// `[`
pub const BEGIN_ARRAY: u8 = b'[';
/// `]`
pub const END_ARRAY: u8 = b']';
/// `"`
pub const QUOTE: u8 = b'"';

/// A place in the stream: line and column (of bytes), both from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    /// The line, from 1.
    pub line: u64,
    /// The byte in the line, from 1.
    pub column: u64,
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {} column {}", self.line, self.column)
    }
}

/// One value of the stream, as scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scanned {
    /// Where it starts.
    pub start: Pos,
    /// Its length in bytes.
    pub bytes: u64,
    /// Its nesting depth: 0 for a scalar, 1 for `{}` or `[1]`.
    pub depth: u64,
    /// Whether its bytes are in the caller's buffer (false past the cap).
    pub kept: bool,
}

/// Why the stream could not be scanned further.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// The structure is broken here; what follows cannot be trusted.
    #[error("{at}: {message}")]
    Syntax {
        /// Where.
        at: Pos,
        /// What was found or missing.
        message: String,
    },
    /// The stream could not be read (or passed a limit while decompressing).
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// The state of a value being scanned.
#[derive(Debug, Clone, Copy, Default)]
struct State {
    depth: u64,
    max_depth: u64,
    in_str: bool,
    escaped: bool,
    bytes: u64,
    kept: bool,
}

/// The scanner over a buffered stream.
pub struct JsonStream<'r> {
    r: &'r mut dyn BufRead,
    line: u64,
    column: u64,
}

impl<'r> JsonStream<'r> {
    /// Scan `r` from its current position (line 1, column 1).
    pub fn new(r: &'r mut dyn BufRead) -> JsonStream<'r> {
        JsonStream {
            r,
            line: 1,
            column: 1,
        }
    }

    /// Where the next byte is.
    pub fn position(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.column,
        }
    }

    /// A syntax error at the current position.
    pub fn error(&self, message: impl Into<String>) -> JsonError {
        JsonError::Syntax {
            at: self.position(),
            message: message.into(),
        }
    }

    /// The next byte that is not whitespace (skipped, never held), without
    /// taking it; `None` at the end of the stream.
    pub fn peek(&mut self) -> Result<Option<u8>, JsonError> {
        loop {
            let buf = self.r.fill_buf()?;
            if buf.is_empty() {
                return Ok(None);
            }
            let ws = buf
                .iter()
                .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
            let n = ws.unwrap_or(buf.len());
            let (lines, column) = advance(&buf[..n], self.column);
            self.line += lines;
            self.column = column;
            let next = ws.map(|i| buf[i]);
            self.r.consume(n);
            if next.is_some() {
                return Ok(next);
            }
        }
    }

    /// Take the byte [`peek`](Self::peek) returned.
    pub fn bump(&mut self) {
        self.r.consume(1);
        self.column += 1;
    }

    /// Take `byte` (after whitespace), or fail naming `what` was expected.
    pub fn expect(&mut self, byte: u8, what: &str) -> Result<(), JsonError> {
        match self.peek()? {
            Some(b) if b == byte => {
                self.bump();
                Ok(())
            }
            Some(b) => Err(self.error(format!("expected {what}, found `{}`", b as char))),
            None => Err(self.error(format!("expected {what}, found the end of the input"))),
        }
    }

    /// An object key (after whitespace): its raw bytes, quotes included,
    /// are appended to `raw`, and it is returned decoded. Keys longer than
    /// `max` bytes are refused.
    pub fn key(&mut self, raw: &mut Vec<u8>, max: usize) -> Result<String, JsonError> {
        let start = self.position();
        if self.peek()? != Some(QUOTE) {
            return Err(self.error("expected a key (a string)"));
        }
        let from = raw.len();
        let scanned = self.value(raw, max.saturating_add(raw.len()))?;
        if !scanned.kept {
            return Err(JsonError::Syntax {
                at: start,
                message: format!("a key longer than {max} bytes"),
            });
        }
        serde_json::from_slice(&raw[from..]).map_err(|e| JsonError::Syntax {
            at: start,
            message: format!("a key that is not a valid string: {e}"),
        })
    }

    /// One whole value (after whitespace), appended to `out` while `out`
    /// stays within `cap` bytes; past it `out` is truncated back and the
    /// value only counted. Nothing but the buffer grows, whatever the value.
    pub fn value(&mut self, out: &mut Vec<u8>, cap: usize) -> Result<Scanned, JsonError> {
        let Some(first) = self.peek()? else {
            return Err(self.error("expected a value, found the end of the input"));
        };
        let start = self.position();
        let base = out.len();
        let state = State {
            kept: true,
            ..State::default()
        };
        let state = match first {
            BEGIN_OBJECT | BEGIN_ARRAY | QUOTE => self.scan(state, out, base, cap)?,
            b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => self.scalar(state, out, base, cap)?,
            b => {
                return Err(self.error(format!("expected a value, found `{}`", b as char)));
            }
        };
        Ok(Scanned {
            start,
            bytes: state.bytes,
            depth: state.max_depth,
            kept: state.kept,
        })
    }

    /// The rest of an object whose `{` (and perhaps first key) the caller
    /// took and put in `out` itself; `start` is where the `{` was.
    pub fn rest_of_object(
        &mut self,
        out: &mut Vec<u8>,
        cap: usize,
        start: Pos,
    ) -> Result<Scanned, JsonError> {
        let state = State {
            depth: 1,
            max_depth: 1,
            bytes: out.len() as u64,
            kept: out.len() <= cap,
            ..State::default()
        };
        if !state.kept {
            out.clear();
        }
        let state = self.scan(state, out, 0, cap)?;
        Ok(Scanned {
            start,
            bytes: state.bytes,
            depth: state.max_depth,
            kept: state.kept,
        })
    }

    /// Strings, objects and arrays: up to the byte that closes the value.
    fn scan(
        &mut self,
        mut st: State,
        out: &mut Vec<u8>,
        base: usize,
        cap: usize,
    ) -> Result<State, JsonError> {
        loop {
            let buf = self.r.fill_buf()?;
            if buf.is_empty() {
                return Err(self.error("the input ends inside a value"));
            }
            let mut done = false;
            let mut n = 0;
            for &b in buf {
                n += 1;
                if step(&mut st, b) {
                    done = true;
                    break;
                }
            }
            let (lines, column) = advance(&buf[..n], self.column);
            keep(&mut st, out, base, cap, &buf[..n]);
            self.r.consume(n);
            self.line += lines;
            self.column = column;
            if done {
                return Ok(st);
            }
        }
    }

    /// Numbers, `true`, `false`, `null`: up to the next delimiter.
    fn scalar(
        &mut self,
        mut st: State,
        out: &mut Vec<u8>,
        base: usize,
        cap: usize,
    ) -> Result<State, JsonError> {
        loop {
            let buf = self.r.fill_buf()?;
            if buf.is_empty() {
                return Ok(st);
            }
            let end = buf.iter().position(|&b| {
                matches!(
                    b,
                    b',' | END_ARRAY | END_OBJECT | b' ' | b'\t' | b'\n' | b'\r' | QUOTE
                ) || matches!(b, BEGIN_OBJECT | BEGIN_ARRAY | b':')
            });
            let n = end.unwrap_or(buf.len());
            keep(&mut st, out, base, cap, &buf[..n]);
            self.r.consume(n);
            self.column += n as u64;
            if end.is_some() {
                return Ok(st);
            }
        }
    }
}

/// One byte of a string, object or array; true when it closes the value.
fn step(st: &mut State, b: u8) -> bool {
    if st.in_str {
        if st.escaped {
            st.escaped = false;
        } else if b == b'\\' {
            st.escaped = true;
        } else if b == QUOTE {
            st.in_str = false;
            return st.depth == 0;
        }
        return false;
    }
    match b {
        QUOTE => st.in_str = true,
        BEGIN_OBJECT | BEGIN_ARRAY => {
            st.depth += 1;
            st.max_depth = st.max_depth.max(st.depth);
        }
        END_OBJECT | END_ARRAY => {
            // `scan` starts at an opening byte or inside an object, so the
            // depth is at least 1 here.
            st.depth = st.depth.saturating_sub(1);
            return st.depth == 0;
        }
        _ => {}
    }
    false
}

/// Count `chunk` into the value and keep it in `out` while within `cap`.
fn keep(st: &mut State, out: &mut Vec<u8>, base: usize, cap: usize, chunk: &[u8]) {
    st.bytes += chunk.len() as u64;
    if st.kept && out.len() + chunk.len() <= cap {
        out.extend_from_slice(chunk);
    } else if st.kept {
        st.kept = false;
        out.truncate(base);
    }
}

/// Lines and the column after `chunk`, starting at `column`.
fn advance(chunk: &[u8], column: u64) -> (u64, u64) {
    match chunk.iter().rposition(|&b| b == b'\n') {
        None => (0, column + chunk.len() as u64),
        Some(last) => (
            chunk.iter().filter(|&&b| b == b'\n').count() as u64,
            (chunk.len() - last) as u64,
        ),
    }
}

/// The nesting depth of a JSON text (0 for a scalar), without parsing it.
pub fn depth(text: &str) -> u64 {
    let mut st = State::default();
    for &b in text.as_bytes() {
        // A text with stray closing brackets is not JSON; its depth is what
        // was seen, and the parser that reads it reports the error.
        step(&mut st, b);
    }
    st.max_depth
}

/// Read every top-level value of `r` into memory: for tests and small inputs.
#[cfg(test)]
fn values(text: &str, cap: usize) -> Vec<(Scanned, String)> {
    let mut r = io::BufReader::with_capacity(3, text.as_bytes());
    let mut s = JsonStream::new(&mut r);
    let mut out = Vec::new();
    let mut all = Vec::new();
    while s.peek().unwrap().is_some() {
        out.clear();
        let v = s.value(&mut out, cap).unwrap();
        all.push((v, String::from_utf8(out.clone()).unwrap()));
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_split_with_their_place_and_depth() {
        let got = values(
            "{\"a\": [1, {\"b\": \"}\\\"]\"}]}\n  [[[]]] \"s\\\"x\" 12 true\n{}",
            1 << 20,
        );
        let texts: Vec<&str> = got.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(
            texts,
            [
                "{\"a\": [1, {\"b\": \"}\\\"]\"}]}",
                "[[[]]]",
                "\"s\\\"x\"",
                "12",
                "true",
                "{}"
            ]
        );
        let depths: Vec<u64> = got.iter().map(|(v, _)| v.depth).collect();
        assert_eq!(depths, [3, 3, 0, 0, 0, 1]);
        assert_eq!(got[1].0.start, Pos { line: 2, column: 3 });
        assert_eq!(got[5].0.start, Pos { line: 3, column: 1 });
    }

    #[test]
    fn a_value_past_the_cap_is_counted_not_kept() {
        let big = format!("[\"{}\"] {{\"k\":1}}", "x".repeat(100));
        let got = values(&big, 10);
        assert!(!got[0].0.kept);
        assert_eq!(got[0].0.bytes, 104);
        assert_eq!(got[0].1, "");
        assert!(got[1].0.kept);
        assert_eq!(got[1].1, "{\"k\":1}");
    }

    #[test]
    fn depth_is_counted_not_recursed() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let got = values(&deep, 16);
        assert_eq!(got[0].0.depth, 100_000);
        assert_eq!(depth(&deep), 100_000);
        assert_eq!(depth(r#"{"a":"[[[["}"#), 1);
    }

    #[test]
    fn broken_structure_is_an_error_with_its_place() {
        let mut r = io::BufReader::new(&b"{\"a\": [1, 2"[..]);
        let mut s = JsonStream::new(&mut r);
        let e = s.value(&mut Vec::new(), 100).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1 column 12: the input ends inside a value"
        );
        let mut r = io::BufReader::new(&b"  \n :"[..]);
        let mut s = JsonStream::new(&mut r);
        let e = s.value(&mut Vec::new(), 100).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2 column 2: expected a value, found `:`"
        );
    }

    #[test]
    fn keys_are_decoded_and_capped() {
        let mut r = io::BufReader::new(&br#" "Rec\u006frds" : ["#[..]);
        let mut s = JsonStream::new(&mut r);
        let mut raw = Vec::new();
        assert_eq!(s.key(&mut raw, 64).unwrap(), "Records");
        assert_eq!(raw, br#""Rec\u006frds""#);
        s.expect(b':', "`:`").unwrap();
        assert_eq!(s.peek().unwrap(), Some(b'['));
        let long = format!("\"{}\"", "k".repeat(100));
        let mut r = io::BufReader::new(long.as_bytes());
        let mut s = JsonStream::new(&mut r);
        assert!(s.key(&mut Vec::new(), 10).is_err());
    }
}
