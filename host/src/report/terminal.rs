//! Text for a terminal: whatever reaches a person's screen — table cells,
//! summaries, error messages — goes through [`escape_control`] first, so
//! that a log field, a plugin message or a file name cannot move the cursor,
//! retitle the window, rewrite a line or hide text.
//!
//! The one rule: C0 controls (but the line feed), DEL, C1 controls and the
//! Unicode bidirectional overrides and isolates are shown as escapes
//! (`\u{1b}`, `\r`, `\t`, `\u{9b}`, `\u{202e}`); everything else, every
//! other Unicode character included, is kept as it is. A line feed stays a
//! line feed: inside a table cell it only makes the cell taller, and a
//! message may span lines.
//!
//! Three ways in, all on the same rule: [`escape_control`] for a string,
//! [`safe`] for anything `Display`, and [`TerminalWriter`] for a whole
//! stream of plain text (summaries). [`Table`] escapes every cell it is
//! given.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Write};

/// Whether `c` must not reach a terminal as it is.
fn is_control(c: char) -> bool {
    match c {
        '\n' => false,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => true,
        // Bidirectional embeddings, overrides and isolates ("Trojan Source").
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

/// `println!` with the formatted text escaped by the module's one rule.
/// Product code prints through this (or [`say_err!`]) only: a test
/// (`host/tests/architecture.rs`) refuses a bare `println!`, so a name from a
/// manifest, a registry, a key file or a plugin cannot reach the terminal raw.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        ::std::println!("{}", $crate::report::safe(::std::format_args!($($arg)*)))
    };
}

/// `eprintln!` with the formatted text escaped by the module's one rule
/// (see [`say!`]).
#[macro_export]
macro_rules! say_err {
    ($($arg:tt)*) => {
        ::std::eprintln!("{}", $crate::report::safe(::std::format_args!($($arg)*)))
    };
}

/// `s` with every control character shown as an escape (see the module
/// doc); borrowed when there is nothing to escape.
pub fn escape_control(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if is_control(c) => {
                let _ = fmt::Write::write_fmt(&mut out, format_args!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A value displayed with its control characters escaped.
#[derive(Debug, Clone, Copy)]
pub struct Safe<T>(pub T);

/// `value`, to be displayed with its control characters escaped.
pub fn safe<T: fmt::Display>(value: T) -> Safe<T> {
    Safe(value)
}

impl<T: fmt::Display> fmt::Display for Safe<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.to_string();
        f.write_str(&escape_control(&text))
    }
}

/// A writer of plain text that escapes control characters in everything
/// written through it (for summaries and messages on stderr; never for
/// output that carries colour codes of its own).
pub struct TerminalWriter<W: Write> {
    inner: W,
    /// The start of a UTF-8 sequence split across two writes.
    pending: Vec<u8>,
}

impl<W: Write> TerminalWriter<W> {
    /// Escape what is written before it reaches `inner`.
    pub fn new(inner: W) -> TerminalWriter<W> {
        TerminalWriter {
            inner,
            pending: Vec::new(),
        }
    }
}

impl<W: Write> Write for TerminalWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        let mut rest: &[u8] = &std::mem::take(&mut self.pending);
        loop {
            match std::str::from_utf8(rest) {
                Ok(text) => {
                    self.inner.write_all(escape_control(text).as_bytes())?;
                    break;
                }
                Err(e) => {
                    let (valid, tail) = rest.split_at(e.valid_up_to());
                    let text = std::str::from_utf8(valid).unwrap_or_default();
                    self.inner.write_all(escape_control(text).as_bytes())?;
                    match e.error_len() {
                        // An incomplete sequence at the end: wait for the rest.
                        None => {
                            self.pending = tail.to_vec();
                            break;
                        }
                        Some(n) => {
                            for b in &tail[..n] {
                                write!(self.inner, "\\x{b:02x}")?;
                            }
                            rest = &tail[n..];
                        }
                    }
                }
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        for b in std::mem::take(&mut self.pending) {
            write!(self.inner, "\\x{b:02x}")?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for TerminalWriter<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// A table whose every cell is escaped as it is added: the only way rows
/// get into a table of ours (`report::table`).
pub struct Table(comfy_table::Table);

impl Table {
    pub(super) fn new(inner: comfy_table::Table) -> Table {
        Table(inner)
    }

    /// Add a row. A cell with nothing to escape keeps its style (colour);
    /// one with control characters is replaced by its escaped text.
    pub fn add_row<I, C>(&mut self, cells: I) -> &mut Table
    where
        I: IntoIterator<Item = C>,
        C: Into<comfy_table::Cell>,
    {
        let row: Vec<comfy_table::Cell> =
            cells.into_iter().map(|c| escape_cell(c.into())).collect();
        self.0.add_row(row);
        self
    }

    /// A column, to constrain its width.
    pub fn column_mut(&mut self, index: usize) -> Option<&mut comfy_table::Column> {
        self.0.column_mut(index)
    }

    /// Rows added.
    pub fn row_count(&self) -> usize {
        self.0.row_count()
    }

    /// Whether no row was added.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn escape_cell(cell: comfy_table::Cell) -> comfy_table::Cell {
    let content = cell.content();
    match escape_control(&content) {
        Cow::Borrowed(_) => cell,
        Cow::Owned(escaped) => comfy_table::Cell::new(escaped),
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_shown_and_unicode_is_kept() {
        assert_eq!(
            escape_control("a\u{1b}]0;pwned\u{7}b"),
            "a\\u{1b}]0;pwned\\u{7}b"
        );
        assert_eq!(escape_control("x\r\ty"), "x\\r\\ty");
        assert_eq!(escape_control("csi\u{9b}31m"), "csi\\u{9b}31m");
        assert_eq!(escape_control("del\u{7f}"), "del\\u{7f}");
        assert_eq!(escape_control("evil\u{202e}txt"), "evil\\u{202e}txt");
        assert!(matches!(
            escape_control("Zürich · 東京 → ok\nnext line"),
            Cow::Borrowed(_)
        ));
        assert_eq!(safe("\u{1b}[2J").to_string(), "\\u{1b}[2J");
    }

    #[test]
    fn the_writer_escapes_across_split_writes() {
        let mut buf = Vec::new();
        {
            let mut w = TerminalWriter::new(&mut buf);
            let text = "é\u{9b}\u{1b}[31mred\n".as_bytes();
            // Split inside the two-byte sequences.
            w.write_all(&text[..1]).unwrap();
            w.write_all(&text[1..3]).unwrap();
            w.write_all(&text[3..]).unwrap();
            w.write_all(&[0xff, b'!']).unwrap();
        }
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "é\\u{9b}\\u{1b}[31mred\n\\xff!"
        );
    }

    #[test]
    fn every_table_cell_is_escaped_and_clean_cells_keep_their_colour() {
        let mut t = super::super::table(&["A", "B"]);
        t.add_row(vec![
            comfy_table::Cell::new("ok").fg(comfy_table::Color::Red),
            comfy_table::Cell::new("\u{1b}[2Jgone"),
        ]);
        t.add_row(vec!["plain".to_string(), "bell\u{7}".to_string()]);
        let text = t.to_string();
        // Not a terminal: no colour codes either, so no raw ESC at all.
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(text.contains("\\u{1b}[2Jgone"), "{text}");
        assert!(text.contains("bell\\u{7}"), "{text}");
        assert!(!text.contains('\u{7}'));
    }
}
