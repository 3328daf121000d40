//! Security Hub in one region: the hub's own state (one
//! `aws_securityhub_hub` asset, `hub.rs`), collected always, and the active
//! findings it holds (`findings.rs`), imported unless the scan was asked not
//! to import findings. Never reads the findings' resources.

mod findings;
mod hub;

use crate::toolkit::{Output, Target};

/// The hub's asset, then (when the scan imports findings) its findings.
pub(crate) async fn collect(target: &Target) -> Output {
    let mut out = hub::collect(target).await;
    if target.import_findings {
        out.extend(findings::collect(target).await);
    }
    out
}
