//! Recording what a collector could not read, the same way for every
//! service: a failed call ([`Failed`]), what it leaves unknown in one asset
//! ([`Misses`]: gaps), and per-resource failures aggregated into one
//! collection error per operation ([`Failures`]). Never calls AWS.

use std::collections::BTreeMap;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde_json::Value;
use stance_model::{CollectionError, Gap};

use super::errors::classify;
use super::output::Output;
use super::target::Target;

/// A failed call: the operation, the kind of failure (as [`classify`] names
/// it) and a message naming the cause.
#[derive(Debug, Clone)]
pub struct Failed {
    pub operation: &'static str,
    pub kind: &'static str,
    pub message: String,
}

impl Failed {
    /// The failure of an SDK call.
    pub fn sdk<E, R>(operation: &'static str, err: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let (kind, message) = classify(err);
        Failed {
            operation,
            kind,
            message,
        }
    }

    /// A call that answered something unusable (a policy that is not JSON, …).
    pub fn other(operation: &'static str, message: String) -> Self {
        Failed {
            operation,
            kind: "other",
            message,
        }
    }

    /// This failure as a collection error of its own, its message prefixed
    /// with `what` (the resource) when given.
    pub fn into_error(self, target: &Target, service: &str, what: Option<&str>) -> CollectionError {
        let message = match what {
            Some(what) => format!("{what}: {}", self.message),
            None => self.message,
        };
        target.error(service, self.operation, self.kind, message, &[])
    }
}

/// A gap: `field` of an asset's body is unknown because `operation` failed.
pub fn gap(field: &str, operation: &str, error: &str) -> Gap {
    Gap {
        field: field.into(),
        operation: operation.into(),
        error: error.into(),
    }
}

/// What one asset could not get: the gaps in its body, and the failed calls
/// behind them (and behind what is not in the body, such as tags).
#[derive(Debug, Default)]
pub struct Misses {
    pub gaps: Vec<Gap>,
    pub failed: Vec<Failed>,
}

impl Misses {
    /// Finish the one asset of a regional setting (GuardDuty detector, Config
    /// recorder, Security Hub hub, …) that exists per account and region
    /// whether or not the service is on: id
    /// `arn:PARTITION:ARN_SERVICE:REGION:ACCOUNT:RESOURCE`, named after the
    /// region, with these misses as its gaps and collection errors.
    #[allow(clippy::too_many_arguments)]
    pub fn regional_setting(
        self,
        target: &Target,
        out: &mut Output,
        service: &str,
        arn_service: &str,
        resource: &str,
        resource_type: &str,
        tags: Vec<(String, String)>,
        body: Value,
    ) {
        let id = format!(
            "arn:{}:{arn_service}:{}:{}:{resource}",
            target.partition(),
            target.region,
            target.account
        );
        out.assets.push(target.asset(
            &target.region,
            id,
            resource_type,
            target.region.clone(),
            tags,
            body,
            self.gaps,
        ));
        out.errors.extend(
            self.failed
                .into_iter()
                .map(|f| f.into_error(target, service, None)),
        );
    }

    /// `failed` left `fields` unknown: a gap in each, the failure once.
    /// Returns the value those fields take (null).
    pub fn gap(&mut self, fields: &[&str], failed: Failed) -> Value {
        for field in fields {
            self.gaps
                .push(gap(field, failed.operation, &failed.message));
        }
        self.failed.push(failed);
        Value::Null
    }

