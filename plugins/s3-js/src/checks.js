// The five bucket-policy checks on an `aws_s3_bucket` body. Each takes the
// asset and the rule context and returns a verdict; evidence names the
// statement (`resource.policy.Statement[1].Principal`) and the field it read.

import { asList, error, fail, isObject, pass, Severity } from "stance-sdk";
import { accountOf, conditions, effect, globMatcher, grantedActions, isPublic, principals, statements } from "./iam.js";

/** Condition keys that pin who may use a statement or from where. */
const RESTRICTING_KEYS = new Set([
  "aws:sourcevpce",
  "aws:sourcevpc",
  "aws:sourceip",
  "aws:vpcsourceip",
  "aws:principalorgid",
  "aws:principalorgpaths",
  "aws:principalaccount",
  "aws:principalarn",
  "aws:sourceaccount",
  "aws:sourcearn",
  "aws:sourceowner",
  "aws:sourceorgid",
  "aws:sourceorgpaths",
  "aws:userid",
  "aws:username",
]);
const RESTRICTING_LIST = "aws:SourceVpce, aws:SourceVpc, aws:SourceIp, aws:PrincipalOrgID, aws:PrincipalAccount, aws:PrincipalArn, aws:SourceAccount, aws:SourceArn";

/** Operators under which a restricting key narrows the statement (the others widen it). */
const NARROWING_OPERATORS = new Set(["StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike", "IpAddress"]);

/** Actions that change or remove data or the bucket's access settings. */
export const WRITE_ACTIONS = [
  "s3:PutObject",
  "s3:PutObjectAcl",
  "s3:PutObjectTagging",
  "s3:PutObjectRetention",
  "s3:PutObjectLegalHold",
  "s3:DeleteObject",
  "s3:DeleteObjectVersion",
  "s3:DeleteObjectTagging",
  "s3:AbortMultipartUpload",
  "s3:RestoreObject",
  "s3:ReplicateObject",
  "s3:ReplicateDelete",
  "s3:BypassGovernanceRetention",
  "s3:DeleteBucket",
  "s3:PutBucketPolicy",
  "s3:DeleteBucketPolicy",
  "s3:PutBucketAcl",
  "s3:PutBucketPublicAccessBlock",
  "s3:PutBucketOwnershipControls",
  "s3:PutEncryptionConfiguration",
  "s3:PutBucketVersioning",
  "s3:PutLifecycleConfiguration",
  "s3:PutReplicationConfiguration",
  "s3:PutBucketObjectLockConfiguration",
];

/**
 * The bucket's policy statements, `[]` without a policy, or an `error`
 * verdict when the policy field is absent or malformed.
 */
function policyStatements(asset) {
  let doc = asset.field("policy");
  if (doc === undefined) {
    return error("the bucket body has no `policy` field: the bucket policy was not collected").withField(
      asset,
      "policy",
      "an object, or null when the bucket has no policy",
    );
  }
  if (doc === null) return [];
  if (typeof doc === "string") {
    try {
      doc = JSON.parse(doc);
    } catch {
      return error("the bucket policy is text that is not JSON").withField(asset, "policy", "a JSON policy document");
    }
  }
  if (!isObject(doc)) return error("the bucket policy is not an object").withField(asset, "policy", "a JSON policy document");
  const list = statements(doc);
  const bad = list.find((s) => !isObject(s.stmt));
  if (bad) return error(`${bad.path.replace("resource.", "")} is not an object`).withEvidence(bad.path, bad.stmt, "a statement object");
  return list;
}

/** `one` for a single item, `many` otherwise: "Statement[0] grants", "Statement[0], Statement[2] grant". */
function verb(list, one, many) {
  return list.length === 1 ? one : many;
}

/** `Statement[1] "PartnerWrite"`, for messages. */
function label(s) {
  const where = s.path.replace("resource.policy.", "");
  return typeof s.stmt.Sid === "string" && s.stmt.Sid !== "" ? `${where} "${s.stmt.Sid}"` : where;
}

/** The condition test that narrows a public statement to known callers, if any. */
export function restriction(condition) {
  return conditions(condition).find((t) => {
    if (!RESTRICTING_KEYS.has(t.key) || !NARROWING_OPERATORS.has(t.base)) return false;
    // IfExists and ForAllValues hold when the key is absent: an anonymous caller passes them.
    if (t.ifExists || t.set === "ForAllValues" || t.values.length === 0) return false;
    return !t.values.some((v) => {
      const s = String(v);
      return /^[*?]*$/.test(s) || (t.base === "IpAddress" && (s === "0.0.0.0/0" || s === "::/0"));
    });
  });
}

/** The account an ARN or account-id condition value names. */
function valueAccount(v) {
  const s = String(v);
  if (/^\d{12}$/.test(s)) return s;
  const m = /^arn:aws[a-z-]*:[^:]*:[^:]*:(\d{12}):/.exec(s);
  return m ? m[1] : undefined;
}

