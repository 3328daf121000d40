//! Intake: what every reader of local input shares, so that no input takes
//! more memory or time than its limits, whatever it claims to be.
//!
//! - [`InputLimits`]: the caps on one record, one line, a file's decompressed
//!   content and a record's nesting depth, with their defaults and the flags
//!   that change them (listed in `docs/detection.md` and
//!   `docs/snapshot-format.md`);
//! - [`open`]: a stream with gzip recognised by its magic number and its
//!   decompressed size capped while it is read;
//! - [`lines`]: lines read with a cap on their length;
//! - [`json`]: a JSON scanner that splits a stream into values without
//!   recursing and without holding more than one capped value;
//! - [`walk`]: the one directory walker (links to directories are never
//!   followed, every file is read once, by device and inode).
//!
//! The audit-log readers (`events`), the snapshot reader (`collect`) and the
//! rule-file reader (`catalog`) use it. It is a leaf like `settings` and
//! `net`: it uses no other module of the crate, and it never decides what a
//! value means, only how much of it may be read.

pub mod json;
pub mod lines;
pub mod walk;

use std::fmt;
use std::io::{self, BufRead, BufReader, Read};

/// The caps on what one input may make Stance hold. One place defines
/// them; `--max-record-mib`, `--max-line-mib`, `--max-decompressed-gib` and
/// `--max-record-depth` change them for `scan`, `collect`, `watch` and
/// `detect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputLimits {
    /// Bytes of one record as written: a CloudTrail record, a GuardDuty
    /// finding, a VPC flow record as JSON, a snapshot asset.
    pub record_bytes: usize,
    /// Bytes of one line of line-oriented input (VPC Flow Logs, NDJSON
    /// snapshots).
    pub line_bytes: usize,
    /// Bytes a gzipped input may decompress to. The content is streamed and
    /// never held; past the cap the rest of the input is not read.
    pub decompressed_bytes: u64,
    /// Nesting levels (objects and arrays) of one record. Plugins parse
    /// records with `serde_json`, which refuses 128 levels and more; the
    /// host refuses deeper records before batching, so one such record
    /// costs only itself.
    pub depth: usize,
}

impl InputLimits {
    /// The defaults: records and lines of 16 MiB, 4 GiB decompressed, 64 levels.
    pub const DEFAULT: InputLimits = InputLimits {
        record_bytes: 16 << 20,
        line_bytes: 16 << 20,
        decompressed_bytes: 4 << 30,
        depth: 64,
    };

    /// The deepest record the host may hand to plugins: the built-in Sigma
    /// and policy plugins (and every plugin built on `stance-sdk`) parse
    /// records with `serde_json`, which refuses 128 levels; this leaves room
    /// for the few levels their own evaluation adds.
    pub const MAX_DEPTH: usize = 100;

    /// Whether a record of `bytes` bytes and `depth` levels may go to
    /// plugins; the error names the flag that raises the limit.
    pub fn check_record(&self, bytes: u64, depth: u64) -> Result<(), LimitError> {
        if bytes > self.record_bytes as u64 {
            return Err(LimitError::Record {
                bytes,
                limit: self.record_bytes as u64,
            });
        }
        if depth > self.depth as u64 {
            return Err(LimitError::Depth {
                depth,
                limit: self.depth,
            });
        }
        Ok(())
    }
}

impl Default for InputLimits {
    fn default() -> Self {
        InputLimits::DEFAULT
    }
}

/// An input past one of its [`InputLimits`]. Each message names the flag
/// that raises the limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// A record larger than `--max-record-mib`.
    #[error("{} long, the limit is {} (--max-record-mib)", Size(*.bytes), Size(*.limit))]
    Record {
        /// Its size in bytes, as far as it was read.
        bytes: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// A record nested deeper than `--max-record-depth`.
    #[error("{depth} levels deep, the limit is {limit} (--max-record-depth)")]
    Depth {
        /// Its nesting depth.
        depth: u64,
        /// The limit.
        limit: usize,
    },
    /// A line longer than `--max-line-mib`.
    #[error("a line {} long, the limit is {} (--max-line-mib)", Size(*.bytes), Size(*.limit))]
    Line {
        /// Its length in bytes.
        bytes: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// Gzipped content that decompresses past `--max-decompressed-gib`.
    #[error(
        "the content decompresses to more than {} (--max-decompressed-gib); the rest was not read",
        Size(*.limit)
    )]
    Decompressed {
        /// The limit in bytes.
        limit: u64,
    },
}

/// A byte count for people: `512 bytes`, `16 MiB`, `3.2 GiB`.
#[derive(Debug, Clone, Copy)]
pub struct Size(pub u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const KIB: u64 = 1 << 10;
        const MIB: u64 = 1 << 20;
        const GIB: u64 = 1 << 30;
        let n = self.0;
        let (unit, div) = match n {
            n if n >= GIB => ("GiB", GIB),
            n if n >= MIB => ("MiB", MIB),
            n if n >= KIB => ("KiB", KIB),
            _ => return write!(f, "{n} bytes"),
        };
        if n.is_multiple_of(div) {
            write!(f, "{} {unit}", n / div)
        } else {
            write!(f, "{:.1} {unit}", n as f64 / div as f64)
        }
    }
}

