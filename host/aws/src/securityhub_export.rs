//! The Security Hub client that Stance's exporter (`notify::securityhub` in
//! the host) sends through: the caller's account (STS GetCallerIdentity),
//! one `BatchImportFindings` call, and the conversion of ASFF JSON
//! documents into the SDK's typed findings. Credentials, region and endpoint
//! (`AWS_ENDPOINT_URL`) come from the same configuration as collection
//! ([`crate::toolkit::sdk`]). It makes exactly the call it is asked to: no
//! retries of its own (the exporter paces and retries), no batching, and it
//! never reads or writes anything else. The only module of this crate that
//! writes to AWS.

use std::collections::HashMap;

use aws_config::retry::RetryConfig;
use aws_sdk_securityhub::types::{
    AwsSecurityFinding, Compliance, FindingProviderFields, FindingProviderSeverity, Note,
    Recommendation, Remediation, Resource, Severity, Workflow,
};
use serde_json::Value;

use crate::toolkit::{errors::classify, sdk};
use crate::{AwsError, AwsOptions};

/// Why a call to Security Hub failed.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// No usable credentials, or they do not identify an account.
    #[error("{0}")]
    Identity(#[from] AwsError),
    /// The credentials may not import findings (or the account has no hub).
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// Throttled, timed out or unreachable: worth another try later.
    #[error("{0}")]
    Retryable(String),
    /// Anything else (a malformed request, an unsupported endpoint).
    #[error("{0}")]
    Other(String),
    /// A document is not an ASFF finding this client can send.
    #[error("finding {id}: {message}")]
    Document {
        /// The document's `Id`.
        id: String,
        /// What is wrong with it.
        message: String,
    },
}

/// A finding Security Hub did not accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedFinding {
    /// The finding's `Id`.
    pub id: String,
    /// Security Hub's error code (`InvalidInput`, `LimitExceeded`, …).
    pub code: String,
    /// Its message.
    pub message: String,
}

/// A Security Hub client for one account and region.
pub struct SecurityHub {
    client: aws_sdk_securityhub::Client,
    account: String,
    region: String,
}

impl SecurityHub {
    /// Resolve credentials and region as collection does (`profile`; the
    /// region given, else the SDK's chain) and identify the caller's account.
    pub async fn connect(
        profile: Option<String>,
        region: Option<String>,
    ) -> Result<Self, HubError> {
        let opts = AwsOptions {
            profile,
            regions: region.into_iter().collect(),
            ..AwsOptions::default()
        };
        let base = sdk::base_config(&opts).await?;
        let sts = aws_sdk_sts::Client::new(&base);
        let identity = sts.get_caller_identity().send().await.map_err(|e| {
            let (kind, message) = classify(&e);
            match kind {
                "access-denied" => HubError::AccessDenied(format!("GetCallerIdentity: {message}")),
                _ => HubError::Identity(AwsError::Identity(message)),
            }
        })?;
        let account = identity.account().map(str::to_string).ok_or_else(|| {
            HubError::Identity(AwsError::Identity("no account in the answer".into()))
        })?;
        let region = base
            .region()
            .map_or_else(|| "us-east-1".to_string(), |r| r.to_string());
        // One attempt per call: the exporter paces its calls and retries
        // throttled ones itself, with the batch's failed findings only.
        let config = aws_sdk_securityhub::config::Builder::from(&base)
            .retry_config(RetryConfig::standard().with_max_attempts(1))
            .build();
        Ok(SecurityHub {
            client: aws_sdk_securityhub::Client::from_conf(config),
            account,
            region,
        })
    }