    /// [`Misses::gap`] for a failed SDK call.
    pub fn sdk<E, R>(
        &mut self,
        fields: &[&str],
        operation: &'static str,
        err: &SdkError<E, R>,
    ) -> Value
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        self.gap(fields, Failed::sdk(operation, err))
    }

    /// The value of `field`, or null with the gap its failure leaves.
    pub fn field(&mut self, field: &str, value: Result<Value, Failed>) -> Value {
        match value {
            Ok(v) => v,
            Err(failed) => self.gap(&[field], failed),
        }
    }

    /// A failure that leaves no gap in the body (the asset's tags).
    pub fn fail(&mut self, failed: Failed) {
        self.failed.push(failed);
    }

    /// A gap that is no failure of the collection: a value the answers did
    /// not determine, or a document that could not be read.
    pub fn unknown(&mut self, field: &str, operation: &str, why: &str) -> Value {
        self.gaps.push(gap(field, operation, why));
        Value::Null
    }
}

/// Failures of per-resource calls across many resources, reported once per
/// operation and kind, naming the resources that failed.
#[derive(Debug, Default)]
pub struct Failures(BTreeMap<(&'static str, &'static str), (Vec<String>, String)>);

impl Failures {
    /// `resource` failed `failed.operation` (the first message of each
    /// operation and kind is the one reported).
    pub fn add(&mut self, resource: &str, failed: Failed) {
        self.0
            .entry((failed.operation, failed.kind))
            .or_insert_with(|| (Vec::new(), failed.message))
            .0
            .push(resource.to_string());
    }

    /// Every failure of one resource.
    pub fn add_all(&mut self, resource: &str, failed: impl IntoIterator<Item = Failed>) {
        for f in failed {
            self.add(resource, f);
        }
    }

    /// One collection error per operation and kind: the message, then up to
    /// five of the resources (`what` names them: `buckets`, `keys`, …) in
    /// name order.
    pub fn report(self, target: &Target, service: &str, what: &str) -> Vec<CollectionError> {
        self.0
            .into_iter()
            .map(|((op, kind), (mut names, message))| {
                names.sort();
                let shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
                let more = if names.len() > 5 {
                    format!(" and {} more", names.len() - 5)
                } else {
                    String::new()
                };
                target.error(
                    service,
                    op,
                    kind,
                    format!("{message} ({what} {}{more})", shown.join(", ")),
                    &[],
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_reported_once_per_operation_naming_five_resources_in_order() {
        let mut f = Failures::default();
        for name in ["g", "b", "f", "a", "e", "d", "c"] {
            f.add(
                name,
                Failed {
                    operation: "GetBucketAcl",
                    kind: "access-denied",
                    message: format!("denied {name}"),
                },
            );
        }
        f.add_all("a", [Failed::other("GetBucketPolicy", "not JSON".into())]);
        let errors = f.report(&crate::toolkit::test_target("us-east-1"), "s3", "buckets");
        let messages: Vec<(&str, &str, &str)> = errors
            .iter()
            .map(|e| (e.operation.as_str(), e.kind.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            messages,
            [
                // the first message of an operation and kind is the one kept
                (
                    "GetBucketAcl",
                    "access-denied",
                    "denied g (buckets a, b, c, d, e and 2 more)"
                ),
                ("GetBucketPolicy", "other", "not JSON (buckets a)"),
            ]
        );
        assert!(errors.iter().all(|e| e.resource_types.is_empty()));
    }

    #[test]
    fn misses_leave_a_gap_per_field_and_one_failure() {
        let mut m = Misses::default();
        let v = m.gap(
            &["public", "shared_with_accounts"],
            Failed::other("DescribeSnapshotAttribute", "boom".into()),
        );
        assert!(v.is_null());
        assert_eq!(m.field("x", Ok(Value::Bool(true))), Value::Bool(true));
        m.unknown("root", "GetCredentialReport", "undetermined");
        m.fail(Failed::other("ListTags", "nope".into()));
        let fields: Vec<&str> = m.gaps.iter().map(|g| g.field.as_str()).collect();
        assert_eq!(fields, ["public", "shared_with_accounts", "root"]);
        let ops: Vec<&str> = m.failed.iter().map(|f| f.operation).collect();
        assert_eq!(ops, ["DescribeSnapshotAttribute", "ListTags"]);
    }
}
