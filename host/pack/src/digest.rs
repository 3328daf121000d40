//! SHA-256 digests (`sha256:<64 hex>`) and the `digests` index of an
//! archive: one `sha256sum`-style line per file, sorted by path, which is
//! what a signature covers. This module owns both text forms and accepts
//! only the canonical one, so stored bytes always equal what it renders.
//!
//! It never reads files or archives and knows nothing of keys: callers hand
//! it bytes (`archive` builds and checks the index, `trust` signs it).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

/// A SHA-256 digest, written `sha256:<64 lowercase hex digits>`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest([u8; 32]);

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Digest(Sha256::digest(bytes).into())
    }

    /// The digest of everything a streaming hasher was given.
    pub(crate) fn finish(hasher: Sha256) -> Self {
        Digest(hasher.finalize().into())
    }

    /// The 32 raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 64 hex digits, without the `sha256:` prefix.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses exactly 64 lowercase hex digits.
    fn from_hex(hex_digits: &str) -> Option<Self> {
        if hex_digits.len() != 64 || hex_digits.bytes().any(|b| b.is_ascii_uppercase()) {
            return None;
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex_digits, &mut out).ok()?;
        Some(Digest(out))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Digest {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex_digits = s
            .strip_prefix("sha256:")
            .ok_or_else(|| format!("`{s}` is not a digest: write `sha256:` and 64 hex digits"))?;
        Digest::from_hex(hex_digits).ok_or_else(|| {
            format!("`{s}` is not a digest: `sha256:` must be followed by 64 lowercase hex digits")
        })
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The `digests` entry: the SHA-256 of every file of the pack but `digests`
/// and `signature`, keyed by archive path.
///
/// Rendered as `<64 hex>  <path>\n` per file in path order, the format of
/// `sha256sum`, so `sha256sum -c digests` checks an extracted pack.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestIndex {
    /// Archive path -> digest of its bytes.
    files: BTreeMap<String, Digest>,
}

impl DigestIndex {
    /// An index of the given files.
    pub fn from_files<'a>(files: impl IntoIterator<Item = (&'a String, &'a Vec<u8>)>) -> Self {
        DigestIndex {
            files: files
                .into_iter()
                .map(|(path, bytes)| (path.clone(), Digest::of(bytes)))
                .collect(),
        }
    }

    /// The digest listed for `path`.
    pub fn get(&self, path: &str) -> Option<&Digest> {
        self.files.get(path)
    }

    /// Every (path, digest), in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Digest)> {
        self.files.iter()
    }

    /// The canonical text form (the bytes stored and signed).
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (path, digest) in &self.files {
            out.push_str(&digest.hex());
            out.push_str("  ");
            out.push_str(path);
            out.push('\n');
        }
        out
    }

    /// Parses the canonical text form; anything else (other spacing, order,
    /// duplicates, a missing final newline) is refused, so the stored bytes
    /// are always exactly `render()` of the result.
    pub fn parse(text: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(text).map_err(|_| "it is not UTF-8 text".to_string())?;
        let mut files = BTreeMap::new();
        for (n, line) in text.split_inclusive('\n').enumerate() {
            let line_no = n + 1;
            let body = line
                .strip_suffix('\n')
                .ok_or_else(|| format!("line {line_no} does not end with a newline"))?;
            let (hex_digits, path) = body
                .split_once("  ")
                .ok_or_else(|| format!("line {line_no} is not `<sha256 hex>  <path>`"))?;
            let digest = Digest::from_hex(hex_digits)
                .ok_or_else(|| format!("line {line_no} has no valid SHA-256 digest"))?;
            if files.insert(path.to_string(), digest).is_some() {
                return Err(format!("line {line_no} lists `{path}` a second time"));
            }
        }
        let index = DigestIndex { files };
        if index.render() != text {
            return Err("its lines are not in canonical form (sorted by path)".to_string());
        }
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_text_round_trips_and_rejects_bad_forms() {
        let d = Digest::of(b"abc");
        assert_eq!(
            d.to_string(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.to_string().parse::<Digest>().unwrap(), d);
        for bad in [
            "ba7816bf",
            "sha256:xyz",
            "sha512:00",
            &d.to_string().to_uppercase(),
        ] {
            assert!(bad.parse::<Digest>().is_err(), "{bad}");
        }
    }

    #[test]
    fn index_accepts_only_its_canonical_form() {
        let files: BTreeMap<String, Vec<u8>> = [("b.txt", "2"), ("a/x.yaml", "1")]
            .into_iter()
            .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
            .collect();
        let index = DigestIndex::from_files(&files);
        let text = index.render();
        assert!(text.starts_with(&format!("{}  a/x.yaml\n", Digest::of(b"1").hex())));
        assert_eq!(DigestIndex::parse(text.as_bytes()).unwrap(), index);
        let lines: Vec<&str> = text.lines().collect();
        let swapped = format!("{}\n{}\n", lines[1], lines[0]);
        assert!(DigestIndex::parse(swapped.as_bytes()).is_err());
        assert!(DigestIndex::parse(text.trim_end().as_bytes()).is_err());
        assert!(DigestIndex::parse(text.replacen("  ", " ", 1).as_bytes()).is_err());
        let dup = format!("{}{}", lines[0], "\n").repeat(2);
        assert!(DigestIndex::parse(dup.as_bytes()).is_err());
        assert_eq!(DigestIndex::parse(b"").unwrap(), DigestIndex::default());
    }
}
