"""{{name}}: a Stance policy plugin (S3 buckets keep versions and name an owner).

Each rule is a function of one asset returning a Finding; `stance plugin build`
compiles this module with componentize-py into dist/{{name}}.wasm.
"""

from stance_sdk import Asset, Finding, Policy, Settings, Severity

policy = Policy("{{name}}", "0.1.0", description="S3 bucket checks: versioning and an owner tag")
policy.setting(
    "owner_tag",
    "string",
    description="tag key that names a bucket's owning team (default Owner)",
    default="Owner",
)


@policy.check_settings
def _check(settings: Settings) -> None:
    if not (settings.get_str("owner_tag") or "").strip():
        raise ValueError("owner_tag must not be empty")


@policy.rule(
    "{{name}}-s3-versioning",
    title="S3 bucket has versioning enabled",
    severity=Severity.MEDIUM,
    resource_types=["aws_s3_bucket"],
    description="Versioning keeps overwritten and deleted objects recoverable.",
    remediation="Enable versioning: aws s3api put-bucket-versioning --bucket NAME "
    "--versioning-configuration Status=Enabled",
    reads=["versioning.status"],
)
def versioning(asset: Asset) -> Finding:
    status = asset.field_str("versioning.status")
    if status == "Enabled":
        return Finding.pass_()
    return Finding.fail(f"{asset.name} does not keep object versions").with_evidence(
        "resource.versioning.status", status, "== 'Enabled'"
    )


@policy.rule(
    "{{name}}-s3-owner-tag",
    title="S3 bucket names its owner in a tag",
    severity=Severity.LOW,
    resource_types=["aws_s3_bucket"],
    description="Buckets without an owner tag have nobody to ask before a change.",
    remediation="Tag the bucket with its owning team, e.g. Owner=payments.",
)
def owner_tag(asset: Asset) -> Finding:
    key = policy.settings.get_str("owner_tag") or "Owner"
    if (asset.tag(key) or "").strip():
        return Finding.pass_()
    return Finding.fail(f"{asset.name} has no {key} tag").with_evidence(
        "asset.tags", asset.tags, f"has a non-empty {key!r} tag"
    )


PolicyPlugin = policy.export()