    /// The caller's account.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The region the findings go to.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// One `BatchImportFindings` call with `documents` (ASFF JSON): the
    /// findings Security Hub did not accept, or why the call failed.
    pub async fn import(&self, documents: &[Value]) -> Result<Vec<FailedFinding>, HubError> {
        let findings = documents
            .iter()
            .map(finding)
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .batch_import_findings()
            .set_findings(Some(findings))
            .send()
            .await
            .map_err(|e| {
                let (kind, message) = classify(&e);
                // An emulator may answer a denial with a body the SDK cannot read: 403 says it.
                let forbidden = e.raw_response().is_some_and(|r| r.status().as_u16() == 403);
                match kind {
                    _ if forbidden => {
                        HubError::AccessDenied(format!("BatchImportFindings: {message}"))
                    }
                    "access-denied" => {
                        HubError::AccessDenied(format!("BatchImportFindings: {message}"))
                    }
                    "throttled" | "timeout" | "network" => HubError::Retryable(message),
                    _ if message.contains("LimitExceeded")
                        || message.contains("InternalException") =>
                    {
                        HubError::Retryable(message)
                    }
                    _ => HubError::Other(format!("BatchImportFindings: {message}")),
                }
            })?;
        Ok(out
            .failed_findings()
            .iter()
            .map(|f| FailedFinding {
                id: f.id().unwrap_or_default().to_string(),
                code: f.error_code().unwrap_or_default().to_string(),
                message: f.error_message().unwrap_or_default().to_string(),
            })
            .collect())
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn string_map(v: &Value, key: &str) -> Option<HashMap<String, String>> {
    v.get(key).and_then(Value::as_object).map(|m| {
        m.iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect()
    })
}

/// The top-level ASFF attributes this client sends; any other is refused,
/// so that nothing Stance writes is dropped on the way.
const KNOWN: &[&str] = &[
    "SchemaVersion",
    "Id",
    "ProductArn",
    "ProductName",
    "CompanyName",
    "GeneratorId",
    "AwsAccountId",
    "Types",
    "CreatedAt",
    "UpdatedAt",
    "FirstObservedAt",
    "LastObservedAt",
    "Severity",
    "Title",
    "Description",
    "Remediation",
    "ProductFields",
    "Resources",
    "Compliance",
    "Workflow",
    "RecordState",
    "Note",
    "FindingProviderFields",
];

/// The SDK's finding for an ASFF document.
pub fn finding(doc: &Value) -> Result<AwsSecurityFinding, HubError> {
    let id = text(doc, "Id").unwrap_or_default();
    let Some(object) = doc.as_object() else {
        return Err(HubError::Document {
            id,
            message: "not a JSON object".into(),
        });
    };
    if let Some(unknown) = object.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(HubError::Document {
            id,
            message: format!("attribute {unknown} is not supported by the exporter"),
        });
    }
    let b = AwsSecurityFinding::builder()
        .set_schema_version(text(doc, "SchemaVersion"))
        .set_id(text(doc, "Id"))
        .set_product_arn(text(doc, "ProductArn"))
        .set_product_name(text(doc, "ProductName"))
        .set_company_name(text(doc, "CompanyName"))
        .set_generator_id(text(doc, "GeneratorId"))
        .set_aws_account_id(text(doc, "AwsAccountId"))
        .set_types(Some(strings(doc, "Types")).filter(|t| !t.is_empty()))
        .set_created_at(text(doc, "CreatedAt"))
        .set_updated_at(text(doc, "UpdatedAt"))
        .set_first_observed_at(text(doc, "FirstObservedAt"))
        .set_last_observed_at(text(doc, "LastObservedAt"))
        .set_title(text(doc, "Title"))
        .set_description(text(doc, "Description"))
        .set_product_fields(string_map(doc, "ProductFields"))
        .set_record_state(text(doc, "RecordState").map(|s| s.as_str().into()));
    let b = b
        .set_severity(doc.get("Severity").map(severity))
        .set_remediation(doc.get("Remediation").map(remediation))
        .set_resources(Some(resources(doc)))
        .set_compliance(doc.get("Compliance").map(compliance))
        .set_workflow(doc.get("Workflow").map(|w| {
            Workflow::builder()
                .set_status(text(w, "Status").map(|s| s.as_str().into()))
                .build()
        }))
        .set_note(doc.get("Note").map(|n| {
            Note::builder()
                .set_text(text(n, "Text"))
                .set_updated_by(text(n, "UpdatedBy"))
                .set_updated_at(text(n, "UpdatedAt"))
                .build()
        }))
        .set_finding_provider_fields(doc.get("FindingProviderFields").map(provider_fields));
    Ok(b.build())
}

fn severity(v: &Value) -> Severity {
    Severity::builder()
        .set_label(text(v, "Label").map(|s| s.as_str().into()))
        .set_original(text(v, "Original"))
        .build()
}

fn remediation(v: &Value) -> Remediation {
    let rec = v.get("Recommendation").map(|r| {
        Recommendation::builder()
            .set_text(text(r, "Text"))
            .set_url(text(r, "Url"))
            .build()
    });
    Remediation::builder().set_recommendation(rec).build()
}

fn resources(doc: &Value) -> Vec<Resource> {
    doc.get("Resources")
        .and_then(Value::as_array)
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    Resource::builder()
                        .set_type(text(r, "Type"))
                        .set_id(text(r, "Id"))
                        .set_partition(text(r, "Partition").map(|s| s.as_str().into()))
                        .set_region(text(r, "Region"))
                        .set_tags(string_map(r, "Tags"))
                        .build()
                })
                .collect()
        })
        .unwrap_or_default()
}

