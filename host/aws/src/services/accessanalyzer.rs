//! IAM Access Analyzer: one `aws_accessanalyzer_region` asset per account and
//! region listing its analyzers (external access, internal access and
//! unused access, of the account or of the organization) with their status;
//! `analyzers: []` where there is none.
//! Never reads the analyzers' findings or archive rules.

use aws_sdk_accessanalyzer::Client;
use aws_sdk_accessanalyzer::types::AnalyzerSummary;
use serde_json::{Value, json};

use crate::toolkit::doc::{self, s};
use crate::toolkit::record::Misses;
use crate::toolkit::{Output, Target};

const SERVICE: &str = "accessanalyzer";
const REGION_TYPE: &str = "aws_accessanalyzer_region";

pub(crate) async fn collect(target: &Target) -> Output {
    let mut out = Output::default();
    let c = Client::new(&target.sdk);
    let pages = c.list_analyzers().into_paginator().send();
    let mut analyzers = match target.items(pages, |p| p.analyzers).await {
        Ok(a) => a,
        Err(e) => {
            out.errors
                .push(target.sdk_error(SERVICE, "ListAnalyzers", &e, &[REGION_TYPE]));
            return out;
        }
    };
    analyzers.sort_by(|a, b| a.name().cmp(b.name()));
    let body = json!({
        "analyzers": analyzers.iter().map(analyzer).collect::<Vec<_>>(),
    });
    Misses::default().regional_setting(
        target,
        &mut out,
        SERVICE,
        "access-analyzer",
        "analyzers",
        REGION_TYPE,
        Vec::new(),
        body,
    );
    out
}

fn analyzer(a: &AnalyzerSummary) -> Value {
    json!({
        "name": a.name(),
        "arn": a.arn(),
        "type": a.r#type().as_str(),
        "status": a.status().as_str(),
        "status_reason": a.status_reason().map(|r| r.code().as_str()),
        "created_at": doc::time(Some(a.created_at())),
        "last_resource_analyzed_at": doc::time(a.last_resource_analyzed_at()),
        "last_resource_analyzed": s(a.last_resource_analyzed()),
    })
}
