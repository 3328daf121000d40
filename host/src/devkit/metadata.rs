//! The build metadata `stance plugin build` embeds in a component: a custom
//! section `stance-plugin` holding JSON (name, version, language, world, WIT
//! version, source digest, toolchain, Stance version), and reading it back.

use serde::{Deserialize, Serialize};
use wasm_encoder::{ComponentSection, CustomSection, Encode};
use wasmparser::{Parser, Payload};

/// The custom section's name.
pub const SECTION: &str = "stance-plugin";

/// What `stance plugin build` records about a component it built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildInfo {
    /// The plugin's name, from the project manifest.
    pub name: String,
    /// The plugin's version, from the project manifest.
    pub version: String,
    /// The project's language: `rust`, `python` or `js`.
    pub lang: String,
    /// The WIT world: `policy` or `detector`.
    pub world: String,
    /// The WIT package version the component was built against.
    pub wit: String,
    /// SHA-256 of the sources, SDK and WIT the component was built from.
    pub source_digest: String,
    /// The toolchain that built it, e.g. `componentize-py 0.25.1`.
    pub toolchain: String,
    /// The version of Stance that built it.
    pub stance: String,
}

/// `component` with `info` appended as a top-level custom section (any
/// previous `stance-plugin` section is dropped first, so rebuilding is stable).
pub fn embed(component: &[u8], info: &BuildInfo) -> Result<Vec<u8>, String> {
    let mut out = strip(component)?;
    let data = serde_json::to_vec(info).map_err(|e| e.to_string())?;
    let section = CustomSection {
        name: SECTION.into(),
        data: data.into(),
    };
    out.push(section.id());
    section.encode(&mut out);
    Ok(out)
}

/// The embedded build metadata, if the component has it.
pub fn read(component: &[u8]) -> Option<BuildInfo> {
    top_level_section(component).and_then(|(_, data)| serde_json::from_slice(data).ok())
}

/// The byte range and payload of the top-level `stance-plugin` section.
fn top_level_section(component: &[u8]) -> Option<(std::ops::Range<usize>, &[u8])> {
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(component) {
        match payload.ok()? {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::CustomSection(c) if depth == 0 && c.name() == SECTION => {
                let r = c.range();
                return Some((r.start as usize..r.end as usize, c.data()));
            }
            _ => {}
        }
    }
    None
}

/// `component` without its top-level `stance-plugin` section.
fn strip(component: &[u8]) -> Result<Vec<u8>, String> {
    match top_level_section(component) {
        None => Ok(component.to_vec()),
        Some((range, _)) => {
            // The range covers the section's contents (name + data); the id
            // byte and the size before it go too.
            let contents = range.end - range.start;
            let size_len = leb_len(contents as u64);
            let start = range
                .start
                .checked_sub(size_len + 1)
                .ok_or("malformed custom section")?;
            let mut out = component[..start].to_vec();
            out.extend_from_slice(&component[range.end..]);
            Ok(out)
        }
    }
}

fn leb_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(v: &str) -> BuildInfo {
        BuildInfo {
            name: "p".into(),
            version: v.into(),
            lang: "rust".into(),
            world: "policy".into(),
            wit: "0.1.0".into(),
            source_digest: "ab".repeat(32),
            toolchain: "cargo".into(),
            stance: "0.1.0".into(),
        }
    }

    #[test]
    fn embedding_twice_keeps_one_section_and_reads_back() {
        // The smallest component: the preamble alone.
        let empty = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
        assert_eq!(read(&empty), None);
        let once = embed(&empty, &info("1.0.0")).unwrap();
        assert_eq!(read(&once), Some(info("1.0.0")));
        let twice = embed(&once, &info("2.0.0")).unwrap();
        assert_eq!(read(&twice), Some(info("2.0.0")));
        assert_eq!(once.len(), twice.len());
        wasmparser::Validator::new().validate_all(&twice).unwrap();
    }
}