/** Whether a condition pins the caller to `account` (aws:PrincipalAccount, aws:PrincipalArn...). */
function pinnedTo(condition, account) {
  const keys = new Set(["aws:principalaccount", "aws:sourceaccount", "aws:principalarn", "aws:sourcearn"]);
  return conditions(condition).some(
    (t) =>
      keys.has(t.key) &&
      NARROWING_OPERATORS.has(t.base) &&
      !t.ifExists &&
      t.set !== "ForAllValues" &&
      t.values.length > 0 &&
      t.values.every((v) => valueAccount(v) === account),
  );
}

/** s3-js-public-principal: no Allow to everyone without a narrowing condition. */
export function publicPrincipal(asset) {
  const list = policyStatements(asset);
  if (!Array.isArray(list)) return list;
  const open = list.filter(
    (s) => effect(s.stmt) === "Allow" && principals(s.stmt.Principal).some(isPublic) && !restriction(s.stmt.Condition),
  );
  if (open.length === 0) return pass();
  if (asset.fieldBoolean("public_access_block.restrict_public_buckets") === true) {
    return pass(`${open.map(label).join(", ")} allow everyone, but RestrictPublicBuckets limits access to the owner account and AWS services`)
      .withField(asset, "public_access_block.restrict_public_buckets", "== true");
  }
  const writes = open.some((s) => grantedActions(s.stmt, WRITE_ACTIONS).length > 0);
  const verdict = fail(
    `${open.map(label).join(", ")} ${verb(open, "allows", "allow")} everyone ${writes ? "to write or delete" : "to read"} without a condition that narrows the callers`,
  );
  for (const s of open) {
    verdict
      .withEvidence(`${s.path}.Principal`, s.stmt.Principal, 'not "*" nor {"AWS": "*"} in an Allow')
      .withEvidence(`${s.path}.Condition`, s.stmt.Condition ?? null, `a StringEquals/StringLike/ArnLike/IpAddress test (not IfExists, not ForAllValues) on one of ${RESTRICTING_LIST}`);
  }
  verdict.withField(asset, "public_access_block.restrict_public_buckets", "== true");
  // Read-only exposure is a leak; public write is a takeover.
  return writes ? verdict : verdict.withSeverity(Severity.High);
}

/** s3-js-untrusted-account: Allow only to this account and the trusted ones. */
export function untrustedAccount(asset, ctx) {
  const list = policyStatements(asset);
  if (!Array.isArray(list)) return list;
  const trusted = new Set([asset.account, ...ctx.settings.trusted_accounts]);
  const hits = [];
  for (const s of list) {
    if (effect(s.stmt) !== "Allow") continue;
    const foreign = principals(s.stmt.Principal)
      .map(accountOf)
      .filter((a) => a !== undefined && !trusted.has(a));
    if (foreign.length > 0) hits.push({ s, accounts: [...new Set(foreign)] });
  }
  if (hits.length === 0) return pass();
  const accounts = [...new Set(hits.flatMap((h) => h.accounts))];
  const verdict = fail(
    `${hits.map((h) => label(h.s)).join(", ")} ${verb(hits, "grants", "grant")} access to ${verb(accounts, "account", "accounts")} ${accounts.join(", ")}, not listed in trusted_accounts`,
  );
  for (const h of hits) {
    verdict.withEvidence(`${h.s.path}.Principal`, h.s.stmt.Principal, `principals of accounts ${[...trusted].join(", ")}`);
  }
  return verdict;
}

/** Whether a Deny statement refuses every S3 action over plain HTTP on the bucket's objects. */
function deniesHttp(s, bucket) {
  if (effect(s.stmt) !== "Deny" || !principals(s.stmt.Principal).some(isPublic)) return false;
  const insecure = conditions(s.stmt.Condition).some(
    (t) =>
      t.base === "Bool" &&
      t.key === "aws:securetransport" &&
      t.values.some((v) => v === false || String(v).toLowerCase() === "false"),
  );
  if (!insecure || s.stmt.NotAction !== undefined) return false;
  const everyAction = asList(s.stmt.Action).some((a) => a === "*" || String(a).toLowerCase() === "s3:*");
  const objects = asList(s.stmt.Resource).some((r) => globMatcher(String(r), false)(`arn:aws:s3:::${bucket}/any-object`));
  return everyAction && objects;
}

