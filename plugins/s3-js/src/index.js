// s3-js: S3 bucket-policy analysis written with the JavaScript stance-sdk.
// Five rules on `aws_s3_bucket` bodies: public principals, untrusted
// accounts, TLS-only access, cross-account writes and Allow with NotPrincipal.

import { definePolicy, Severity } from "stance-sdk";
import { allowNotPrincipal, crossAccountWrite, publicPrincipal, tlsOnly, untrustedAccount } from "./checks.js";

const BUCKETS = ["aws_s3_bucket"];
const S3_POLICY_DOCS = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-bucket-policies.html";

export const policyPlugin = definePolicy({
  name: "s3-js",
  version: "0.1.0",
  description: "S3 bucket-policy analysis: public principals, foreign accounts, TLS, cross-account writes",
  settings: [
    {
      name: "trusted_accounts",
      kind: "array",
      required: false,
      default: [],
      description: "12-digit account ids allowed in bucket policies besides the bucket's own account",
    },
  ],
  validate(settings) {
    const bad = settings.trusted_accounts.filter((a) => typeof a !== "string" || !/^\d{12}$/.test(a));
    if (bad.length > 0) {
      throw new Error(`trusted_accounts must hold 12-digit account ids as strings; not: ${JSON.stringify(bad)}`);
    }
  },
  rules: [
    {
      id: "s3-js-public-principal",
      title: "Bucket policy does not allow everyone without a narrowing condition",
      description:
        'An Allow to Principal "*" (or {"AWS": "*"}) opens the bucket to anyone on the internet unless a condition pins the callers ' +
        "(a VPC endpoint, source IPs, the organization, a source account). IfExists and ForAllValues tests do not pin: they hold when the key is absent. " +
        "Read-only exposure is reported as high, public write as critical. RestrictPublicBuckets neutralises such statements.",
      severity: Severity.Critical,
      resourceTypes: BUCKETS,
      reads: ["policy", "public_access_block"],
      compliance: [
        { framework: "aws-fsbp", version: "1.0.0", control: "S3.2" },
        { framework: "nist-800-53", version: "rev5", control: "AC-3" },
      ],
      remediation: {
        guidance: "Remove the public statement, or add a condition on aws:SourceVpce, aws:SourceIp or aws:PrincipalOrgID; enable Block Public Access.",
        cli: "aws s3api put-public-access-block --bucket BUCKET --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true",
        references: [S3_POLICY_DOCS],
      },
      tags: ["s3", "exposure"],
      check: publicPrincipal,
    },
    {
      id: "s3-js-untrusted-account",
      title: "Bucket policy grants access only to this account and trusted accounts",
      description: "Every AWS principal named in an Allow belongs to the bucket's own account or to an account listed in the trusted_accounts setting.",
      severity: Severity.High,
      resourceTypes: BUCKETS,
      reads: ["policy"],
      remediation: {
        guidance: "Remove the foreign principal from the bucket policy, or add its account to trusted_accounts once the sharing is approved.",
        references: [S3_POLICY_DOCS],
      },
      tags: ["s3", "cross-account"],
      check: untrustedAccount,
    },
    {
      id: "s3-js-tls-only",
      title: "Bucket policy denies requests that do not use TLS",
      description: 'A Deny of "s3:*" to "*" on the bucket\'s objects with {"Bool": {"aws:SecureTransport": "false"}} keeps data off plain HTTP.',
      severity: Severity.Medium,
      resourceTypes: BUCKETS,
      reads: ["policy", "name"],
      compliance: [
        { framework: "cis-aws", version: "5.0.0", control: "2.1.1" },
        { framework: "aws-fsbp", version: "1.0.0", control: "S3.5" },
      ],
      remediation: {
        guidance: 'Add a statement: Effect Deny, Principal "*", Action "s3:*", Resource the bucket and bucket/*, Condition Bool aws:SecureTransport "false".',
        references: ["https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html"],
      },
      tags: ["s3", "encryption-in-transit"],
      check: tlsOnly,
    },
    {
      id: "s3-js-cross-account-write",
      title: "Bucket policy does not let other accounts write or delete",
      description:
        "No Allow grants write, delete or access-changing actions (s3:Put*, s3:Delete*, s3:*...) to principals outside the bucket's account, " +
        'including "*" unless a condition pins the caller to the bucket\'s account. Critical for everyone, medium when every grantee is trusted.',
      severity: Severity.High,
      resourceTypes: BUCKETS,
      reads: ["policy"],
      remediation: {
        guidance: "Grant other accounts read actions only, or have them write through a role in this account that they assume.",
        references: [S3_POLICY_DOCS],
      },
      tags: ["s3", "cross-account"],
      check: crossAccountWrite,
    },
    {
      id: "s3-js-allow-not-principal",
      title: "Bucket policy does not combine Allow with NotPrincipal",
      description: "Allow with NotPrincipal grants every principal not listed, anonymous callers included. Use NotPrincipal only with Deny.",
      severity: Severity.High,
      resourceTypes: BUCKETS,
      reads: ["policy"],
      remediation: {
        guidance: "Rewrite the statement with an explicit Principal list.",
        references: ["https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html"],
      },
      tags: ["s3", "exposure"],
      check: allowNotPrincipal,
    },
  ],
});
