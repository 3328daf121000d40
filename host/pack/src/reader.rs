//! The first half of step 4, reading an archive as a stream: the gzip
//! layer is inflated only as far as it is read, the tar stream is parsed
//! one entry at a time in the canonical subset `build` writes (ustar
//! headers of regular files, a GNU long-name header before a path ustar
//! cannot hold, zero padding, two zero blocks at the end), and every byte
//! read is re-encoded canonically and compared with the archive as it
//! goes. This module owns that parsing and those comparisons.
//!
//! It never reads an entry's bytes before its caller has seen the header
//! (path and size) and accepted it, never holds more than one 64 KiB buffer
//! besides the bytes it is asked to keep, and never decides which entries
//! an archive may hold (`archive` does).

use std::io::{Read, Write};

use flate2::Compression;
use flate2::GzBuilder;
use flate2::bufread::GzDecoder;
use flate2::write::GzEncoder;
use sha2::{Digest as _, Sha256};

use crate::PackError;
use crate::archive::{GZIP_HEADER, canonical_header};
use crate::digest::Digest;
use crate::manifest::check_relative_path;

/// A tar block.
const BLOCK: usize = 512;
/// Bytes read (and compared, hashed, kept) at a time.
const CHUNK: usize = 64 * 1024;
/// The longest GNU long-name entry a canonical archive has: a path of at
/// most 255 bytes and its terminating NUL.
const MAX_LONG_NAME: u64 = 256;

/// An entry's header, as read: its path and the size of its contents.
#[derive(Debug)]
pub(crate) struct RawEntry {
    /// The entry's path, checked to be a safe relative path.
    pub(crate) path: String,
    /// The size of its contents, from the header.
    pub(crate) size: u64,
}

/// The canonical compressed stream of what was read, compared byte for
/// byte with the archive (the gzip layer is canonical too: deflate ignores
/// some padding bits, so a changed byte there would not show otherwise).
struct Compare<'b> {
    /// The archive as given.
    input: &'b [u8],
    /// How far the canonical stream has reached.
    pos: usize,
    /// Where it first differed from the archive.
    mismatch: Option<usize>,
}

impl Write for Compare<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.mismatch.is_none() {
            let end = self.pos + buf.len();
            let same = self.input.get(self.pos..end).map(|got| got == buf);
            if same != Some(true) {
                self.mismatch = Some(self.pos);
            }
        }
        self.pos += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A pack archive being read, one entry at a time.
pub(crate) struct Reader<'b> {
    /// Where the archive came from, for refusals.
    source: &'b str,
    /// The tar stream, inflated as it is read.
    tar: GzDecoder<&'b [u8]>,
    /// What was read so far, recompressed canonically and compared.
    canon: GzEncoder<Compare<'b>>,
    /// Bytes of the tar stream read so far.
    offset: u64,
    /// One chunk of contents at a time.
    buf: Vec<u8>,
}

/// A refusal of an archive whose `file` differs from what was built.
pub(crate) fn tampered(pack: &str, file: &str, reason: String) -> PackError {
    PackError::Tampered {
        pack: pack.to_string(),
        file: file.to_string(),
        reason,
    }
}

/// A refusal of bytes that are not a pack archive at all.
pub(crate) fn not_an_archive(source: &str, reason: String) -> PackError {
    PackError::NotAnArchive {
        source_name: source.to_string(),
        reason,
    }
}

