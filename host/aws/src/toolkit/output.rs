//! [`Output`]: what one collector produced (assets, collection errors,
//! imported findings), merged as the fan-out joins collectors. Never calls
//! AWS.

use stance_model::{Asset, CollectionError, ImportedFinding};

use super::record::{Failed, Failures};
use super::target::Target;

/// What one collector produced.
#[derive(Default)]
pub(crate) struct Output {
    /// Assets, in no particular order (the snapshot sorts them).
    pub assets: Vec<Asset>,
    /// What could not be collected, by service, operation, account and region.
    pub errors: Vec<CollectionError>,
    /// Findings imported from AWS services (Security Hub, Inspector2).
    pub findings: Vec<ImportedFinding>,
}

impl Output {
    /// Add everything `other` produced.
    pub fn extend(&mut self, other: Output) {
        self.assets.extend(other.assets);
        self.errors.extend(other.errors);
        self.findings.extend(other.findings);
    }

    /// Add assets whose detail calls may have failed: the assets (with their
    /// gaps) go in, and each failing operation is reported once, naming the
    /// `what` (e.g. "topics") it failed for.
    pub fn add_detailed(
        &mut self,
        target: &Target,
        service: &str,
        what: &str,
        built: impl IntoIterator<Item = (Asset, Vec<Failed>)>,
    ) {
        let mut failures = Failures::default();
        for (asset, failed) in built {
            failures.add_all(&asset.name, failed);
            self.assets.push(asset);
        }
        self.errors.extend(failures.report(target, service, what));
    }
}