/// An input opened for reading: gzip undone when it was gzipped.
pub struct Stream<'r> {
    /// The content, buffered.
    pub reader: Box<dyn BufRead + 'r>,
    /// Whether the input was gzipped (its read errors then come from the
    /// gzip layer).
    pub gzip: bool,
}

/// Open `reader` for reading: gzip (any number of members) is recognised by
/// its magic number, whatever the name, and its decompressed content is
/// capped at `limits.decompressed_bytes` while it is read.
pub fn open<'r>(reader: Box<dyn Read + 'r>, limits: &InputLimits) -> io::Result<Stream<'r>> {
    let mut buf = BufReader::with_capacity(256 << 10, reader);
    let head = buf.fill_buf()?;
    if !head.starts_with(&[0x1f, 0x8b]) {
        return Ok(Stream {
            reader: Box::new(buf),
            gzip: false,
        });
    }
    let decoder = flate2::bufread::MultiGzDecoder::new(buf);
    let capped = Capped {
        inner: decoder,
        read: 0,
        limit: limits.decompressed_bytes,
        over: false,
    };
    Ok(Stream {
        reader: Box::new(BufReader::with_capacity(256 << 10, capped)),
        gzip: true,
    })
}

/// A reader that hands on at most `limit` bytes, then fails: the bytes up
/// to the limit are delivered first, so what was read before the limit is
/// still used.
struct Capped<R> {
    inner: R,
    read: u64,
    limit: u64,
    over: bool,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let over = || io::Error::other(LimitError::Decompressed { limit: self.limit });
        if self.over {
            return Err(over());
        }
        let allowed = self.limit - self.read;
        // One byte past the limit tells a stream that ends at the limit
        // from one that goes on.
        let room = allowed.saturating_add(1).min(out.len() as u64) as usize;
        let n = self.inner.read(&mut out[..room])?;
        if n as u64 > allowed {
            self.over = true;
            self.read = self.limit;
            return if allowed == 0 {
                Err(over())
            } else {
                Ok(allowed as usize)
            };
        }
        self.read += n as u64;
        Ok(n)
    }
}

/// The limit an I/O error stands for, when it is one of ours.
pub fn limit_of(e: &io::Error) -> Option<&LimitError> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<LimitError>())
}

/// A read error of a stream as people should read it: a limit as itself,
/// the gzip layer's errors as a corrupt or truncated gzip stream.
pub fn describe_read_error(e: &io::Error, gzip: bool) -> String {
    match limit_of(e) {
        Some(limit) => limit.to_string(),
        None if gzip => format!("gzip stream is corrupt or truncated: {e}"),
        None => format!("cannot read: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(parts: &[&[u8]]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        for p in parts {
            gz.write_all(p).unwrap();
        }
        gz.finish().unwrap()
    }

    #[test]
    fn gzip_is_sniffed_and_its_size_capped_while_reading() {
        let limits = InputLimits {
            decompressed_bytes: 1000,
            ..InputLimits::DEFAULT
        };
        let small = gzip(&[b"hello"]);
        let mut s = open(Box::new(io::Cursor::new(small)), &limits).unwrap();
        assert!(s.gzip);
        let mut text = String::new();
        s.reader.read_to_string(&mut text).unwrap();
        assert_eq!(text, "hello");

        let big = gzip(&[&[b' '; 5000]]);
        let mut s = open(Box::new(io::Cursor::new(big)), &limits).unwrap();
        let mut sink = Vec::new();
        let e = s.reader.read_to_end(&mut sink).unwrap_err();
        assert_eq!(sink.len(), 1000, "the bytes up to the limit are handed on");
        assert_eq!(
            describe_read_error(&e, true),
            "the content decompresses to more than 1000 bytes (--max-decompressed-gib); the rest was not read"
        );

        let plain = open(Box::new(io::Cursor::new(b"plain".to_vec())), &limits).unwrap();
        assert!(!plain.gzip);
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(Size(512).to_string(), "512 bytes");
        assert_eq!(Size(16 << 20).to_string(), "16 MiB");
        assert_eq!(Size(3 << 30).to_string(), "3 GiB");
        assert_eq!(Size((3 << 30) + (1 << 29)).to_string(), "3.5 GiB");
    }

    #[test]
    fn records_are_checked_for_size_then_depth() {
        let l = InputLimits::DEFAULT;
        assert!(l.check_record(100, 64).is_ok());
        assert_eq!(
            l.check_record(100, 200).unwrap_err().to_string(),
            "200 levels deep, the limit is 64 (--max-record-depth)"
        );
        assert_eq!(
            l.check_record(200 << 20, 1).unwrap_err().to_string(),
            "200 MiB long, the limit is 16 MiB (--max-record-mib)"
        );
    }
}
