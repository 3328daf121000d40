//! Security Hub's own state in a region: one `aws_securityhub_hub` asset per
//! account and region, enabled or not (DescribeHub), with the standards it
//! runs (GetEnabledStandards). An account that is not subscribed is an
//! answer (`enabled: false`, `standards: []`), not a collection error. The
//! findings Security Hub holds are imported by `findings.rs`; this
//! module never reads them.

use aws_sdk_securityhub::types::StandardsSubscription;
use serde_json::{Value, json};

use crate::toolkit::doc::s;
use crate::toolkit::errors::is_not_found;
use crate::toolkit::record::Misses;
use crate::toolkit::{Output, Target};

const SERVICE: &str = "securityhub";
const HUB: &str = "aws_securityhub_hub";
/// What Security Hub answers in an account and region that is not subscribed.
const NOT_SUBSCRIBED: &[&str] = &["InvalidAccessException"];

pub(crate) async fn collect(target: &Target) -> Output {
    let mut out = Output::default();
    let c = aws_sdk_securityhub::Client::new(&target.sdk);
    // Both at once: the standards call costs no time when the hub is off.
    let (hub, standards) = tokio::join!(target.call(c.describe_hub().send()), async {
        let pages = c.get_enabled_standards().into_paginator().send();
        target.items(pages, |p| p.standards_subscriptions.unwrap_or_default())
            .await
    });
    let hub = match hub {
        Ok(h) => Some(h),
        Err(e) if is_not_found(&e, NOT_SUBSCRIBED) => None,
        Err(e) => {
            out.errors
                .push(target.sdk_error(SERVICE, "DescribeHub", &e, &[HUB]));
            return out;
        }
    };
    let mut m = Misses::default();
    let standards = match (&hub, standards) {
        (None, _) => json!([]),
        (Some(_), Ok(list)) => Value::Array(list.iter().map(standard).collect()),
        (Some(_), Err(e)) if is_not_found(&e, NOT_SUBSCRIBED) => json!([]),
        (Some(_), Err(e)) => m.sdk(&["standards"], "GetEnabledStandards", &e),
    };
    let h = hub.as_ref();
    let body = json!({
        "enabled": hub.is_some(),
        "hub_arn": s(h.and_then(|h| h.hub_arn())),
        "subscribed_at": h.and_then(|h| h.subscribed_at()).map(rfc3339),
        "auto_enable_controls": h.and_then(|h| h.auto_enable_controls()),
        "control_finding_generator": h
            .and_then(|h| h.control_finding_generator())
            .map(|g| g.as_str()),
        "standards": standards,
    });
    m.regional_setting(
        target,
        &mut out,
        SERVICE,
        "securityhub",
        "hub/default",
        HUB,
        Vec::new(),
        body,
    );
    out
}

fn standard(st: &StandardsSubscription) -> Value {
    json!({
        "standards_arn": s(st.standards_arn()),
        "standards_subscription_arn": s(st.standards_subscription_arn()),
        "status": st.standards_status().map(|v| v.as_str()),
    })
}

/// A Security Hub time (ISO 8601) as RFC 3339 in UTC, seconds; as given
/// when it does not parse.
fn rfc3339(t: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(t).map_or_else(
        |_| t.to_string(),
        |t| {
            t.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        },
    )
}
