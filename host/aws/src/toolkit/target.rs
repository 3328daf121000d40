//! [`Target`]: the account and region one service collector reads, and the
//! ways it calls AWS politely (a concurrency permit per call and per page,
//! hand-rolled pagination) and shapes what it found (assets, collection
//! errors). Never decides which services run where (`run.rs` does).

use std::collections::HashSet;
use std::sync::Arc;

use aws_config::SdkConfig;
use aws_smithy_async::future::pagination_stream::PaginationStream;
use stance_model::{Asset, CollectionError, Gap};
use tokio::sync::Semaphore;

use super::errors::classify;
use super::sdk::partition;

/// What one service collector reads: one account and one region (or
/// `global`), with the SDK configuration for them and the scan's concurrency
/// limiter.
pub(crate) struct Target {
    /// The account id.
    pub account: String,
    /// The region, or `global` for account-wide services.
    pub region: String,
    /// SDK configuration for this account, with `region` set (us-east-1 for global services).
    pub sdk: SdkConfig,
    /// The regions of the scan (global collectors such as S3 keep only these).
    pub regions: Arc<Vec<String>>,
    /// When the scan started (RFC 3339): every asset's `collected_at`.
    pub collected_at: String,
    /// API calls in flight at once, across the whole scan: one permit per call or page.
    pub limiter: Arc<Semaphore>,
    /// Stance resource types another source (AWS Config) already collected here.
    pub covered: HashSet<&'static str>,
    /// Import findings too (Security Hub's besides its hub asset); `--no-imported-findings` clears it.
    pub import_findings: bool,
}

impl Target {
    /// Run one API call under the concurrency limit.
    pub async fn call<T, E>(&self, fut: impl Future<Output = Result<T, E>>) -> Result<T, E> {
        let _permit = self.limiter.acquire().await;
        fut.await
    }

    /// Every page of a paginated call (`request.into_paginator().send()`),
    /// one concurrency permit per page: the pages, or the first error.
    pub async fn pages<T, E>(
        &self,
        mut pages: PaginationStream<Result<T, E>>,
    ) -> Result<Vec<T>, E> {
        let mut all = Vec::new();
        while let Some(page) = self.call(pages.try_next()).await? {
            all.push(page);
        }
        Ok(all)
    }

    /// Every item of a paginated call, `items` taking them out of each page:
    /// [`Target::pages`], flattened.
    pub async fn items<T, E, I: IntoIterator>(
        &self,
        pages: PaginationStream<Result<T, E>>,
        items: impl FnMut(T) -> I,
    ) -> Result<Vec<I::Item>, E> {
        Ok(self
            .pages(pages)
            .await?
            .into_iter()
            .flat_map(items)
            .collect())
    }

    /// The ARN partition of this account's calls (from the region they go
    /// to: global services are called in the scan's first region).
    pub fn partition(&self) -> &'static str {
        partition(
            self.sdk
                .region()
                .map_or(self.region.as_str(), |r| r.as_ref()),
        )
    }

    /// A collection error in this account and region.
    pub fn error(
        &self,
        service: &str,
        operation: &str,
        kind: &str,
        message: impl Into<String>,
        types: &[&str],
    ) -> CollectionError {
        CollectionError {
            provider: "aws".into(),
            account: self.account.clone(),
            region: self.region.clone(),
            service: service.into(),
            operation: operation.into(),
            kind: kind.into(),
            message: message.into(),
            resource_types: types.iter().map(|t| t.to_string()).collect(),
        }
    }

    /// A collection error from an SDK failure.
    pub fn sdk_error<E, R>(
        &self,
        service: &str,
        operation: &str,
        err: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
        types: &[&str],
    ) -> CollectionError
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let (kind, message) = classify(err);
        self.error(service, operation, kind, message, types)
    }

    /// Was `resource_type` already collected by another source (AWS Config)?
    pub fn covered(&self, resource_type: &str) -> bool {
        self.covered.contains(resource_type)
    }

    /// An asset of this account in `region`.
    #[allow(clippy::too_many_arguments)]
    pub fn asset(
        &self,
        region: &str,
        id: String,
        resource_type: &str,
        name: String,
        tags: Vec<(String, String)>,
        body: serde_json::Value,
        gaps: Vec<Gap>,
    ) -> Asset {
        Asset {
            id,
            resource_type: resource_type.to_string(),
            provider: "aws".into(),
            account: self.account.clone(),
            region: region.to_string(),
            name,
            tags,
            collected_at: self.collected_at.clone(),
            body: body.to_string(),
            gaps,
        }
    }

    /// Is the SDK pointed at a custom endpoint (an emulator)?
    pub fn custom_endpoint(&self) -> Option<&str> {
        self.sdk.endpoint_url()
    }
}

/// Hand-rolled pagination (where the SDK has no paginator that fits): take
/// the response's next token, and say whether there is another page. An
/// empty token or the same token again ends the listing (emulators repeat it).
pub(crate) fn next_page(token: &mut Option<String>, next: Option<&str>) -> bool {
    match next {
        Some(t) if !t.is_empty() && token.as_deref() != Some(t) => {
            *token = Some(t.to_string());
            true
        }
        _ => false,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use aws_config::Region;

    use super::*;

    /// A target for tests: no credentials, no calls.
    pub(crate) fn target(region: &str) -> Target {
        Target {
            account: "123456789012".into(),
            region: region.into(),
            sdk: SdkConfig::builder()
                .region(Region::new(region.to_string()))
                .build(),
            regions: Arc::new(vec![region.to_string()]),
            collected_at: "2026-01-01T00:00:00Z".into(),
            limiter: Arc::new(Semaphore::new(1)),
            covered: HashSet::new(),
            import_findings: true,
        }
    }

    #[test]
    fn partitions_follow_the_region() {
        assert_eq!(target("eu-west-1").partition(), "aws");
        assert_eq!(target("cn-northwest-1").partition(), "aws-cn");
        assert_eq!(target("us-gov-west-1").partition(), "aws-us-gov");
        assert_eq!(target("us-isob-east-1").partition(), "aws-iso-b");
        assert_eq!(target("us-iso-east-1").partition(), "aws-iso");
        // a global service is called in the scan's first region
        let mut global = target("cn-north-1");
        global.region = "global".into();
        assert_eq!(global.partition(), "aws-cn");
    }
}
