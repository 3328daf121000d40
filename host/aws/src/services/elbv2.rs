//! Elastic Load Balancing v2: the region's application, network and gateway
//! load balancers with their scheme, Availability Zones, security groups,
//! listeners (protocol, port, TLS policy, certificates, default actions),
//! attributes (access logs, deletion protection, header handling, desync
//! mitigation, …) and tags. Never reads target groups or their targets.

use std::collections::HashMap;

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types::{Action, Listener, LoadBalancer};
use futures::StreamExt;
use serde_json::{Map, Value, json};
use stance_model::Asset;

use crate::toolkit::doc::{self, s};
use crate::toolkit::errors::is_not_found;
use crate::toolkit::record::{Failed, Failures, Misses};
use crate::toolkit::{Output, Target};

const SERVICE: &str = "elbv2";
const LOAD_BALANCER: &str = "aws_elbv2_load_balancer";

/// DescribeTags takes at most 20 resources per call.
const TAGS_PER_CALL: usize = 20;

pub(crate) async fn collect(target: &Target) -> Output {
    let mut out = Output::default();
    if target.covered(LOAD_BALANCER) {
        return out;
    }
    let c = Client::new(&target.sdk);
    let pages = c.describe_load_balancers().into_paginator().send();
    let lbs: Vec<LoadBalancer> = match target
        .items(pages, |p| p.load_balancers.unwrap_or_default())
        .await
    {
        Ok(l) => l,
        Err(e) => {
            out.errors
                .push(target.sdk_error(SERVICE, "DescribeLoadBalancers", &e, &[LOAD_BALANCER]));
            return out;
        }
    };
    let lbs: Vec<LoadBalancer> = lbs
        .into_iter()
        .filter(|l| l.load_balancer_arn().is_some())
        .collect();
    let arns: Vec<String> = lbs
        .iter()
        .filter_map(|l| l.load_balancer_arn().map(str::to_string))
        .collect();
    let c = &c;
    let (tags, results) = tokio::join!(
        tags(target, c, &arns),
        futures::stream::iter(lbs)
            .map(|lb| load_balancer(target, c, lb))
            .buffer_unordered(8)
            .collect::<Vec<Option<(Asset, Vec<Failed>)>>>(),
    );
    let mut failures = Failures::default();
    let tags = match tags {
        Ok(t) => t,
        Err(failed) => {
            out.errors.push(failed.into_error(
                target,
                SERVICE,
                Some("load balancers are collected without their tags"),
            ));
            HashMap::new()
        }
    };
    for (mut asset, failed) in results.into_iter().flatten() {
        failures.add_all(&asset.name, failed);
        if let Some(t) = tags.get(&asset.id) {
            asset.tags = t.clone();
        }
        out.assets.push(asset);
    }
    out.errors
        .extend(failures.report(target, SERVICE, "load balancers"));
    out
}

/// The tags of every load balancer, 20 per DescribeTags call.
async fn tags(
    target: &Target,
    c: &Client,
    arns: &[String],
) -> Result<HashMap<String, Vec<(String, String)>>, Failed> {
    let mut out = HashMap::new();
    for chunk in arns.chunks(TAGS_PER_CALL) {
        let r = target
            .call(
                c.describe_tags()
                    .set_resource_arns(Some(chunk.to_vec()))
                    .send(),
            )
            .await
            .map_err(|e| Failed::sdk("DescribeTags", &e))?;
        for d in r.tag_descriptions() {
            if let Some(arn) = d.resource_arn() {
                out.insert(
                    arn.to_string(),
                    doc::tags(d.tags(), |t| (t.key(), t.value())),
                );
            }
        }
    }
    Ok(out)
}

