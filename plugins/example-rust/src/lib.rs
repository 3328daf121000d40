//! Example Stance policy plugin written with `stance-sdk`: tag governance.
//!
//! Two rules driven by settings: every resource carries the required tags,
//! and every regional resource lives in an allowed region.

use serde::Deserialize;
use stance_sdk::prelude::*;

const REQUIRED_TAGS: &str = "example-required-tags";
const ALLOWED_REGIONS: &str = "example-allowed-regions";
const TAGGED_TYPES: [&str; 5] = [
    "aws_s3_bucket",
    "aws_ec2_instance",
    "aws_ec2_volume",
    "aws_rds_db_instance",
    "aws_kms_key",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default = "default_tags")]
    required_tags: Vec<String>,
    /// Empty means every region is allowed.
    #[serde(default)]
    allowed_regions: Vec<String>,
}

fn default_tags() -> Vec<String> {
    vec!["owner".to_string(), "environment".to_string()]
}

struct TagGovernance;

impl Policy for TagGovernance {
    fn describe() -> Result<PluginInfo, PluginError> {
        let _: Settings = stance_sdk::settings::get()?;
        Ok(PluginInfo::new("example-rust", env!("CARGO_PKG_VERSION"))
            .description("Tag governance: required tags and allowed regions")
            .setting("required_tags", "array", false, "tag keys every resource must carry (default: owner, environment)")
            .setting("allowed_regions", "array", false, "regions resources may live in; empty allows all")
            .rule(
                RuleInfo::new(REQUIRED_TAGS, "Resources carry the required tags", Severity::Low)
                    .description("Untagged resources have no owner to page when they misbehave.")
                    .resource_types(TAGGED_TYPES)
                    .compliance("nist-800-53", "rev5", "CM-8")
                    .remediation("Add the missing tags, e.g. `aws resourcegroupstaggingapi tag-resources`.", &[
                        "https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html",
                    ])
                    .tags(["governance"]),
            )
            .rule(
                RuleInfo::new(ALLOWED_REGIONS, "Resources live in allowed regions", Severity::Medium)
                    .description("Resources outside the approved regions escape the organisation's data-residency controls.")
                    .resource_types(["*"])
                    .remediation("Move or delete the resource, or add the region to `allowed_regions`.", &[])
                    .tags(["governance"]),
            ))
    }

    fn evaluate(batch: Vec<Asset>) -> Result<Vec<Finding>, PluginError> {
        let settings: Settings = stance_sdk::settings::get()?;
        let mut findings = Vec::with_capacity(batch.len() * 2);
        for asset in &batch {
            if Self::describe_types()
                .iter()
                .any(|t| *t == asset.resource_type)
            {
                findings.push(required_tags(&settings, asset));
            }
            if asset.region != "global" {
                findings.push(allowed_region(&settings, asset));
            }
        }
        Ok(findings)
    }
}

impl TagGovernance {
    fn describe_types() -> [&'static str; 5] {
        [
            "aws_s3_bucket",
            "aws_ec2_instance",
            "aws_ec2_volume",
            "aws_rds_db_instance",
            "aws_kms_key",
        ]
    }
}

fn required_tags(settings: &Settings, asset: &Asset) -> Finding {
    let missing: Vec<&str> = settings
        .required_tags
        .iter()
        .map(String::as_str)
        .filter(|key| asset.tag(key).is_none_or(|v| v.trim().is_empty()))
        .collect();
    if missing.is_empty() {
        return Finding::pass(REQUIRED_TAGS, asset);
    }
    let present: serde_json::Map<String, Value> = asset
        .tags
        .iter()
        .map(|t| (t.key.clone(), Value::String(t.value.clone())))
        .collect();
    Finding::fail(
        REQUIRED_TAGS,
        asset,
        format!("{} lacks tag(s): {}", asset.name, missing.join(", ")),
    )
    .with_evidence(
        "asset.tags",
        &Value::Object(present),
        &format!("has keys {}", settings.required_tags.join(", ")),
    )
}

fn allowed_region(settings: &Settings, asset: &Asset) -> Finding {
    if settings.allowed_regions.is_empty() || settings.allowed_regions.contains(&asset.region) {
        return Finding::pass(ALLOWED_REGIONS, asset);
    }
    Finding::fail(
        ALLOWED_REGIONS,
        asset,
        format!(
            "{} is in {}, outside the allowed regions",
            asset.name, asset.region
        ),
    )
    .with_evidence(
        "asset.region",
        &json!(asset.region),
        &format!("in {:?}", settings.allowed_regions),
    )
}

stance_sdk::export_policy!(TagGovernance);
