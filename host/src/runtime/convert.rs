//! Conversions between the WIT records plugins speak and the shared model:
//! assets and events into the sandbox, severities and evidence out of it
//! (evidence values are checked to be JSON on the way).

use super::bindings::policy::stance::plugin::types as wit;
use super::failure::PluginFailure;
use crate::model::{Asset, Event, Evidence, Severity};

pub(crate) fn severity(s: wit::Severity) -> Severity {
    match s {
        wit::Severity::Info => Severity::Info,
        wit::Severity::Low => Severity::Low,
        wit::Severity::Medium => Severity::Medium,
        wit::Severity::High => Severity::High,
        wit::Severity::Critical => Severity::Critical,
    }
}

pub(crate) fn asset(a: &Asset) -> wit::Asset {
    wit::Asset {
        id: a.id.clone(),
        resource_type: a.resource_type.clone(),
        provider: a.provider.clone(),
        account: a.account.clone(),
        region: a.region.clone(),
        name: a.name.clone(),
        tags: a
            .tags
            .iter()
            .map(|(k, v)| wit::Tag {
                key: k.clone(),
                value: v.clone(),
            })
            .collect(),
        collected_at: a.collected_at.clone(),
        body: a.body.clone(),
    }
}

pub(crate) fn event(e: &Event) -> wit::Event {
    wit::Event {
        id: e.id.clone(),
        source: e.source.clone(),
        time: e.time.clone(),
        account: e.account.clone(),
        region: e.region.clone(),
        body: e.body.clone(),
    }
}

/// The bytes of a record's evidence, for the output cap.
pub(crate) fn evidence_size(evidence: &[wit::Evidence]) -> usize {
    evidence
        .iter()
        .map(|e| e.path.len() + e.actual.len() + e.expected.len())
        .sum()
}

/// Evidence out of the sandbox; `what` names the record (`finding #3`) in
/// the failure when an actual value is not JSON.
pub(crate) fn evidence(
    what: &str,
    evidence: Vec<wit::Evidence>,
) -> Result<Vec<Evidence>, PluginFailure> {
    let mut out = Vec::with_capacity(evidence.len());
    for e in evidence {
        let actual = serde_json::from_str(&e.actual).map_err(|_| {
            PluginFailure::InvalidOutput(format!(
                "{what}: evidence {:?} has an actual value that is not JSON",
                e.path
            ))
        })?;
        out.push(Evidence {
            path: e.path,
            actual,
            expected: e.expected,
        });
    }
    Ok(out)
}
