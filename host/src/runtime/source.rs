//! The vocabulary every plugin shares, whatever its world: what to load
//! ([`PluginSource`]), which world a component implements ([`World`]) and
//! the settings a plugin declares ([`SettingSpec`]).

use std::fmt;
use std::sync::Arc;

use super::limits::Limits;

/// Which WIT world a component implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum World {
    /// Assets in, findings out (`stance scan`).
    Policy,
    /// Events in, alerts out, with a host-kept state (`stance detect`).
    Detector,
}

impl World {
    /// The world's name in the WIT package.
    pub fn as_str(self) -> &'static str {
        match self {
            World::Policy => "policy",
            World::Detector => "detector",
        }
    }
}

/// How long an instance of a policy plugin lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reuse {
    /// A fresh instance for every call: nothing one batch leaves in the
    /// instance can reach the next. The default.
    #[default]
    PerCall,
    /// The plugin declares itself stateless (`stateless = true` in its
    /// manifest; the built-in policy engine does): an instance serves the
    /// batches of one scan on one evaluation thread at a time, so it pays
    /// its start (and the policies it parses) once per thread, not once per
    /// batch. It is dropped after any failed call (a trap, the deadline,
    /// the memory cap, an error or invalid output) or once it wrote to
    /// stdout or stderr, and with the scan: never shared by two scans or
    /// two plugins. Detectors always run on a fresh instance.
    PerScan,
}

impl Reuse {
    /// `stateless` as a manifest says it.
    pub fn stateless(stateless: bool) -> Reuse {
        if stateless {
            Reuse::PerScan
        } else {
            Reuse::PerCall
        }
    }
}

/// What to load: the component's bytes, where they came from, its settings and limits.
#[derive(Clone)]
pub struct PluginSource {
    /// A path, or `builtin:NAME` for plugins embedded in the binary.
    pub origin: String,
    /// The component, as read.
    pub bytes: Arc<[u8]>,
    /// A JSON object; `{}` when the plugin has no settings.
    pub settings: serde_json::Value,
    /// What one call may use.
    pub limits: Limits,
    /// How long an instance lives (policy plugins; detectors ignore it).
    pub reuse: Reuse,
}

impl fmt::Debug for PluginSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginSource")
            .field("origin", &self.origin)
            .field("bytes", &self.bytes.len())
            .field("limits", &self.limits)
            .field("reuse", &self.reuse)
            .finish_non_exhaustive()
    }
}

/// A setting a plugin declares.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SettingSpec {
    /// The key in the settings object.
    pub name: String,
    /// What it does, for people.
    pub description: String,
    /// Must it be given?
    pub required: bool,
    /// `string`, `number`, `boolean`, `array`, `object` or `any`.
    pub kind: String,
}
