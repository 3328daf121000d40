//! ECR: the region's private repositories with their tag mutability, scan on
//! push (and the registry's scanning rules that match them), encryption,
//! lifecycle policy, repository policy (normalized) and tags.
//! Never reads images or their scan findings.

use aws_sdk_ecr::Client;
use aws_sdk_ecr::types::{RegistryScanningConfiguration, Repository};
use futures::StreamExt;
use serde_json::{Value, json};
use stance_model::Asset;

use crate::toolkit::doc::{self, s};
use crate::toolkit::errors::is_not_found;
use crate::toolkit::record::{Failed, Misses};
use crate::toolkit::{Output, Target};

const SERVICE: &str = "ecr";
const REPOSITORY: &str = "aws_ecr_repository";

pub(crate) async fn collect(target: &Target) -> Output {
    let mut out = Output::default();
    if target.covered(REPOSITORY) {
        return out;
    }
    let c = Client::new(&target.sdk);
    let pages = c.describe_repositories().into_paginator().send();
    let (repos, scanning) = tokio::join!(
        target.items(pages, |p| p.repositories.unwrap_or_default()),
        target.call(c.get_registry_scanning_configuration().send()),
    );
    let repos: Vec<Repository> = match repos {
        Ok(r) => r,
        Err(e) => {
            out.errors
                .push(target.sdk_error(SERVICE, "DescribeRepositories", &e, &[REPOSITORY]));
            return out;
        }
    };
    let scanning = scanning.map_err(|e| Failed::sdk("GetRegistryScanningConfiguration", &e));
    let (c, scanning) = (&c, &scanning);
    let results: Vec<Option<(Asset, Vec<Failed>)>> = futures::stream::iter(repos)
        .filter(|r| std::future::ready(r.repository_name().is_some()))
        .map(|r| repository(target, c, r, scanning))
        .buffer_unordered(8)
        .collect()
        .await;
    out.add_detailed(target, SERVICE, "repositories", results.into_iter().flatten());
    out
}

/// Does an ECR repository filter (`*` matches any run of characters) match `name`?
fn wildcard_match(filter: &str, name: &str) -> bool {
    let parts: Vec<&str> = filter.split('*').collect();
    if parts.len() == 1 {
        return filter == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// The registry's scan type and the frequency of its first rule whose
/// filters match the repository (null when no rule does).
fn registry_scanning(config: Option<&RegistryScanningConfiguration>, name: &str) -> Value {
    let Some(config) = config else {
        return json!({"scan_type": null, "scan_frequency": null});
    };
    let frequency = config
        .rules()
        .iter()
        .find(|r| {
            r.repository_filters()
                .iter()
                .any(|f| wildcard_match(f.filter(), name))
        })
        .map(|r| r.scan_frequency().as_str());
    json!({
        "scan_type": config.scan_type().map(|t| t.as_str()),
        "scan_frequency": frequency,
    })
}

/// One repository; `None` when it was deleted since it was listed.
async fn repository(
    target: &Target,
    c: &Client,
    r: Repository,
    scanning: &Result<aws_sdk_ecr::operation::get_registry_scanning_configuration::GetRegistryScanningConfigurationOutput, Failed>,
) -> Option<(Asset, Vec<Failed>)> {
    let name = r.repository_name().unwrap_or_default().to_string();
    let arn = r.repository_arn().map_or_else(
        || {
            format!(
                "arn:{}:ecr:{}:{}:repository/{name}",
                target.partition(),
                target.region,
                target.account
            )
        },
        str::to_string,
    );
    let (lifecycle, policy, tags) = tokio::join!(
        target.call(c.get_lifecycle_policy().repository_name(&name).send()),
        target.call(c.get_repository_policy().repository_name(&name).send()),
        target.call(c.list_tags_for_resource().resource_arn(&arn).send()),
    );
    let mut m = Misses::default();
    let gone = ["RepositoryNotFoundException"];
    let lifecycle = match lifecycle {
        Ok(l) => match l.lifecycle_policy_text().map(serde_json::from_str::<Value>) {
            Some(Ok(doc)) => doc,
            Some(Err(e)) => m.gap(
                &["lifecycle_policy"],
                Failed::other(
                    "GetLifecyclePolicy",
                    format!("the lifecycle policy is not JSON: {e}"),
                ),
            ),
            None => Value::Null,
        },
        Err(e) if is_not_found(&e, &["LifecyclePolicyNotFoundException"]) => Value::Null,
        Err(e) if is_not_found(&e, &gone) => return None,
        Err(e) => m.sdk(&["lifecycle_policy"], "GetLifecyclePolicy", &e),
    };
    let policy = match policy {
        Ok(p) => match p.policy_text().map(doc::policy) {
            Some(Ok(doc)) => doc,
            Some(Err(message)) => m.gap(&["policy"], Failed::other("GetRepositoryPolicy", message)),
            None => Value::Null,
        },
        Err(e) if is_not_found(&e, &["RepositoryPolicyNotFoundException"]) => Value::Null,
        Err(e) if is_not_found(&e, &gone) => return None,
        Err(e) => m.sdk(&["policy"], "GetRepositoryPolicy", &e),
    };
    let tags = match tags {
        Ok(t) => doc::tags(t.tags(), |t| (t.key(), t.value())),
        Err(e) => {
            m.fail(Failed::sdk("ListTagsForResource", &e));
            Vec::new()
        }
    };
    let registry = match scanning {
        Ok(s) => registry_scanning(s.scanning_configuration(), &name),
        Err(failed) => m.gap(&["registry_scanning"], failed.clone()),
    };
    let body = repository_body(&r, &name, &arn, registry, lifecycle, policy);
    let asset = target.asset(&target.region, arn, REPOSITORY, name, tags, body, m.gaps);
    Some((asset, m.failed))
}

/// A repository's body, from its listing and the documents read for it.
fn repository_body(
    r: &Repository,
    name: &str,
    arn: &str,
    registry_scanning: Value,
    lifecycle_policy: Value,
    policy: Value,
) -> Value {
    json!({
        "repository_name": name,
        "arn": arn,
        "registry_id": r.registry_id(),
        "repository_uri": r.repository_uri(),
        "created_at": doc::time(r.created_at()),
        "image_tag_mutability": r.image_tag_mutability().map(|v| v.as_str()),
        "image_scanning_configuration": r.image_scanning_configuration().map(|i| json!({
            "scan_on_push": i.scan_on_push(),
        })),
        "registry_scanning": registry_scanning,
        "encryption_configuration": r.encryption_configuration().map(|e| json!({
            "encryption_type": e.encryption_type().as_str(),
            "kms_key": s(e.kms_key()),
        })),
        "lifecycle_policy": lifecycle_policy,
        "policy": policy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_filters_match_with_wildcards() {
        assert!(wildcard_match("*", "anything"));
        assert!(wildcard_match("prod-*", "prod-api"));
        assert!(!wildcard_match("prod-*", "dev-api"));
        assert!(wildcard_match("*-api", "prod-api"));
        assert!(wildcard_match("a*b*c", "a-x-b-y-c"));
        assert!(!wildcard_match("a*b*c", "a-x-c"));
        assert!(wildcard_match("exact", "exact"));
        assert!(!wildcard_match("exact", "exactly"));
        assert!(!wildcard_match("ab*ba", "aba"));
    }
}