impl<'b> Reader<'b> {
    /// Starts reading `bytes`, refused unless they begin with the gzip
    /// header Stance writes.
    pub(crate) fn new(bytes: &'b [u8], source: &'b str) -> Result<Reader<'b>, PackError> {
        if bytes.len() < GZIP_HEADER.len() || bytes[..2] != GZIP_HEADER[..2] {
            return Err(not_an_archive(source, "it is not gzip-compressed".into()));
        }
        if bytes[..GZIP_HEADER.len()] != GZIP_HEADER {
            return Err(tampered(
                source,
                "(gzip header)",
                "the gzip header differs from the one Stance writes".into(),
            ));
        }
        let compare = Compare {
            input: bytes,
            pos: 0,
            mismatch: None,
        };
        Ok(Reader {
            source,
            tar: GzDecoder::new(bytes),
            canon: GzBuilder::new()
                .mtime(0)
                .operating_system(255)
                .write(compare, Compression::new(6)),
            offset: 0,
            buf: vec![0; CHUNK],
        })
    }

    /// Fills `buf` from the tar stream; the bytes read (fewer only at its end).
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, PackError> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.tar.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(tampered(
                        self.source,
                        "(gzip stream)",
                        format!("it does not decompress ({e})"),
                    ));
                }
            }
        }
        self.offset += filled as u64;
        Ok(filled)
    }

    /// Fills `buf` exactly; the archive ending first is a refusal naming `what`.
    fn exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), PackError> {
        if self.fill(buf)? < buf.len() {
            return Err(tampered(
                self.source,
                what,
                "the archive ends in the middle of this entry".into(),
            ));
        }
        Ok(())
    }

    /// Adds bytes read (already checked to be canonical) to the canonical
    /// compressed stream.
    fn feed(&mut self, bytes: &[u8]) {
        // `Compare` never fails, and deflate into it cannot either.
        let _ = self.canon.write_all(bytes);
    }

    /// Refuses the archive when its compressed bytes have strayed from the
    /// canonical encoding of what was read so far.
    pub(crate) fn check_compressed(&self) -> Result<(), PackError> {
        if self.canon.get_ref().mismatch.is_some() {
            return Err(tampered(
                self.source,
                "(gzip stream)",
                "the compressed bytes differ from the canonical encoding of the same contents"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The next entry's header, or `None` at the end of the tar stream
    /// (two zero blocks, then nothing). The header must be exactly the one
    /// `build` writes for its path and size.
    pub(crate) fn next_entry(&mut self) -> Result<Option<RawEntry>, PackError> {
        let at = self.offset;
        let mut block = [0u8; BLOCK];
        let got = self.fill(&mut block)?;
        if got == 0 {
            return Err(tampered(
                self.source,
                "(tar stream)",
                "it ends without the two zero blocks that close a tar stream".into(),
            ));
        }
        if got < BLOCK {
            return Err(tampered(
                self.source,
                "(tar stream)",
                "it ends in the middle of a header".into(),
            ));
        }
        if block.iter().all(|b| *b == 0) {
            self.end_of_stream()?;
            return Ok(None);
        }
        let mut raw = block.to_vec();
        let path = match block[156] {
            b'L' => self.long_name(&block, &mut raw)?,
            _ => ustar_path(&block),
        };
        let path = String::from_utf8(path).map_err(|_| {
            tampered(
                self.source,
                "(tar stream)",
                "an entry's path is not UTF-8".into(),
            )
        })?;
        let header = &raw[raw.len() - BLOCK..];
        if header[156] != b'0' {
            return Err(tampered(
                self.source,
                &path,
                "the entry is not a regular file".into(),
            ));
        }
        check_relative_path(&path).map_err(|e| tampered(self.source, &path, e))?;
        let size = octal(&header[124..136])
            .ok_or_else(|| tampered(self.source, &path, "its size field is not a number".into()))?;
        self.check_header(&path, size, &raw, at)?;
        self.feed(&raw);
        Ok(Some(RawEntry { path, size }))
    }

    /// A GNU long-name entry: the path it carries, with the header that
    /// follows it appended to `raw`.
    fn long_name(&mut self, block: &[u8; BLOCK], raw: &mut Vec<u8>) -> Result<Vec<u8>, PackError> {
        let size = octal(&block[124..136])
            .filter(|n| *n <= MAX_LONG_NAME)
            .ok_or_else(|| {
                tampered(
                    self.source,
                    "(tar stream)",
                    format!("a long-name header is not a path of at most {MAX_LONG_NAME} bytes"),
                )
            })?;
        let padded = (size as usize).div_ceil(BLOCK) * BLOCK;
        let mut data = vec![0u8; padded + BLOCK];
        self.exact(&mut data, "(tar stream)")?;
        raw.extend_from_slice(&data);
        let name = &data[..size as usize];
        let end = name.iter().position(|b| *b == 0).unwrap_or(name.len());
        Ok(name[..end].to_vec())
    }

    /// The raw header blocks against the ones `build` writes for `path`
    /// and `size`; a difference is blamed on the entry, with its offset.
    fn check_header(&self, path: &str, size: u64, raw: &[u8], at: u64) -> Result<(), PackError> {
        let expected = canonical_header(path, size).map_err(|e| {
            tampered(
                self.source,
                path,
                format!("its header cannot be re-encoded ({e})"),
            )
        })?;
        if expected == raw {
            return Ok(());
        }
        let first = expected
            .iter()
            .zip(raw)
            .position(|(a, b)| a != b)
            .unwrap_or(expected.len().min(raw.len()));
        Err(tampered(
            self.source,
            path,
            format!(
                "the tar layout differs from the canonical one at byte {} (a header, the entry order or the padding was changed)",
                at + first as u64
            ),
        ))
    }

    /// After the first zero block: the second, then the end of the stream.
    fn end_of_stream(&mut self) -> Result<(), PackError> {
        let mut block = [0u8; BLOCK];
        self.exact(&mut block, "(tar stream)")?;
        let mut more = [0u8; 1];
        if block.iter().any(|b| *b != 0) || self.fill(&mut more)? != 0 {
            return Err(tampered(
                self.source,
                "(tar stream)",
                "something other than two zero blocks follows the last entry".into(),
            ));
        }
        self.feed(&[0u8; 2 * BLOCK]);
        Ok(())
    }

    /// The contents of `entry` and their digest, then its zero padding.
    /// With `keep` false the contents are only hashed (an empty vector is
    /// returned), so checking an entry costs no memory.
    pub(crate) fn read_data(
        &mut self,
        entry: &RawEntry,
        keep: bool,
    ) -> Result<(Digest, Vec<u8>), PackError> {
        let mut hasher = Sha256::new();
        let mut kept = Vec::new();
        if keep {
            kept.reserve_exact(usize::try_from(entry.size).unwrap_or(usize::MAX));
        }
        let mut buf = std::mem::take(&mut self.buf);
        let mut left = entry.size;
        while left > 0 {
            let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            self.exact(&mut buf[..n], &entry.path)?;
            hasher.update(&buf[..n]);
            self.feed(&buf[..n]);
            if keep {
                kept.extend_from_slice(&buf[..n]);
            }
            left -= n as u64;
        }
        let pad = (BLOCK - (entry.size % BLOCK as u64) as usize) % BLOCK;
        self.exact(&mut buf[..pad], &entry.path)?;
        if buf[..pad].iter().any(|b| *b != 0) {
            return Err(tampered(
                self.source,
                &entry.path,
                "the padding after its contents is not zeros".into(),
            ));
        }
        self.feed(&buf[..pad]);
        self.buf = buf;
        self.check_compressed()?;
        Ok((Digest::finish(hasher), kept))
    }

    /// After the end of the tar stream: the compressed stream is exactly the
    /// canonical one, with nothing after it.
    pub(crate) fn finish(self) -> Result<(), PackError> {
        let source = self.source;
        let compare = self
            .canon
            .finish()
            .map_err(|e| tampered(source, "(gzip stream)", format!("cannot re-encode ({e})")))?;
        if compare.mismatch.is_some() {
            return Err(tampered(
                source,
                "(gzip stream)",
                "the compressed bytes differ from the canonical encoding of the same contents"
                    .into(),
            ));
        }
        if compare.pos < compare.input.len() {
            return Err(tampered(
                source,
                "(gzip stream)",
                "bytes were appended after the end of the compressed stream".into(),
            ));
        }
        Ok(())
    }
}

/// The path of a ustar header: its prefix and name fields.
fn ustar_path(block: &[u8; BLOCK]) -> Vec<u8> {
    let field = |bytes: &[u8]| -> Vec<u8> {
        let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
        bytes[..end].to_vec()
    };
    let name = field(&block[..100]);
    let prefix = field(&block[345..500]);
    if prefix.is_empty() {
        name
    } else {
        [prefix, b"/".to_vec(), name].concat()
    }
}

/// An octal header field (digits, then NUL or space padding).
fn octal(field: &[u8]) -> Option<u64> {
    let digits: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|b| *b == b' ')
        .take_while(|b| (b'0'..=b'7').contains(b))
        .collect();
    if digits.is_empty() {
        return None;
    }
    let text = std::str::from_utf8(&digits).ok()?;
    u64::from_str_radix(text, 8).ok()
}
