//! SNS: the region's topics with their encryption key, normalized access
//! policy, delivery-status logging, subscriptions (protocol and owner, never
//! the endpoint: e-mail addresses and phone numbers are personal data) and
//! tags. Never publishes to a topic.

use std::collections::HashMap;

use aws_sdk_sns::Client;
use aws_sdk_sns::types::Subscription;
use futures::StreamExt;
use serde_json::{Value, json};
use stance_model::Asset;

use crate::toolkit::doc::{self, s};
use crate::toolkit::record::{Failed, Misses};
use crate::toolkit::{Output, Target};

const SERVICE: &str = "sns";
const TOPIC: &str = "aws_sns_topic";

/// The delivery protocols whose status SNS can log, as its attribute
/// prefixes name them (`HTTPFailureFeedbackRoleArn`, …), and as Stance does.
const FEEDBACK: &[(&str, &str)] = &[
    ("Application", "application"),
    ("Firehose", "firehose"),
    ("HTTP", "http"),
    ("Lambda", "lambda"),
    ("SQS", "sqs"),
];

pub(crate) async fn collect(target: &Target) -> Output {
    let mut out = Output::default();
    if target.covered(TOPIC) {
        return out;
    }
    let c = Client::new(&target.sdk);
    let pages = c.list_topics().into_paginator().send();
    let arns: Vec<String> = match target.items(pages, |p| p.topics.unwrap_or_default()).await {
        Ok(t) => t
            .into_iter()
            .filter_map(|t| t.topic_arn().map(str::to_string))
            .collect(),
        Err(e) => {
            out.errors
                .push(target.sdk_error(SERVICE, "ListTopics", &e, &[TOPIC]));
            return out;
        }
    };
    let c = &c;
    let results: Vec<(Asset, Vec<Failed>)> = futures::stream::iter(arns)
        .map(|arn| topic(target, c, arn))
        .buffer_unordered(8)
        .collect()
        .await;
    out.add_detailed(target, SERVICE, "topics", results);
    out
}

async fn topic(target: &Target, c: &Client, arn: String) -> (Asset, Vec<Failed>) {
    let mut m = Misses::default();
    let (attributes, subscriptions, tags) = tokio::join!(
        target.call(c.get_topic_attributes().topic_arn(&arn).send()),
        async {
            let pages = c
                .list_subscriptions_by_topic()
                .topic_arn(&arn)
                .into_paginator()
                .send();
            target.items(pages, |p| p.subscriptions.unwrap_or_default())
                .await
        },
        target.call(c.list_tags_for_resource().resource_arn(&arn).send()),
    );
    const ATTRIBUTE_FIELDS: &[&str] = &[
        "display_name",
        "kms_master_key_id",
        "fifo_topic",
        "policy",
        "delivery_status_logging",
        "subscriptions_confirmed",
        "subscriptions_pending",
    ];
    let attributes: Option<HashMap<String, String>> = match attributes {
        Ok(r) => Some(r.attributes().cloned().unwrap_or_default()),
        Err(e) => {
            m.sdk(ATTRIBUTE_FIELDS, "GetTopicAttributes", &e);
            None
        }
    };
    let subscriptions = match subscriptions {
        Ok(list) => Value::Array(list.iter().map(subscription).collect()),
        Err(e) => m.sdk(&["subscriptions"], "ListSubscriptionsByTopic", &e),
    };
    let tags = match tags {
        Ok(r) => doc::tags(r.tags(), |t| (t.key(), t.value())),
        Err(e) => {
            m.fail(Failed::sdk("ListTagsForResource", &e));
            Vec::new()
        }
    };
    let name = arn.rsplit(':').next().unwrap_or(&arn).to_string();
    let mut body = json!({
        "topic_arn": arn,
        "name": name,
        "subscriptions": subscriptions,
    });
    let fields = match &attributes {
        None => ATTRIBUTE_FIELDS.iter().map(|f| (*f, Value::Null)).collect(),
        Some(a) => topic_attributes(a, &mut m),
    };
    if let Some(obj) = body.as_object_mut() {
        for (field, value) in fields {
            obj.insert(field.to_string(), value);
        }
    }
    let asset = target.asset(&target.region, arn, TOPIC, name, tags, body, m.gaps);
    (asset, m.failed)
}

/// The body fields GetTopicAttributes gives.
fn topic_attributes(a: &HashMap<String, String>, m: &mut Misses) -> Vec<(&'static str, Value)> {
    let get = |k: &str| a.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let policy = match get("Policy").map(doc::policy) {
        Some(Ok(p)) => p,
        Some(Err(message)) => m.gap(&["policy"], Failed::other("GetTopicAttributes", message)),
        None => Value::Null,
    };
    // A protocol's delivery status is logged when a role to log failures is set.
    let logging: Vec<&str> = FEEDBACK
        .iter()
        .filter(|(prefix, _)| get(&format!("{prefix}FailureFeedbackRoleArn")).is_some())
        .map(|(_, name)| *name)
        .collect();
    let count = |k: &str| get(k).and_then(|v| v.parse::<u64>().ok());
    vec![
        ("display_name", s(get("DisplayName"))),
        ("kms_master_key_id", s(get("KmsMasterKeyId"))),
        ("fifo_topic", json!(get("FifoTopic") == Some("true"))),
        ("policy", policy),
        ("delivery_status_logging", json!(logging)),
        (
            "subscriptions_confirmed",
            json!(count("SubscriptionsConfirmed")),
        ),
        (
            "subscriptions_pending",
            json!(count("SubscriptionsPending")),
        ),
    ]
}

fn subscription(sub: &Subscription) -> Value {
    // A subscription awaiting confirmation has the ARN `PendingConfirmation`.
    let arn = sub.subscription_arn().filter(|a| a.starts_with("arn:"));
    json!({
        "subscription_arn": arn,
        "protocol": sub.protocol(),
        "owner": sub.owner(),
        "pending_confirmation": arn.is_none(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_become_the_body_fields() {
        let a: HashMap<String, String> = [
            ("KmsMasterKeyId", "alias/aws/sns"),
            ("HTTPFailureFeedbackRoleArn", "arn:aws:iam::1:role/sns-logs"),
            ("HTTPSuccessFeedbackRoleArn", "arn:aws:iam::1:role/sns-logs"),
            ("SQSSuccessFeedbackRoleArn", "arn:aws:iam::1:role/sns-logs"),
            ("SubscriptionsConfirmed", "3"),
            ("DisplayName", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut m = Misses::default();
        let fields: HashMap<&str, Value> = topic_attributes(&a, &mut m).into_iter().collect();
        assert_eq!(fields["kms_master_key_id"], json!("alias/aws/sns"));
        // Only failure logging counts: success logging alone does not record failed deliveries.
        assert_eq!(fields["delivery_status_logging"], json!(["http"]));
        assert_eq!(fields["subscriptions_confirmed"], json!(3));
        assert_eq!(fields["display_name"], Value::Null);
        assert_eq!(fields["policy"], Value::Null);
        assert_eq!(fields["fifo_topic"], json!(false));
        assert!(m.gaps.is_empty());
    }

    #[test]
    fn pending_subscriptions_have_no_arn() {
        let sub = Subscription::builder()
            .subscription_arn("PendingConfirmation")
            .protocol("http")
            .endpoint("http://example.com/")
            .build();
        assert_eq!(
            subscription(&sub),
            json!({"subscription_arn": null, "protocol": "http", "owner": null, "pending_confirmation": true})
        );
    }
}
