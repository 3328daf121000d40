//! SQS: the region's queues with their encryption (SQS managed or KMS),
//! normalized access policy, redrive policy (dead-letter queue), the queues
//! that use each queue as their dead-letter queue, message retention,
//! visibility timeout and tags. Never receives or reads messages.

use std::collections::HashMap;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::QueueAttributeName;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::toolkit::doc::{self, s};
use crate::toolkit::record::{Failed, Failures, Misses};
use crate::toolkit::{Output, Target};

const SERVICE: &str = "sqs";
const QUEUE: &str = "aws_sqs_queue";

/// The body fields that GetQueueAttributes gives.
const ATTRIBUTE_FIELDS: &[&str] = &[
    "fifo_queue",
    "sqs_managed_sse_enabled",
    "kms_master_key_id",
    "kms_data_key_reuse_period_seconds",
    "policy",
    "redrive_policy",
    "redrive_allow_policy",
    "message_retention_period",
    "visibility_timeout",
    "delay_seconds",
    "maximum_message_size",
    "receive_message_wait_time_seconds",
];

pub(crate) async fn collect(target: &Target) -> Output {
    let mut out = Output::default();
    if target.covered(QUEUE) {
        return out;
    }
    let c = Client::new(&target.sdk);
    let pages = c.list_queues().into_paginator().send();
    let urls: Vec<String> = match target.items(pages, |p| p.queue_urls.unwrap_or_default()).await {
        Ok(u) => u,
        Err(e) => {
            out.errors
                .push(target.sdk_error(SERVICE, "ListQueues", &e, &[QUEUE]));
            return out;
        }
    };
    let c = &c;
    let queues: Vec<Queue> = futures::stream::iter(urls)
        .map(|url| queue(target, c, url))
        .buffer_unordered(8)
        .collect()
        .await;

    // A dead-letter queue is in the account and region of its source queues:
    // the redrive policies collected here name every source queue, unless
    // some queue's attributes could not be read.
    let mut sources: HashMap<String, Vec<String>> = HashMap::new();
    let mut complete = true;
    for q in &queues {
        complete &= !q.misses.gaps.iter().any(|g| g.field == "redrive_policy");
        if let Some(dlq) = q.body["redrive_policy"]["dead_letter_target_arn"].as_str() {
            sources
                .entry(dlq.to_string())
                .or_default()
                .push(q.arn.clone());
        }
    }
    let mut failures = Failures::default();
    for mut q in queues {
        let mut list = sources.remove(&q.arn).unwrap_or_default();
        list.sort();
        let value = if complete {
            json!(list)
        } else {
            q.misses.unknown(
                "dead_letter_source_queues",
                "GetQueueAttributes",
                "the redrive policy of another queue of the region could not be read",
            )
        };
        if let Some(obj) = q.body.as_object_mut() {
            obj.insert("dead_letter_source_queues".into(), value);
        }
        failures.add_all(&q.name, q.misses.failed);
        out.assets.push(target.asset(
            &target.region,
            q.arn,
            QUEUE,
            q.name,
            q.tags,
            q.body,
            q.misses.gaps,
        ));
    }
    out.errors.extend(failures.report(target, SERVICE, "queues"));
    out
}

/// One queue, before the dead-letter sources of the region are known.
struct Queue {
    arn: String,
    name: String,
    tags: Vec<(String, String)>,
    body: Value,
    misses: Misses,
}

async fn queue(target: &Target, c: &Client, url: String) -> Queue {
    let mut m = Misses::default();
    let (attributes, tags) = tokio::join!(
        target.call(
            c.get_queue_attributes()
                .queue_url(&url)
                .attribute_names(QueueAttributeName::All)
                .send()
        ),
        target.call(c.list_queue_tags().queue_url(&url).send()),
    );
    let name = url
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(&url)
        .to_string();
    let fallback_arn = format!(
        "arn:{}:sqs:{}:{}:{name}",
        target.partition(),
        target.region,
        target.account
    );
    let (arn, fields) = match attributes {
        Ok(r) => {
            let a: HashMap<&str, &str> = r
                .attributes()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let arn = a.get("QueueArn").map_or(fallback_arn, |s| s.to_string());
            (arn, queue_attributes(&a, &mut m))
        }
        Err(e) => {
            m.sdk(ATTRIBUTE_FIELDS, "GetQueueAttributes", &e);
            let nulls = ATTRIBUTE_FIELDS.iter().map(|f| (*f, Value::Null)).collect();
            (fallback_arn, nulls)
        }
    };
    let tags = match tags {
        Ok(r) => {
            let mut t: Vec<(String, String)> = r
                .tags()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            t.sort();
            t
        }
        Err(e) => {
            m.fail(Failed::sdk("ListQueueTags", &e));
            Vec::new()
        }
    };
    let mut body = json!({
        "queue_url": url,
        "arn": arn,
        "name": name,
    });
    if let Some(obj) = body.as_object_mut() {
        for (field, value) in fields {
            obj.insert(field.to_string(), value);
        }
    }
    Queue {
        arn,
        name,
        tags,
        body,
        misses: m,
    }
}