/// One load balancer; `None` when it was deleted since it was listed.
async fn load_balancer(target: &Target, c: &Client, lb: LoadBalancer) -> Option<(Asset, Vec<Failed>)> {
    let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
    let name = lb.load_balancer_name().unwrap_or_default().to_string();
    let listener_pages = c
        .describe_listeners()
        .load_balancer_arn(&arn)
        .into_paginator()
        .send();
    let (listeners, attributes) = tokio::join!(
        target.items(listener_pages, |p| p.listeners.unwrap_or_default()),
        target.call(
            c.describe_load_balancer_attributes()
                .load_balancer_arn(&arn)
                .send()
        ),
    );
    let mut m = Misses::default();
    let gone = ["LoadBalancerNotFound", "LoadBalancerNotFoundException"];
    let listeners = match listeners {
        Ok(l) => Value::Array(l.iter().map(listener).collect()),
        Err(e) if is_not_found(&e, &gone) => return None,
        Err(e) => m.sdk(&["listeners"], "DescribeListeners", &e),
    };
    let attributes = match attributes {
        Ok(a) => attributes_object(
            a.attributes()
                .iter()
                .filter_map(|a| Some((a.key()?, a.value().unwrap_or_default()))),
        ),
        Err(e) if is_not_found(&e, &gone) => return None,
        Err(e) => m.sdk(&["attributes"], "DescribeLoadBalancerAttributes", &e),
    };
    let body = json!({
        "load_balancer_name": name,
        "arn": arn,
        "type": lb.r#type().map(|v| v.as_str()),
        "scheme": lb.scheme().map(|v| v.as_str()),
        "state": lb.state().and_then(|s| s.code()).map(|v| v.as_str()),
        "vpc_id": s(lb.vpc_id()),
        "dns_name": s(lb.dns_name()),
        "ip_address_type": lb.ip_address_type().map(|v| v.as_str()),
        "created_time": doc::time(lb.created_time()),
        "security_groups": lb.security_groups(),
        "availability_zones": lb.availability_zones().iter().map(|z| json!({
            "zone_name": z.zone_name(),
            "subnet_id": z.subnet_id(),
        })).collect::<Vec<_>>(),
        "listeners": listeners,
        "attributes": attributes,
    });
    let asset = target.asset(
        &target.region,
        arn,
        LOAD_BALANCER,
        name,
        Vec::new(),
        body,
        m.gaps,
    );
    Some((asset, m.failed))
}

/// Attributes as an object: `routing.http.desync_mitigation_mode` becomes
/// `routing_http_desync_mitigation_mode`, `"true"`/`"false"` become booleans
/// and every other value stays the string AWS gives.
fn attributes_object<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Value {
    let mut out = Map::new();
    for (key, value) in pairs {
        let value = match value {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            other => Value::String(other.to_string()),
        };
        out.insert(key.replace(['.', '-'], "_"), value);
    }
    Value::Object(out)
}

fn listener(l: &Listener) -> Value {
    json!({
        "listener_arn": l.listener_arn(),
        "protocol": l.protocol().map(|v| v.as_str()),
        "port": l.port(),
        "ssl_policy": s(l.ssl_policy()),
        "certificates": l
            .certificates()
            .iter()
            .filter_map(|c| c.certificate_arn())
            .collect::<Vec<_>>(),
        "default_actions": l.default_actions().iter().map(action).collect::<Vec<_>>(),
    })
}

fn action(a: &Action) -> Value {
    json!({
        "type": a.r#type().map(|v| v.as_str()),
        "order": a.order(),
        "target_group_arn": s(a.target_group_arn()),
        "redirect": a.redirect_config().map(|r| json!({
            "protocol": r.protocol(),
            "port": r.port(),
            "host": r.host(),
            "path": r.path(),
            "query": r.query(),
            "status_code": r.status_code().map(|v| v.as_str()),
        })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_become_snake_case_keys_with_booleans() {
        let v = attributes_object(
            [
                ("access_logs.s3.enabled", "true"),
                ("access_logs.s3.bucket", ""),
                ("deletion_protection.enabled", "false"),
                ("routing.http.desync_mitigation_mode", "defensive"),
                ("idle_timeout.timeout_seconds", "60"),
            ]
            .into_iter(),
        );
        assert_eq!(
            v,
            json!({
                "access_logs_s3_enabled": true,
                "access_logs_s3_bucket": "",
                "deletion_protection_enabled": false,
                "routing_http_desync_mitigation_mode": "defensive",
                "idle_timeout_timeout_seconds": "60",
            })
        );
    }
}
