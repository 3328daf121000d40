//! The JSON formatter of every JSON output: serde_json's pretty printer,
//! with the characters JSON lets through raw but a terminal obeys (DEL, C1
//! controls, bidirectional overrides and isolates) written as `\uXXXX`
//! escapes. The value parses to exactly the same strings.

use std::io::{self, Write};

use serde_json::ser::{Formatter, PrettyFormatter};

/// Pretty-printed JSON with terminal controls escaped.
pub(super) struct SafeFormatter(PrettyFormatter<'static>);

impl SafeFormatter {
    pub(super) fn new() -> SafeFormatter {
        SafeFormatter(PrettyFormatter::new())
    }
}

/// Whether JSON would write `c` raw although a terminal would act on it.
fn needs_escape(c: char) -> bool {
    matches!(c, '\u{7f}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

impl Formatter for SafeFormatter {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if needs_escape(c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                write!(writer, "\\u{:04x}", c as u32)?;
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_escapes_what_a_terminal_would_obey_and_parses_back_the_same() {
        let value = serde_json::json!({"m": "a\u{1b}[31m\u{9b}b\u{202e}c é"});
        let mut out = Vec::new();
        super::super::write_json(&mut out, &value).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(r"a\u001b[31m\u009bb\u202ec é"), "{text}");
        assert!(text.contains("\n  \"m\""), "still pretty: {text}");
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }
}