/// The body fields of GetQueueAttributes' answer.
fn queue_attributes(a: &HashMap<&str, &str>, m: &mut Misses) -> Vec<(&'static str, Value)> {
    let get = |k: &str| a.get(k).copied().filter(|v| !v.is_empty());
    let number = |k: &str| json!(get(k).and_then(|v| v.parse::<u64>().ok()));
    let flag = |k: &str| json!(get(k).map(|v| v == "true"));
    let mut document = |field: &'static str, key: &str, policy: bool| match get(key) {
        None => Value::Null,
        Some(text) => {
            let parsed = if policy {
                doc::policy(text)
            } else {
                serde_json::from_str(text).map_err(|e| format!("the {key} is not JSON: {e}"))
            };
            match parsed {
                Ok(v) => v,
                Err(message) => m.gap(&[field], Failed::other("GetQueueAttributes", message)),
            }
        }
    };
    let policy = document("policy", "Policy", true);
    let redrive = document("redrive_policy", "RedrivePolicy", false);
    let redrive_allow = document("redrive_allow_policy", "RedriveAllowPolicy", false);
    let redrive = if redrive.is_object() {
        json!({
            "dead_letter_target_arn": redrive.get("deadLetterTargetArn"),
            // AWS gives it as a number, some tools as a string.
            "max_receive_count": match redrive.get("maxReceiveCount") {
                Some(Value::String(n)) => json!(n.parse::<u64>().ok()),
                other => json!(other),
            },
        })
    } else {
        redrive
    };
    let redrive_allow = if redrive_allow.is_object() {
        json!({
            "redrive_permission": redrive_allow.get("redrivePermission"),
            "source_queue_arns": redrive_allow.get("sourceQueueArns").cloned().unwrap_or(json!([])),
        })
    } else {
        redrive_allow
    };
    vec![
        ("fifo_queue", json!(get("FifoQueue") == Some("true"))),
        ("sqs_managed_sse_enabled", flag("SqsManagedSseEnabled")),
        ("kms_master_key_id", s(get("KmsMasterKeyId"))),
        (
            "kms_data_key_reuse_period_seconds",
            if get("KmsMasterKeyId").is_some() {
                number("KmsDataKeyReusePeriodSeconds")
            } else {
                Value::Null
            },
        ),
        ("policy", policy),
        ("redrive_policy", redrive),
        ("redrive_allow_policy", redrive_allow),
        ("message_retention_period", number("MessageRetentionPeriod")),
        ("visibility_timeout", number("VisibilityTimeout")),
        ("delay_seconds", number("DelaySeconds")),
        ("maximum_message_size", number("MaximumMessageSize")),
        (
            "receive_message_wait_time_seconds",
            number("ReceiveMessageWaitTimeSeconds"),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_become_the_body_fields() {
        let a: HashMap<&str, &str> = HashMap::from([
            ("SqsManagedSseEnabled", "false"),
            ("KmsMasterKeyId", "alias/aws/sqs"),
            ("KmsDataKeyReusePeriodSeconds", "300"),
            ("MessageRetentionPeriod", "1209600"),
            (
                "RedrivePolicy",
                r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:dlq","maxReceiveCount":"5"}"#,
            ),
            ("RedriveAllowPolicy", r#"{"redrivePermission":"allowAll"}"#),
            ("Policy", "{not json"),
        ]);
        let mut m = Misses::default();
        let fields: HashMap<&str, Value> = queue_attributes(&a, &mut m).into_iter().collect();
        assert_eq!(fields.len(), ATTRIBUTE_FIELDS.len());
        assert_eq!(fields["sqs_managed_sse_enabled"], json!(false));
        assert_eq!(fields["kms_data_key_reuse_period_seconds"], json!(300));
        assert_eq!(
            fields["redrive_policy"],
            json!({"dead_letter_target_arn": "arn:aws:sqs:us-east-1:1:dlq", "max_receive_count": 5})
        );
        assert_eq!(
            fields["redrive_allow_policy"],
            json!({"redrive_permission": "allowAll", "source_queue_arns": []})
        );
        assert_eq!(fields["visibility_timeout"], Value::Null);
        // A policy that cannot be read is a gap, never an empty policy.
        assert_eq!(fields["policy"], Value::Null);
        let gaps: Vec<&str> = m.gaps.iter().map(|g| g.field.as_str()).collect();
        assert_eq!(gaps, ["policy"]);
    }
}
