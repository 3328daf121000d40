// {{name}}: a Stance policy plugin. Two rules on S3 buckets: versioning is
// on, and the bucket carries the tags the `required_tags` setting names.

import { definePolicy, fail, pass, Severity } from "stance-sdk";

export const policyPlugin = definePolicy({
  name: "{{name}}",
  version: "0.1.0",
  description: "S3 bucket hygiene: versioning and required tags",
  settings: [
    {
      name: "required_tags",
      kind: "array",
      default: ["Owner"],
      description: "tag keys every bucket must carry (default: Owner)",
    },
  ],
  rules: [
    {
      id: "{{name}}-versioning",
      title: "S3 bucket keeps object versions",
      description: "Versioning lets you recover objects that were overwritten or deleted.",
      severity: Severity.Medium,
      resourceTypes: ["aws_s3_bucket"],
      reads: ["versioning.status"],
      remediation: {
        guidance: "Enable versioning on the bucket.",
        cli: "aws s3api put-bucket-versioning --bucket BUCKET --versioning-configuration Status=Enabled",
        references: ["https://docs.aws.amazon.com/AmazonS3/latest/userguide/Versioning.html"],
      },
      check(asset) {
        if (asset.fieldString("versioning.status") === "Enabled") return pass();
        return fail(`${asset.name} keeps no object versions`).withField(asset, "versioning.status", "== 'Enabled'");
      },
    },
    {
      id: "{{name}}-required-tags",
      title: "S3 bucket carries the required tags",
      severity: Severity.Low,
      resourceTypes: ["aws_s3_bucket"],
      remediation: "Tag the bucket, e.g. `aws s3api put-bucket-tagging`.",
      check(asset, ctx) {
        const missing = ctx.settings.required_tags.filter((key) => !asset.tag(key)?.trim());
        if (missing.length === 0) return pass();
        return fail(`${asset.name} lacks tag(s): ${missing.join(", ")}`).withEvidence(
          "asset.tags",
          asset.tags,
          `has keys ${ctx.settings.required_tags.join(", ")}`,
        );
      },
    },
  ],
});
