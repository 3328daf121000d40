//! One generation of what `stance watch` runs: every source verified
//! (packs against their signatures and the lock), compiled and described,
//! settings checked — loaded whole or not at all.

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::detect::{self, DetectOptions, DetectorSet};
use crate::events::TimeRange;
use crate::pack::{self, TrustConfig};
use crate::runtime::{Limits, Plugin, Runtime, StateQuota};
use crate::scan::{self, ScanOptions};

/// Where plugins, policies, rules and packs come from: what is watched.
#[derive(Debug, Clone)]
pub struct WatchSources {
    /// Scanning: the scan's options (packs are added per generation).
    pub scan: Option<ScanOptions>,
    /// Detection: the built-in Sigma pack, rule files and detector plugins.
    pub detect: Option<DetectSources>,
    pub packs: Vec<stance_pack::PackSpec>,
    pub trust: TrustConfig,
    pub limits: Limits,
}

#[derive(Debug, Clone)]
pub struct DetectSources {
    pub builtin_rules: bool,
    pub rule_paths: Vec<PathBuf>,
    pub engine_config: Option<PathBuf>,
    pub plugins: Vec<PathBuf>,
    pub quota: StateQuota,
    pub batch_size: usize,
}

impl WatchSources {
    /// Files and directories whose change means a new generation.
    pub fn watched_paths(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        // A plugin project changes when its component or manifest does, not
        // while its sources are edited (the build replaces the component).
        let plugin = |p: &PathBuf| -> Vec<PathBuf> {
            if p.join(crate::devkit::project::MANIFEST).is_file() {
                vec![p.join("dist"), p.join(crate::devkit::project::MANIFEST)]
            } else {
                vec![p.clone()]
            }
        };
        if let Some(s) = &self.scan {
            out.extend(s.policy_paths.iter().cloned());
            out.extend(s.plugins.iter().flat_map(plugin));
        }
        if let Some(d) = &self.detect {
            out.extend(d.rule_paths.iter().cloned());
            out.extend(d.plugins.iter().flat_map(plugin));
            out.extend(d.engine_config.iter().cloned());
        }
        if !self.packs.is_empty() {
            out.push(pack::store().root().to_path_buf());
            out.push(pack::lock_path(&self.trust.project));
        }
        out
    }

    /// The detection options of a run with `set` loaded.
    pub fn detect_options(&self, d: &DetectSources) -> DetectOptions {
        DetectOptions {
            builtin_rules: d.builtin_rules,
            rule_paths: d.rule_paths.clone(),
            engine_config: d.engine_config.clone(),
            plugins: d.plugins.clone(),
            pack_rules: Vec::new(),
            pack_detectors: Vec::new(),
            limits: self.limits,
            quota: d.quota,
            batch_size: d.batch_size,
            range: TimeRange::default(),
        }
    }
}

/// A plugin of a generation, as the status file shows it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct ActivePlugin {
    pub world: String,
    pub name: String,
    pub version: String,
    pub digest: String,
    pub origin: String,
    pub rules: usize,
}

/// Everything loaded for one generation.
pub struct Generation {
    pub number: u64,
    pub loaded_at: String,
    pub load_ms: f64,
    pub scan: Vec<Plugin>,
    pub detect: Option<DetectorSet>,
    /// `name@version` of every pack loaded, with its archive digest.
    pub packs: Vec<(String, String)>,
    /// SHA-256 over every plugin's origin, component digest and settings and
    /// every pack: equal fingerprints run exactly the same rules.
    pub fingerprint: String,
}

impl Generation {
    /// Load every source, or fail naming the first that cannot be loaded.
    pub fn load(rt: &Runtime, src: &WatchSources, number: u64) -> anyhow::Result<Generation> {
        let started = Instant::now();
        let packs = pack::pack_sources(&src.packs, &src.trust, src.limits)?;
        let scan = match &src.scan {
            None => Vec::new(),
            Some(opts) => {
                let opts = ScanOptions {
                    pack_policies: packs.policies.clone(),
                    pack_plugins: packs.plugins.clone(),
                    ..opts.clone()
                };
                scan::load_plugins(rt, &opts)?
            }
        };
        let detect = match &src.detect {
            None => None,
            Some(d) => {
                let mut opts = src.detect_options(d);
                opts.pack_rules = packs
                    .rules
                    .iter()
                    .map(|f| detect::RuleFile {
                        path: f.path.clone(),
                        text: f.text.clone(),
                    })
                    .collect();
                opts.pack_detectors = packs.detectors.clone();
                Some(detect::load_detectors(rt, &opts)?)
            }
        };
        let mut h = Sha256::new();
        let plugins = scan
            .iter()
            .map(|p| (&p.origin, &p.digest, p.settings_json()))
            .chain(
                detect
                    .iter()
                    .flat_map(|d| &d.plugins)
                    .map(|p| (&p.origin, &p.digest, p.settings_json())),
            );
        for (origin, digest, settings) in plugins {
            for part in [origin.as_str(), digest.as_str(), settings] {
                h.update(part.as_bytes());
                h.update([0]);
            }
        }
        for (pack, digest) in &packs.packs {
            h.update(format!("{pack}\0{digest}\0").as_bytes());
        }
        Ok(Generation {
            fingerprint: hex::encode(h.finalize()),
            number,
            loaded_at: crate::model::now_rfc3339(),
            load_ms: started.elapsed().as_secs_f64() * 1000.0,
            scan,
            detect,
            packs: packs.packs.clone(),
        })
    }

    /// The plugins of this generation, for the status file.
    pub fn plugins(&self) -> Vec<ActivePlugin> {
        let policy = self.scan.iter().map(|p| ActivePlugin {
            world: "policy".into(),
            name: p.name.clone(),
            version: p.version.clone(),
            digest: format!("sha256:{}", p.digest),
            origin: p.origin.clone(),
            rules: p.rules.len(),
        });
        let detectors = self
            .detect
            .iter()
            .flat_map(|d| &d.plugins)
            .map(|p| ActivePlugin {
                world: "detector".into(),
                name: p.name.clone(),
                version: p.version.clone(),
                digest: format!("sha256:{}", p.digest),
                origin: p.origin.clone(),
                rules: p.rules.len(),
            });
        policy.chain(detectors).collect()
    }
}
