//! CloudWatch Logs and CloudWatch: the region's log groups (retention,
//! encryption, size, metric filters) and metric alarms, the two halves of the
//! CIS "metric filter and alarm" checks. Never reads log events.

use std::collections::BTreeMap;

use aws_sdk_cloudwatchlogs::types::{LogGroup, MetricFilter};
use serde_json::{Value, json};
use stance_model::Asset;

use crate::toolkit::doc::s;
use crate::toolkit::errors::classify;
use crate::toolkit::record::gap;
use crate::toolkit::{Output, Target};

const LOG_GROUP: &str = "aws_logs_log_group";
const ALARM: &str = "aws_cloudwatch_alarm";

pub(crate) async fn collect(target: &Target) -> Output {
    let (groups, alarms) = tokio::join!(
        async {
            if target.covered(LOG_GROUP) {
                Output::default()
            } else {
                log_groups(target).await
            }
        },
        async {
            if target.covered(ALARM) {
                Output::default()
            } else {
                alarms(target).await
            }
        },
    );
    let mut out = groups;
    out.extend(alarms);
    out
}

async fn log_groups(target: &Target) -> Output {
    const SERVICE: &str = "logs";
    let mut out = Output::default();
    let c = aws_sdk_cloudwatchlogs::Client::new(&target.sdk);
    // Metric filters come from one region-wide listing (no log group named),
    // not one call per log group: a region can hold thousands of groups.
    let (groups, filters) = tokio::join!(
        target.items(c.describe_log_groups().into_paginator().send(), |p| {
            p.log_groups.unwrap_or_default()
        }),
        target.items(c.describe_metric_filters().into_paginator().send(), |p| {
            p.metric_filters.unwrap_or_default()
        }),
    );
    let groups = match groups {
        Ok(g) => g,
        Err(e) => {
            out.errors
                .push(target.sdk_error(SERVICE, "DescribeLogGroups", &e, &[LOG_GROUP]));
            return out;
        }
    };
    let filters: Result<BTreeMap<String, Vec<Value>>, String> = match filters {
        Ok(list) => Ok(filters_by_group(list)),
        Err(e) => {
            let (kind, message) = classify(&e);
            out.errors.push(target.error(
                SERVICE,
                "DescribeMetricFilters",
                kind,
                format!("the metric filters of every log group are unknown: {message}"),
                &[],
            ));
            Err(message)
        }
    };

    for g in groups {
        out.assets.extend(log_group(target, &g, &filters));
    }
    out
}

/// The region's metric filters by log group name, each group's sorted by name.
fn filters_by_group(list: Vec<MetricFilter>) -> BTreeMap<String, Vec<Value>> {
    let mut by_group: BTreeMap<String, Vec<(String, Value)>> = BTreeMap::new();
    for f in list {
        let Some(group) = f.log_group_name() else {
            continue;
        };
        let transformations: Vec<Value> = f
            .metric_transformations()
            .iter()
            .map(|t| {
                json!({
                    "metric_name": t.metric_name(),
                    "metric_namespace": t.metric_namespace(),
                    "metric_value": t.metric_value(),
                })
            })
            .collect();
        let name = f.filter_name().unwrap_or_default().to_string();
        let filter = json!({
            "filter_name": name,
            "filter_pattern": s(f.filter_pattern()),
            "metric_transformations": transformations,
        });
        by_group
            .entry(group.to_string())
            .or_default()
            .push((name, filter));
    }
    by_group
        .into_iter()
        .map(|(group, mut list)| {
            list.sort_by(|a, b| a.0.cmp(&b.0));
            (group, list.into_iter().map(|(_, f)| f).collect())
        })
        .collect()
}

/// One log group's asset, with its metric filters (or a gap, when they
/// could not be listed: that failure is reported once, for every group).
fn log_group(
    target: &Target,
    g: &LogGroup,
    filters: &Result<BTreeMap<String, Vec<Value>>, String>,
) -> Option<Asset> {
    let name = g.log_group_name()?.to_string();
    // `arn` ends in `:*`; `log_group_arn` is the ARN of the group itself.
    let arn = g
        .log_group_arn()
        .map(str::to_string)
        .or_else(|| g.arn().map(|a| a.trim_end_matches(":*").to_string()))
        .unwrap_or_else(|| {
            format!(
                "arn:{}:logs:{}:{}:log-group:{name}",
                target.partition(),
                target.region,
                target.account
            )
        });
    let mut gaps = Vec::new();
    let metric_filters = match filters {
        Ok(by_group) => json!(by_group.get(&name).cloned().unwrap_or_default()),
        Err(message) => {
            gaps.push(gap("metric_filters", "DescribeMetricFilters", message));
            Value::Null
        }
    };
    let body = json!({
        "log_group_name": name,
        "arn": arn,
        "retention_in_days": g.retention_in_days(),
        "kms_key_id": s(g.kms_key_id()),
        "stored_bytes": g.stored_bytes(),
        "metric_filters": metric_filters,
    });
    Some(target.asset(&target.region, arn, LOG_GROUP, name, Vec::new(), body, gaps))
}

async fn alarms(target: &Target) -> Output {
    const SERVICE: &str = "cloudwatch";
    let mut out = Output::default();
    let c = aws_sdk_cloudwatch::Client::new(&target.sdk);
    // DescribeAlarms without AlarmTypes lists metric alarms only.
    let pages = c.describe_alarms().into_paginator().send();
    let alarms = match target
        .items(pages, |p| p.metric_alarms.unwrap_or_default())
        .await
    {
        Ok(a) => a,
        Err(e) => {
            out.errors
                .push(target.sdk_error(SERVICE, "DescribeAlarms", &e, &[ALARM]));
            return out;
        }
    };
    for a in alarms {
        let Some(name) = a.alarm_name().map(str::to_string) else {
            continue;
        };
        let arn = a.alarm_arn().map_or_else(
            || {
                format!(
                    "arn:{}:cloudwatch:{}:{}:alarm:{name}",
                    target.partition(),
                    target.region,
                    target.account
                )
            },
            str::to_string,
        );
        let dimensions: Vec<Value> = a
            .dimensions()
            .iter()
            .map(|d| json!({"name": d.name(), "value": d.value()}))
            .collect();
        let statistic = a
            .statistic()
            .map(|st| st.as_str())
            .or(a.extended_statistic());
        let body = json!({
            "alarm_name": name,
            "arn": arn,
            "namespace": s(a.namespace()),
            "metric_name": s(a.metric_name()),
            "statistic": s(statistic),
            "comparison_operator": a.comparison_operator().map(|o| o.as_str()),
            "threshold": a.threshold(),
            "evaluation_periods": a.evaluation_periods(),
            "actions_enabled": a.actions_enabled(),
            "alarm_actions": a.alarm_actions(),
            "state_value": a.state_value().map(|v| v.as_str()),
            "dimensions": dimensions,
        });
        out.assets
            .push(target.asset(&target.region, arn, ALARM, name, Vec::new(), body, Vec::new()));
    }
    out
}