/** s3-js-tls-only: a Deny of s3:* to everyone when aws:SecureTransport is false. */
export function tlsOnly(asset) {
  const list = policyStatements(asset);
  if (!Array.isArray(list)) return list;
  const expected = 'a Deny of "s3:*" to "*" on the bucket and its objects when aws:SecureTransport is false';
  if (list.length === 0) {
    return fail("the bucket has no policy, so nothing refuses plain-HTTP requests").withField(asset, "policy", expected);
  }
  const bucket = asset.fieldString("name") ?? asset.name;
  if (list.some((s) => deniesHttp(s, bucket))) return pass();
  const partial = list.filter(
    (s) => effect(s.stmt) === "Deny" && conditions(s.stmt.Condition).some((t) => t.key === "aws:securetransport"),
  );
  if (partial.length > 0) {
    const verdict = fail(`${partial.map(label).join(", ")} ${verb(partial, "tests", "test")} aws:SecureTransport but ${verb(partial, "does", "do")} not deny every action on every object to everyone`);
    for (const s of partial) {
      verdict
        .withEvidence(`${s.path}.Principal`, s.stmt.Principal ?? null, '"*"')
        .withEvidence(`${s.path}.${s.stmt.NotAction !== undefined ? "NotAction" : "Action"}`, s.stmt.NotAction ?? s.stmt.Action ?? null, '"s3:*" or "*"')
        .withEvidence(`${s.path}.Resource`, s.stmt.Resource ?? null, `covers arn:aws:s3:::${bucket}/*`)
        .withEvidence(`${s.path}.Condition`, s.stmt.Condition ?? null, '{"Bool": {"aws:SecureTransport": "false"}}');
    }
    return verdict;
  }
  return fail("no statement of the bucket policy denies requests that do not use TLS").withField(asset, "policy.Statement", expected);
}

/** How a grantee reads in a message. */
function grantee(w) {
  if (w === "*") return "everyone";
  return /^\d{12}$/.test(w) ? `account ${w}` : w;
}

/** s3-js-cross-account-write: no write or delete actions for callers outside the bucket's account. */
export function crossAccountWrite(asset, ctx) {
  const list = policyStatements(asset);
  if (!Array.isArray(list)) return list;
  const own = asset.account;
  const trusted = new Set(ctx.settings.trusted_accounts);
  const hits = [];
  for (const s of list) {
    if (effect(s.stmt) !== "Allow") continue;
    const outsiders = [];
    if (s.stmt.NotPrincipal !== undefined) outsiders.push("everyone outside NotPrincipal");
    for (const p of principals(s.stmt.Principal)) {
      if (isPublic(p) && !pinnedTo(s.stmt.Condition, own)) outsiders.push("*");
      const a = accountOf(p);
      if (a !== undefined && a !== own) outsiders.push(a);
    }
    if (outsiders.length === 0) continue;
    const writes = grantedActions(s.stmt, WRITE_ACTIONS);
    if (writes.length > 0) hits.push({ s, outsiders: [...new Set(outsiders)], writes });
  }
  if (hits.length === 0) return pass();
  const who = [...new Set(hits.flatMap((h) => h.outsiders))];
  const verdict = fail(
    `${hits.map((h) => label(h.s)).join(", ")} ${verb(hits, "lets", "let")} ${who.map(grantee).join(", ")} write or delete (${[...new Set(hits.flatMap((h) => h.writes))].slice(0, 4).join(", ")}${hits.some((h) => h.writes.length > 4) ? ", ..." : ""})`,
  );
  for (const h of hits) {
    const field = h.s.stmt.NotAction !== undefined ? "NotAction" : "Action";
    verdict
      .withEvidence(`${h.s.path}.${field}`, h.s.stmt[field] ?? null, `no write or delete actions for principals outside account ${own}`)
      .withEvidence(`${h.s.path}.${h.s.stmt.NotPrincipal !== undefined ? "NotPrincipal" : "Principal"}`, h.s.stmt.NotPrincipal ?? h.s.stmt.Principal ?? null, `principals of account ${own}`);
  }
  // Everyone, or an account nobody vouched for, is worse than a trusted partner.
  if (who.every((w) => trusted.has(w))) return verdict.withSeverity(Severity.Medium);
  if (who.some((w) => !/^\d{12}$/.test(w))) return verdict.withSeverity(Severity.Critical);
  return verdict;
}

/** s3-js-allow-not-principal: NotPrincipal only with Deny. */
export function allowNotPrincipal(asset) {
  const list = policyStatements(asset);
  if (!Array.isArray(list)) return list;
  const hits = list.filter((s) => effect(s.stmt) === "Allow" && s.stmt.NotPrincipal !== undefined);
  if (hits.length === 0) return pass();
  const verdict = fail(`${hits.map(label).join(", ")} ${verb(hits, "combines", "combine")} Allow with NotPrincipal, which grants every principal not listed, anonymous callers included`);
  for (const s of hits) {
    verdict
      .withEvidence(`${s.path}.Effect`, s.stmt.Effect, '"Deny" when NotPrincipal is used')
      .withEvidence(`${s.path}.NotPrincipal`, s.stmt.NotPrincipal, "an explicit Principal instead");
  }
  return verdict;
}