fn compliance(v: &Value) -> Compliance {
    Compliance::builder()
        .set_status(text(v, "Status").map(|s| s.as_str().into()))
        .set_related_requirements(Some(strings(v, "RelatedRequirements")).filter(|r| !r.is_empty()))
        .build()
}

fn provider_fields(v: &Value) -> FindingProviderFields {
    let severity = v.get("Severity").map(|s| {
        FindingProviderSeverity::builder()
            .set_label(text(s, "Label").map(|l| l.as_str().into()))
            .set_original(text(s, "Original"))
            .build()
    });
    FindingProviderFields::builder()
        .set_severity(severity)
        .set_types(Some(strings(v, "Types")).filter(|t| !t.is_empty()))
        .build()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_asff_document_becomes_the_sdk_finding_field_by_field() {
        let doc = json!({
            "SchemaVersion": "2018-10-08",
            "Id": "stance/abc",
            "ProductArn": "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default",
            "ProductName": "Stance", "CompanyName": "Stance",
            "GeneratorId": "aws-s3-bucket-versioning-enabled",
            "AwsAccountId": "123456789012",
            "Types": ["Software and Configuration Checks/AWS Security Best Practices"],
            "CreatedAt": "2026-11-01T00:00:00Z", "UpdatedAt": "2026-11-20T09:30:00Z",
            "FirstObservedAt": "2026-11-01T00:00:00Z", "LastObservedAt": "2026-11-20T09:30:00Z",
            "Severity": {"Label": "HIGH", "Original": "high"},
            "Title": "t", "Description": "d",
            "Remediation": {"Recommendation": {"Text": "fix", "Url": "https://example.com"}},
            "ProductFields": {"stance/RuleId": "r"},
            "Resources": [{"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::b", "Partition": "aws",
                           "Region": "us-east-1", "Tags": {"env": "prod"}}],
            "Compliance": {"Status": "FAILED", "RelatedRequirements": ["cis-aws 5.0.0/2.1.1"]},
            "Workflow": {"Status": "SUPPRESSED"},
            "RecordState": "ACTIVE",
            "Note": {"Text": "muted", "UpdatedBy": "stance", "UpdatedAt": "2026-11-20T09:30:00Z"},
            "FindingProviderFields": {"Severity": {"Label": "HIGH", "Original": "high"},
                                      "Types": ["Software and Configuration Checks/AWS Security Best Practices"]},
        });
        let f = finding(&doc).unwrap();
        assert_eq!(f.id(), Some("stance/abc"));
        assert_eq!(f.generator_id(), Some("aws-s3-bucket-versioning-enabled"));
        assert_eq!(
            f.severity().and_then(|s| s.label()).map(|l| l.as_str()),
            Some("HIGH")
        );
        assert_eq!(f.record_state().map(|s| s.as_str()), Some("ACTIVE"));
        assert_eq!(
            f.workflow().and_then(|w| w.status()).map(|s| s.as_str()),
            Some("SUPPRESSED")
        );
        assert_eq!(
            f.compliance().and_then(|c| c.status()).map(|s| s.as_str()),
            Some("FAILED")
        );
        assert_eq!(
            f.compliance().unwrap().related_requirements(),
            ["cis-aws 5.0.0/2.1.1"]
        );
        let r = &f.resources()[0];
        assert_eq!(r.r#type(), Some("AwsS3Bucket"));
        assert_eq!(r.partition().map(|p| p.as_str()), Some("aws"));
        assert_eq!(
            r.tags().and_then(|t| t.get("env")).map(String::as_str),
            Some("prod")
        );
        assert_eq!(f.note().and_then(|n| n.text()), Some("muted"));
        assert_eq!(
            f.remediation()
                .and_then(|r| r.recommendation())
                .and_then(|r| r.url()),
            Some("https://example.com")
        );
        assert_eq!(
            f.product_fields()
                .and_then(|p| p.get("stance/RuleId"))
                .map(String::as_str),
            Some("r")
        );
        assert_eq!(f.finding_provider_fields().unwrap().types().len(), 1);
    }

    #[test]
    fn an_attribute_the_client_cannot_send_is_refused_not_dropped() {
        let err = finding(&json!({"Id": "x", "Vulnerabilities": []})).unwrap_err();
        assert!(err.to_string().contains("Vulnerabilities"), "{err}");
    }
}
