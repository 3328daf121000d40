//! ACM: the region's certificates of every key algorithm (ListCertificates
//! returns only RSA 1024/2048 certificates unless asked for the others),
//! each described (domain, status, type, validity, key algorithm, renewal
//! eligibility, what uses it, transparency logging) with its tags.
//! Never reads a certificate's body or its private key.

use aws_sdk_acm::Client;
use aws_sdk_acm::types::{CertificateSummary, Filters, KeyAlgorithm};
use futures::StreamExt;
use serde_json::json;
use stance_model::Asset;

use crate::toolkit::doc;
use crate::toolkit::errors::is_not_found;
use crate::toolkit::record::{Failed, Failures, Misses};
use crate::toolkit::{Output, Target};

const SERVICE: &str = "acm";
const CERTIFICATE: &str = "aws_acm_certificate";

/// The fields DescribeCertificate alone answers.
const DETAIL_FIELDS: &[&str] = &[
    "subject_alternative_names",
    "status",
    "type",
    "issuer",
    "not_before",
    "not_after",
    "created_at",
    "issued_at",
    "imported_at",
    "key_algorithm",
    "signature_algorithm",
    "renewal_eligibility",
    "in_use_by",
    "certificate_transparency_logging_preference",
];

pub(crate) async fn collect(target: &Target) -> Output {
    let mut out = Output::default();
    if target.covered(CERTIFICATE) {
        return out;
    }
    let c = Client::new(&target.sdk);
    let every_key = Filters::builder()
        .set_key_types(Some(
            KeyAlgorithm::values()
                .iter()
                .map(|k| KeyAlgorithm::from(*k))
                .collect(),
        ))
        .build();
    let pages = c
        .list_certificates()
        .includes(every_key)
        .into_paginator()
        .send();
    let summaries: Vec<CertificateSummary> = match target
        .items(pages, |p| p.certificate_summary_list.unwrap_or_default())
        .await
    {
        Ok(s) => s,
        Err(e) => {
            out.errors
                .push(target.sdk_error(SERVICE, "ListCertificates", &e, &[CERTIFICATE]));
            return out;
        }
    };
    let c = &c;
    let results: Vec<Option<(Asset, Vec<Failed>)>> = futures::stream::iter(summaries)
        .filter(|s| std::future::ready(s.certificate_arn().is_some()))
        .map(|s| certificate(target, c, s))
        .buffer_unordered(8)
        .collect()
        .await;
    let mut failures = Failures::default();
    for (asset, failed) in results.into_iter().flatten() {
        failures.add_all(&asset.id, failed);
        out.assets.push(asset);
    }
    out.errors
        .extend(failures.report(target, SERVICE, "certificates"));
    out
}

/// One certificate; `None` when it was deleted since it was listed.
async fn certificate(
    target: &Target,
    c: &Client,
    summary: CertificateSummary,
) -> Option<(Asset, Vec<Failed>)> {
    let arn = summary.certificate_arn().unwrap_or_default().to_string();
    let (described, tags) = tokio::join!(
        target.call(c.describe_certificate().certificate_arn(&arn).send()),
        target.call(c.list_tags_for_certificate().certificate_arn(&arn).send()),
    );
    let mut m = Misses::default();
    let detail = match described {
        Ok(r) => r.certificate,
        Err(e) if is_not_found(&e, &["ResourceNotFoundException"]) => return None,
        Err(e) => {
            m.sdk(DETAIL_FIELDS, "DescribeCertificate", &e);
            None
        }
    };
    let tags = match tags {
        Ok(t) => doc::tags(t.tags(), |t| (t.key(), t.value())),
        Err(e) if is_not_found(&e, &["ResourceNotFoundException"]) => return None,
        Err(e) => {
            m.fail(Failed::sdk("ListTagsForCertificate", &e));
            Vec::new()
        }
    };
    let d = detail.as_ref();
    let domain = d
        .and_then(|d| d.domain_name())
        .or(summary.domain_name())
        .unwrap_or_default()
        .to_string();
    let body = json!({
        "certificate_arn": arn,
        "domain_name": domain,
        "subject_alternative_names": d.map(|d| d.subject_alternative_names()),
        "status": d.and_then(|d| d.status()).map(|v| v.as_str()),
        "type": d.and_then(|d| d.r#type()).map(|v| v.as_str()),
        "issuer": d.and_then(|d| d.issuer()),
        "not_before": doc::time(d.and_then(|d| d.not_before())),
        "not_after": doc::time(d.and_then(|d| d.not_after())),
        "created_at": doc::time(d.and_then(|d| d.created_at())),
        "issued_at": doc::time(d.and_then(|d| d.issued_at())),
        "imported_at": doc::time(d.and_then(|d| d.imported_at())),
        "key_algorithm": d.and_then(|d| d.key_algorithm()).map(|v| v.as_str()),
        "signature_algorithm": d.and_then(|d| d.signature_algorithm()),
        "renewal_eligibility": d.and_then(|d| d.renewal_eligibility()).map(|v| v.as_str()),
        "in_use_by": d.map(|d| d.in_use_by()),
        "certificate_transparency_logging_preference": transparency(d),
    });
    let asset = target.asset(&target.region, arn, CERTIFICATE, domain, tags, body, m.gaps);
    Some((asset, m.failed))
}

/// The certificate transparency logging preference. The SDK deprecates it
/// because ACM no longer lets a new certificate opt out, but certificates
/// that opted out earlier keep `DISABLED`.
#[allow(deprecated)]
fn transparency(d: Option<&aws_sdk_acm::types::CertificateDetail>) -> Option<&str> {
    d.and_then(|d| d.options())
        .and_then(|o| o.certificate_transparency_logging_preference())
        .map(|v| v.as_str())
}
