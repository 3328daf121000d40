//! A YAML stream split into its documents at their markers (`---` starts
//! one, `...` ends one, both at the start of a line), each with the line it
//! starts on, so that every document is parsed on its own: a syntax error
//! costs its document alone, and the documents after it still load (a YAML
//! parser cannot resume a stream after an error).
//!
//! Only markers are read here, never the documents' content; YAML itself
//! forbids a marker at the start of a line inside a document, so the split
//! is the one a YAML parser makes. Documents are numbered as a parser
//! numbers them: comments, blank lines and directives before a `---` belong
//! to the document it starts, and an unmarked stretch holding only those is
//! no document.

/// One document of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk<'t> {
    /// The document's text, its markers included.
    pub text: &'t str,
    /// 1-based line of the stream on which `text` starts.
    pub first_line: usize,
    /// 1-based line of the stream on which the document's content starts
    /// (its first line that is not a marker, comment, directive or blank),
    /// or its first line when it has none.
    pub content_line: usize,
}

/// Whether `line` is the marker `marker` (`---` or `...`): at the start of
/// the line, followed by nothing or by white space.
fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
}

/// Whether `line` holds content: not blank, a comment or a directive.
fn has_content(line: &str) -> bool {
    let t = line.trim();
    !(t.is_empty() || t.starts_with('#') || t.starts_with('%'))
}

/// The document being gathered.
struct Open {
    start: usize,
    first_line: usize,
    content_line: Option<usize>,
    /// Started by `---` (an explicit document, even when empty).
    explicit: bool,
}

impl Open {
    fn at(start: usize, line: usize, explicit: bool) -> Open {
        Open {
            start,
            first_line: line,
            content_line: None,
            explicit,
        }
    }

    /// The document ending before byte `end`, if it is one.
    fn close<'t>(&self, text: &'t str, end: usize) -> Option<Chunk<'t>> {
        (self.explicit || self.content_line.is_some()).then(|| Chunk {
            text: &text[self.start..end],
            first_line: self.first_line,
            content_line: self.content_line.unwrap_or(self.first_line),
        })
    }
}

/// The documents of `text`, in order.
pub fn documents(text: &str) -> Vec<Chunk<'_>> {
    let mut out = Vec::new();
    let mut open = Open::at(0, 1, false);
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let number = i + 1;
        if is_marker(line, "---") {
            if open.explicit || open.content_line.is_some() {
                out.extend(open.close(text, offset));
                open = Open::at(offset, number, true);
            } else {
                // Comments and directives so far belong to this document.
                open.explicit = true;
            }
            // Content may follow the marker on its line (`--- !tag`, `--- |`).
            if has_content(&line[3..]) {
                open.content_line = Some(number);
            }
        } else if is_marker(line, "...") {
            out.extend(open.close(text, offset + line.len()));
            open = Open::at(offset + line.len(), number + 1, false);
        } else if open.content_line.is_none() && has_content(line) {
            open.content_line = Some(number);
        }
        offset += line.len();
    }
    out.extend(open.close(text, text.len()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<(usize, usize)> {
        documents(text)
            .iter()
            .map(|c| (c.first_line, c.content_line))
            .collect()
    }

    #[test]
    fn splits_at_markers_and_numbers_as_yaml_does() {
        assert_eq!(lines(""), []);
        assert_eq!(lines("# only a comment\n\n"), []);
        assert_eq!(lines("a: 1\n"), [(1, 1)]);
        assert_eq!(lines("a: 1\n---\nb: 2\n"), [(1, 1), (2, 3)]);
        // Leading comments and directives join the first `---` document.
        assert_eq!(lines("%YAML 1.2\n# c\n---\na: 1\n"), [(1, 4)]);
        // Explicit empty documents count; the text after `...` is its own.
        assert_eq!(
            lines("---\n---\na: 1\n...\nb: 2\n"),
            [(1, 1), (2, 3), (5, 5)]
        );
        // `---x` and ` ---` are content, not markers; `--- |` has content.
        assert_eq!(lines("a: ---x\n ---\n--- |\n  text\n"), [(1, 1), (3, 3)]);
        let docs = documents("a: 1\n---\nb: [\n---\nc: 3");
        let texts: Vec<&str> = docs.iter().map(|c| c.text).collect();
        assert_eq!(texts, ["a: 1\n", "---\nb: [\n", "---\nc: 3"]);
        assert_eq!(lines("a: 1\r\n---\r\nb: 2\r\n"), [(1, 1), (2, 3)]);
    }
}
