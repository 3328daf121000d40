//! Synthetic collections for benchmarks and load tests: the bundled demo
//! account's assets, cloned under new ids until there are as many as asked.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use super::snapshot::{self, Snapshot};
use crate::model::Asset;

/// The bundled demo snapshot (`examples/demo-account.json`).
pub const DEMO_SNAPSHOT: &str = include_str!("../../../examples/demo-account.json");

/// The bundled demo snapshot, parsed; panics if it is invalid (a build defect).
pub fn demo() -> Snapshot {
    snapshot::read_json(Path::new("examples/demo-account.json"), DEMO_SNAPSHOT)
        .unwrap_or_else(|e| panic!("the bundled demo snapshot is invalid: {e}"))
}

/// `n` assets: copies of the demo's assets, each with a unique id and name.
pub fn assets(n: usize) -> Vec<Asset> {
    copies(n).collect()
}

/// The same `n` assets one at a time, so that a million of them are never
/// all held at once.
fn copies(n: usize) -> impl Iterator<Item = Asset> {
    let template = demo().assets;
    (0..n).map(move |i| {
        let mut a = template[i % template.len()].clone();
        let copy = i / template.len();
        a.id = format!("{}-{copy}", a.id);
        a.name = format!("{}-{copy}", a.name);
        a
    })
}

/// Write `n` synthetic assets as an NDJSON snapshot.
pub fn write_ndjson(path: &Path, n: usize) -> io::Result<()> {
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, r#"{{"stance_snapshot":1,"provider":"aws"}}"#)?;
    for a in copies(n) {
        let tags: serde_json::Map<String, serde_json::Value> = a
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        let line = serde_json::json!({
            "id": a.id,
            "resource_type": a.resource_type,
            "account": a.account,
            "region": a.region,
            "name": a.name,
            "tags": tags,
            "collected_at": a.collected_at,
            "body": serde_json::from_str::<serde_json::Value>(&a.body).map_err(io::Error::other)?,
        });
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}
