// Reading IAM policy documents as S3 stores them: statements (one object or a
// list), principals ("*", {"AWS": ...}, lists), actions with wildcards, and
// condition blocks with set prefixes (ForAnyValue:) and IfExists suffixes.

import { asList, isObject } from "stance-sdk";

/**
 * The statements of a policy document, each with the evidence path of its
 * fields (`resource.policy.Statement[2]`).
 * @param {unknown} doc the policy document
 * @returns {{stmt: any, path: string, index: number}[]}
 */
export function statements(doc) {
  const base = "resource.policy.Statement";
  const raw = isObject(doc) ? doc.Statement : undefined;
  if (Array.isArray(raw)) return raw.map((stmt, index) => ({ stmt, path: `${base}[${index}]`, index }));
  if (raw === undefined || raw === null) return [];
  return [{ stmt: raw, path: base, index: 0 }];
}

/** `Allow` or `Deny` (as written; IAM compares them exactly). */
export function effect(stmt) {
  return typeof stmt.Effect === "string" ? stmt.Effect : undefined;
}

/**
 * A principal block as a flat list of `{type, value}`: `"*"` is
 * `{type: "*"}`, `{"AWS": ["a", "b"]}` two AWS entries; lists are flattened.
 */
export function principals(block) {
  if (block === undefined || block === null) return [];
  if (typeof block === "string") return [block === "*" ? { type: "*", value: "*" } : { type: "AWS", value: block }];
  if (Array.isArray(block)) return block.flatMap(principals);
  if (isObject(block)) {
    return Object.entries(block).flatMap(([type, values]) =>
      asList(values).map((value) => ({ type, value: String(value) })),
    );
  }
  return [];
}

/** Everyone: `"*"` or an AWS principal of `"*"`. */
export function isPublic(p) {
  return p.type === "*" || (p.type === "AWS" && p.value === "*");
}

const ACCOUNT_ARN = /^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):/;

/** The account an AWS principal belongs to (`123456789012`, an IAM/STS ARN), or undefined. */
export function accountOf(p) {
  if (p.type !== "AWS") return undefined;
  if (/^\d{12}$/.test(p.value)) return p.value;
  const m = ACCOUNT_ARN.exec(p.value);
  return m ? m[1] : undefined;
}

/**
 * A wildcard pattern (`s3:Put*`, `arn:aws:s3:::b/*`) as a test; actions
 * compare case-insensitively, resource ARNs exactly (`ignoreCase` false).
 */
export function globMatcher(pattern, ignoreCase = true) {
  const source = String(pattern)
    .split("")
    .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
    .join("");
  const re = new RegExp(`^${source}$`, ignoreCase ? "i" : "");
  return (action) => re.test(action);
}

/**
 * The concrete actions of `candidates` that a statement grants: those its
 * `Action` patterns match, or with `NotAction` those none of its patterns match.
 */
export function grantedActions(stmt, candidates) {
  if (stmt.NotAction !== undefined) {
    const excluded = asList(stmt.NotAction).map((p) => globMatcher(p));
    return candidates.filter((a) => !excluded.some((m) => m(a)));
  }
  const included = asList(stmt.Action).map((p) => globMatcher(p));
  return candidates.filter((a) => included.some((m) => m(a)));
}

/**
 * The tests of a condition block, one per (operator, key):
 * `{operator, base, ifExists, set, key, values}` where `base` is the
 * operator without its `ForAnyValue:`/`ForAllValues:` prefix and `IfExists`
 * suffix, `key` is lower-cased (IAM keys are case-insensitive) and `values`
 * is always a list.
 */
export function conditions(block) {
  if (!isObject(block)) return [];
  const out = [];
  for (const [operator, tests] of Object.entries(block)) {
    let base = operator;
    let set;
    const colon = base.indexOf(":");
    if (colon !== -1) {
      set = base.slice(0, colon);
      base = base.slice(colon + 1);
    }
    const ifExists = base.endsWith("IfExists");
    if (ifExists) base = base.slice(0, -"IfExists".length);
    if (!isObject(tests)) continue;
    for (const [key, values] of Object.entries(tests)) {
      out.push({ operator, base, ifExists, set, key: key.toLowerCase(), values: asList(values) });
    }
  }
  return out;
}
