//! One generation of what `stance watch` runs: the catalog's selection
//! resolved (packs verified against their signatures and the lock),
//! compiled and described, settings checked — loaded whole or not at all.

use std::time::Instant;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::catalog::Selection;
use crate::pipeline::{self, DetectorSet};
use crate::runtime::{LoadedPlugin, PolicyPlugin, Runtime};

/// A plugin of a generation, as the status file shows it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct ActivePlugin {
    /// `policy` or `detector`.
    pub world: String,
    /// The plugin's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// `sha256:` and the component's digest.
    pub digest: String,
    /// Where it came from.
    pub origin: String,
    /// Rules it carries.
    pub rules: usize,
}

impl ActivePlugin {
    fn of(p: &LoadedPlugin) -> ActivePlugin {
        ActivePlugin {
            world: p.world.as_str().to_string(),
            name: p.name.clone(),
            version: p.version.clone(),
            digest: format!("sha256:{}", p.digest),
            origin: p.origin.clone(),
            rules: p.rules.len(),
        }
    }
}

/// Everything loaded for one generation.
pub struct Generation {
    /// 1 for the first, then one more per swap.
    pub number: u64,
    /// When it was loaded (RFC 3339).
    pub loaded_at: String,
    /// How long loading took.
    pub load_ms: f64,
    /// The policy plugins scans run.
    pub scan: Vec<PolicyPlugin>,
    /// The detectors detection runs, when watching logs.
    pub detect: Option<DetectorSet>,
    /// `name@version` of every pack loaded, with its archive digest.
    pub packs: Vec<(String, String)>,
    /// SHA-256 over every plugin's origin, component digest and settings and
    /// every pack: equal fingerprints run exactly the same rules.
    pub fingerprint: String,
}

impl Generation {
    /// Load every source of the selection, or fail naming the first that
    /// cannot be loaded.
    pub fn load(rt: &Runtime, selection: &Selection, number: u64) -> anyhow::Result<Generation> {
        let started = Instant::now();
        let resolved = selection.resolve()?;
        let scan = pipeline::load_plugins(rt, resolved.policies)?;
        let detect = match resolved.detectors {
            Some(sources) => Some(pipeline::load_detectors(rt, sources)?),
            None => None,
        };
        let mut generation = Generation {
            fingerprint: String::new(),
            number,
            loaded_at: crate::model::now_rfc3339(),
            load_ms: 0.0,
            scan,
            detect,
            packs: resolved.packs,
        };
        generation.fingerprint = generation.fingerprint();
        generation.load_ms = started.elapsed().as_secs_f64() * 1000.0;
        Ok(generation)
    }

    /// Every plugin of the generation, policies first.
    fn loaded(&self) -> impl Iterator<Item = &LoadedPlugin> {
        let policies = self.scan.iter().map(|p| &**p);
        let detectors = self.detect.iter().flat_map(|d| &d.plugins).map(|p| &**p);
        policies.chain(detectors)
    }

    fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        for p in self.loaded() {
            for part in [p.origin.as_str(), p.digest.as_str(), p.settings_json()] {
                h.update(part.as_bytes());
                h.update([0]);
            }
        }
        for (pack, digest) in &self.packs {
            h.update(format!("{pack}\0{digest}\0").as_bytes());
        }
        hex::encode(h.finalize())
    }

    /// The plugins of this generation, for the status file.
    pub fn plugins(&self) -> Vec<ActivePlugin> {
        self.loaded().map(ActivePlugin::of).collect()
    }
}
