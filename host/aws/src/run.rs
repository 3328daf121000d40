//! The fan-out of one account's collection: AWS Config first (it decides
//! which resource types the direct collectors may skip), then every selected
//! service in its places (`global` once, regional services in every scanned
//! region) at once, under the scan's concurrency limit. Never names a
//! service: what runs comes from the registry (`services/`).

use std::collections::HashSet;
use std::sync::Arc;

use aws_config::SdkConfig;
use stance_model::CollectionError;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::services::{self, ServiceInfo};
use crate::toolkit::{Output, Target, sdk};
use crate::{AwsOptions, Progress};

/// One account's collection: where, what, and with which limits.
pub(crate) struct AccountRun<'a> {
    /// The account id.
    pub account: &'a str,
    /// The SDK configuration that enters the account.
    pub sdk: &'a SdkConfig,
    /// The regions to collect in this account.
    pub regions: Arc<Vec<String>>,
    /// The built services the scan selected.
    pub selected: &'a [&'static ServiceInfo],
    /// The scan's options (AWS Config, imported findings).
    pub opts: &'a AwsOptions,
    /// When the scan started (RFC 3339).
    pub collected_at: &'a str,
    /// API calls in flight at once, across the whole scan.
    pub limiter: &'a Arc<Semaphore>,
}

impl AccountRun<'_> {
    /// Collect the account: AWS Config, then every selected service in
    /// every place at once.
    pub async fn collect(&self, progress: &dyn Progress) -> Output {
        let mut out = Output::default();
        let covered = self.config_source(&mut out).await;
        let places = self.places();
        for (region, services) in &places {
            progress.begin(self.account, region, services.len());
        }
        let mut tasks = JoinSet::new();
        for (region, services) in places {
            for service in services {
                let target = self.target(&region, covered.clone());
                tasks.spawn(async move {
                    let output = services::dispatch(service.name, &target).await;
                    (target.region, service.name, output)
                });
            }
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((region, service, output)) => {
                    progress.done(self.account, &region, service);
                    out.extend(output);
                }
                Err(e) => out.errors.push(self.task_failed(&e)),
            }
        }
        out
    }

    /// Where each selected service runs: `global` services once, the
    /// regional ones in every region (a findings importer without assets
    /// only when findings are imported).
    fn places(&self) -> Vec<(String, Vec<&'static ServiceInfo>)> {
        let mut places = Vec::new();
        let global: Vec<&'static ServiceInfo> =
            self.selected.iter().copied().filter(|s| s.global).collect();
        if !global.is_empty() {
            places.push(("global".to_string(), global));
        }
        let import = self.opts.import_findings;
        for region in self.regions.iter() {
            let regional: Vec<&'static ServiceInfo> = self
                .selected
                .iter()
                .copied()
                .filter(|s| !s.global && (import || !s.findings || !s.types.is_empty()))
                .collect();
            places.push((region.clone(), regional));
        }
        places
    }

    /// What a collector reads in `region` (`global`: the scan's first region
    /// serves the calls).
    fn target(&self, region: &str, covered: HashSet<&'static str>) -> Target {
        let calls_in = if region == "global" {
            self.regions.first().map_or("us-east-1", String::as_str)
        } else {
            region
        };
        Target {
            account: self.account.to_string(),
            region: region.to_string(),
            sdk: sdk::for_region(self.sdk, calls_in),
            regions: self.regions.clone(),
            collected_at: self.collected_at.to_string(),
            limiter: self.limiter.clone(),
            covered,
            import_findings: self.opts.import_findings,
        }
    }

    /// A collector task that panicked or was cancelled.
    fn task_failed(&self, e: &tokio::task::JoinError) -> CollectionError {
        CollectionError {
            provider: "aws".into(),
            account: self.account.to_string(),
            region: "?".into(),
            service: "?".into(),
            operation: "*".into(),
            kind: "other".into(),
            message: format!("a collector task failed: {e}"),
            resource_types: Vec::new(),
        }
    }

    /// Run AWS Config in every region; return the resource types it covers
    /// (only those are taken from Config; the rest are collected directly).
    /// A regional type is covered when Config supplied it in every scanned
    /// region; a global type (IAM) when it did in any one of them (AWS
    /// advises recording global types in one region only), and is taken from
    /// the first such region.
    #[cfg(feature = "config-recorder")]
    async fn config_source(&self, out: &mut Output) -> HashSet<&'static str> {
        if !self.opts.use_config {
            return HashSet::new();
        }
        let mut wanted: HashSet<&'static str> = self
            .selected
            .iter()
            .flat_map(|s| s.types.iter().copied())
            .collect();
        let mut per_region = Vec::new();
        for region in self.regions.iter() {
            let target = self.target(region, HashSet::new());
            let sources = crate::config_source::collect(&target, &wanted).await;
            // A global type one region supplied is not read again elsewhere.
            for s in sources.iter().filter(|s| s.global) {
                wanted.remove(s.stance_type);
            }
            per_region.push(sources);
        }
        let covered = covered_types(&per_region);
        for source in per_region.into_iter().flatten() {
            // Uncovered types are collected directly (their direct fetchers'
            // failures with them): what Config supplied of them is dropped.
            if covered.contains(source.stance_type) {
                out.extend(source.output);
            }
        }
        covered
    }

    /// Without AWS Config in the build, every type is collected directly.
    #[cfg(not(feature = "config-recorder"))]
    async fn config_source(&self, _: &mut Output) -> HashSet<&'static str> {
        HashSet::new()
    }
}

/// The types AWS Config covers, from what it supplied in each scanned
/// region: a global type supplied anywhere, a regional one supplied everywhere.
#[cfg(feature = "config-recorder")]
fn covered_types(per_region: &[Vec<crate::config_source::Source>]) -> HashSet<&'static str> {
    let supplied_in = |t: &str| {
        per_region
            .iter()
            .filter(|sources| sources.iter().any(|s| s.stance_type == t))
            .count()
    };
    per_region
        .iter()
        .flatten()
        .filter(|s| s.global || supplied_in(s.stance_type) == per_region.len())
        .map(|s| s.stance_type)
        .collect()
}

#[cfg(all(test, feature = "config-recorder"))]
mod tests {
    use super::*;
    use crate::config_source::Source;

    fn source(stance_type: &'static str, global: bool) -> Source {
        Source {
            stance_type,
            global,
            output: Output::default(),
        }
    }

    #[test]
    fn global_types_need_one_region_regional_types_every_region() {
        let per_region = vec![
            // eu-west-1: records regional types only
            vec![source("aws_s3_bucket", false)],
            // us-east-1: records global types too
            vec![source("aws_s3_bucket", false), source("aws_iam_role", true)],
            // us-west-2: no recorder
            vec![],
        ];
        assert_eq!(covered_types(&per_region), HashSet::from(["aws_iam_role"]));
        assert_eq!(
            covered_types(&per_region[..2]),
            HashSet::from(["aws_iam_role", "aws_s3_bucket"])
        );
        assert!(covered_types(&[]).is_empty());
    }
}
