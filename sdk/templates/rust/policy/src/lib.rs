//! {{name}}: a Stance policy plugin. One rule: S3 buckets keep object
//! versions, except in the environments the settings exempt.

use stance_sdk::prelude::*;

const RULE: &str = "{{name}}-versioning";

struct Plugin;

/// Values of the `Environment` tag whose buckets are not judged.
fn exempt_environments() -> Result<Vec<String>, PluginError> {
    let settings = stance_sdk::settings::json()?;
    match settings.get("exempt_environments") {
        None => Ok(vec!["dev".into(), "sandbox".into()]),
        Some(Value::Array(v)) => v
            .iter()
            .map(|e| {
                e.as_str()
                    .map(str::to_lowercase)
                    .ok_or_else(|| PluginError::new("exempt_environments: every entry must be a string"))
            })
            .collect(),
        Some(_) => Err(PluginError::new("exempt_environments must be a list of strings")),
    }
}

impl Policy for Plugin {
    fn describe() -> Result<PluginInfo, PluginError> {
        exempt_environments()?; // refuse bad settings before going live
        Ok(PluginInfo::new("{{name}}", env!("CARGO_PKG_VERSION"))
            .description("S3 buckets keep object versions")
            .setting("exempt_environments", "array", false, "values of the Environment tag whose buckets are not judged (default: dev, sandbox)")
            .rule(
                RuleInfo::new(RULE, "S3 buckets keep object versions", Severity::Medium)
                    .description("Without versioning an overwrite or a delete cannot be undone.")
                    .resource_types(["aws_s3_bucket"])
                    .reads(["versioning.status"])
                    .remediation(
                        "Enable versioning: aws s3api put-bucket-versioning --bucket NAME --versioning-configuration Status=Enabled",
                        &["https://docs.aws.amazon.com/AmazonS3/latest/userguide/Versioning.html"],
                    ),
            ))
    }

    fn evaluate(batch: Vec<Asset>) -> Result<Vec<Finding>, PluginError> {
        let exempt = exempt_environments()?;
        let mut findings = Vec::new();
        for asset in &batch {
            let environment = asset
                .tags
                .iter()
                .find(|t| t.key.eq_ignore_ascii_case("environment"))
                .map(|t| t.value.to_lowercase());
            if environment.is_some_and(|e| exempt.contains(&e)) {
                continue; // not ours to judge
            }
            let body = asset.body_json()?;
            let status = field(&body, "versioning.status").cloned().unwrap_or(Value::Null);
            findings.push(if status == "Enabled" {
                Finding::pass(RULE, asset)
            } else {
                Finding::fail(RULE, asset, format!("bucket {} keeps no object versions", asset.name))
                    .with_evidence("resource.versioning.status", &status, "== 'Enabled'")
            });
        }
        Ok(findings)
    }
}

stance_sdk::export_policy!(Plugin);
