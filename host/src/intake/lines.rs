//! Lines read with a cap on their length: a line longer than the cap is
//! never held, only counted while it is skipped.

use std::io::{self, BufRead};

/// How reading one line ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// A whole line is in the buffer (without its `\n` or `\r\n`); the last
    /// line of a stream may lack its newline.
    Complete,
    /// The stream ended before any byte of a line.
    End,
    /// The line was longer than the cap: it was skipped through its newline
    /// and the buffer is empty. `bytes` is its length.
    TooLong {
        /// The length of the line, its newline not counted.
        bytes: u64,
    },
}

/// Read one line into `out` (cleared first), holding at most `max` bytes
/// of it (a `\r` before the newline is not counted).
pub fn read_line(r: &mut dyn BufRead, out: &mut Vec<u8>, max: usize) -> io::Result<Line> {
    out.clear();
    let mut any = false;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(if any { finish(out, max) } else { Line::End });
        }
        any = true;
        let (chunk, newline) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], true),
            None => (buf, false),
        };
        // One byte more than the cap may be a `\r` before the newline.
        if out.len() + chunk.len() > max + 1 {
            let held = out.len() as u64;
            let n = chunk.len();
            r.consume(n + usize::from(newline));
            out.clear();
            let rest = if newline { 0 } else { skip_line(r)? };
            return Ok(Line::TooLong {
                bytes: held + n as u64 + rest,
            });
        }
        let n = chunk.len();
        out.extend_from_slice(chunk);
        r.consume(n + usize::from(newline));
        if newline {
            return Ok(finish(out, max));
        }
    }
}

/// Strip a trailing `\r`, then hold the line to the cap.
fn finish(out: &mut Vec<u8>, max: usize) -> Line {
    if out.last() == Some(&b'\r') {
        out.pop();
    }
    if out.len() > max {
        let bytes = out.len() as u64;
        out.clear();
        return Line::TooLong { bytes };
    }
    Line::Complete
}

/// The next line (without its `\n` or `\r\n`) when it ends, or the stream
/// does, within `max` bytes; `None` when it does not, having read no more
/// than `max + 1` bytes of it (a caller that only looks at a first line
/// never pays for a long one).
pub fn line_within(r: &mut dyn BufRead, max: usize) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    loop {
        let buf = r.fill_buf()?;
        let (chunk, end) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], true),
            None => (buf, buf.is_empty()),
        };
        // One byte more than the cap may be a `\r` before the newline.
        if line.len() + chunk.len() > max + 1 {
            return Ok(None);
        }
        let (n, newline) = (chunk.len(), chunk.len() < buf.len());
        line.extend_from_slice(chunk);
        r.consume(n + usize::from(newline));
        if end {
            return Ok((finish(&mut line, max) == Line::Complete).then_some(line));
        }
    }
}

/// Discard the rest of the current line, through its newline; returns the
/// bytes discarded (the newline not counted).
pub fn skip_line(r: &mut dyn BufRead) -> io::Result<u64> {
    let mut skipped = 0u64;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(skipped);
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                r.consume(i + 1);
                return Ok(skipped + i as u64);
            }
            None => {
                let n = buf.len();
                r.consume(n);
                skipped += n as u64;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &[u8], max: usize) -> Vec<(Line, String)> {
        let mut r = io::BufReader::with_capacity(4, text);
        let mut out = Vec::new();
        let mut lines = Vec::new();
        loop {
            let l = read_line(&mut r, &mut out, max).unwrap();
            if l == Line::End {
                return lines;
            }
            lines.push((l, String::from_utf8_lossy(&out).into_owned()));
        }
    }

    #[test]
    fn lines_are_capped_and_long_ones_skipped() {
        assert_eq!(
            all(b"ab\r\ncdefghij\n\nxyz", 5),
            [
                (Line::Complete, "ab".into()),
                (Line::TooLong { bytes: 8 }, String::new()),
                (Line::Complete, String::new()),
                (Line::Complete, "xyz".into()),
            ]
        );
        // A line of exactly the cap, with or without `\r`, is whole; one
        // byte more is too long, even at the end of the stream.
        assert_eq!(
            all(b"abcde\r\nabcde\nabcdef\nabcdef", 5),
            [
                (Line::Complete, "abcde".into()),
                (Line::Complete, "abcde".into()),
                (Line::TooLong { bytes: 6 }, String::new()),
                (Line::TooLong { bytes: 6 }, String::new()),
            ]
        );
        assert!(all(b"", 5).is_empty());
    }

    #[test]
    fn a_line_within_the_cap_or_nothing() {
        let mut r = io::BufReader::with_capacity(2, &b"abc\r\nrest"[..]);
        assert_eq!(line_within(&mut r, 3).unwrap(), Some(b"abc".to_vec()));
        let mut r = io::BufReader::with_capacity(2, &b"abcdefgh"[..]);
        assert_eq!(line_within(&mut r, 3).unwrap(), None);
        let mut r = io::BufReader::with_capacity(2, &b"abcd\n"[..]);
        assert_eq!(line_within(&mut r, 3).unwrap(), None);
        let mut r = io::BufReader::with_capacity(4, &b"abc\r\nrest"[..]);
        assert_eq!(line_within(&mut r, 3).unwrap(), Some(b"abc".to_vec()));
        let mut rest = String::new();
        io::Read::read_to_string(&mut r, &mut rest).unwrap();
        assert_eq!(rest, "rest");
    }

    #[test]
    fn skipping_counts_what_it_discards() {
        let mut r = io::BufReader::with_capacity(3, &b"0123456789\nnext"[..]);
        assert_eq!(skip_line(&mut r).unwrap(), 10);
        let mut out = Vec::new();
        assert_eq!(read_line(&mut r, &mut out, 10).unwrap(), Line::Complete);
        assert_eq!(out, b"next");
    }
}
