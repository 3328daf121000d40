// The policy engine under Node with a fake host: verdicts become findings,
// a throwing rule becomes an `error` finding, settings are checked.
import assert from "node:assert/strict";
import { test } from "node:test";

import { fail, pass, error, PluginError, Severity } from "../model.js";
import { policyExport } from "../policy.js";
import { bucket, fakeHost } from "./fake-host.js";

const versioned = {
  id: "t-versioned",
  title: "Buckets keep versions",
  severity: Severity.Low,
  resourceTypes: ["aws_s3_*"],
  check(asset) {
    const status = asset.fieldString("versioning.status");
    if (asset.tag("env") !== "prod") return undefined;
    return status === "Enabled"
      ? pass()
      : fail(`${asset.name} keeps no versions`).withField(asset, "versioning.status", "== 'Enabled'");
  },
};

function plugin(rules, extra = {}) {
  return { name: "t", version: "0.1.0", rules, ...extra };
}

test("describe lists rules and settings in WIT shape", () => {
  const { api } = fakeHost();
  const p = policyExport(
    plugin([{ ...versioned, remediation: "Enable versioning." }], {
      settings: [{ name: "envs", kind: "array", default: ["prod"], description: "d" }],
    }),
    api,
  );
  const info = p.describe();
  assert.equal(info.name, "t");
  assert.deepEqual(info.settings, [{ name: "envs", description: "d", required: false, kind: "array" }]);
  assert.deepEqual(info.rules[0], {
    id: "t-versioned",
    title: "Buckets keep versions",
    description: "",
    severity: "low",
    resourceTypes: ["aws_s3_*"],
    compliance: [],
    remediation: { guidance: "Enable versioning.", console: undefined, cli: undefined, references: [] },
    tags: [],
    reads: [],
  });
});

test("verdicts become findings with evidence; undefined means no finding", () => {
  const { api } = fakeHost();
  const p = policyExport(plugin([versioned]), api);
  const out = p.evaluate([
    bucket("arn:aws:s3:::good", { versioning: { status: "Enabled" } }),
    bucket("arn:aws:s3:::bad", { versioning: { status: "Suspended" } }),
    bucket("arn:aws:s3:::dev", {}, { tags: [{ key: "env", value: "dev" }] }),
    bucket("arn:aws:ec2:::vol", {}, { resourceType: "aws_ec2_volume" }),
  ]);
  assert.equal(out.length, 2);
  assert.deepEqual(out[0], { ruleId: "t-versioned", assetId: "arn:aws:s3:::good", status: "pass", severity: undefined, message: "", evidence: [] });
  assert.equal(out[1].status, "fail");
  assert.equal(out[1].message, "bad keeps no versions");
  assert.deepEqual(out[1].evidence, [{ path: "resource.versioning.status", actual: '"Suspended"', expected: "== 'Enabled'" }]);
});

test("a rule that throws on one asset gives an error finding; the batch goes on", () => {
  const { api, lines } = fakeHost();
  const boom = {
    id: "t-boom",
    title: "Throws on bad",
    severity: Severity.High,
    resourceTypes: ["aws_s3_bucket"],
    check(asset) {
      return asset.body.nested.value === 1 ? pass() : fail("no");
    },
  };
  const p = policyExport(plugin([boom, versioned]), api);
  const out = p.evaluate([
    bucket("arn:aws:s3:::ok", { nested: { value: 1 }, versioning: { status: "Enabled" } }),
    bucket("arn:aws:s3:::broken", { versioning: { status: "Enabled" } }),
    bucket("arn:aws:s3:::notjson", "{oops"),
  ]);
  const byKey = Object.fromEntries(out.map((f) => [`${f.ruleId} ${f.assetId}`, f]));
  assert.equal(byKey["t-boom arn:aws:s3:::ok"].status, "pass");
  assert.equal(byKey["t-boom arn:aws:s3:::broken"].status, "error");
  assert.match(byKey["t-boom arn:aws:s3:::broken"].message, /^rule t-boom threw TypeError: /);
  assert.equal(byKey["t-versioned arn:aws:s3:::broken"].status, "pass", "other rules still run on the asset");
  assert.equal(byKey["t-boom arn:aws:s3:::notjson"].status, "error");
  assert.match(byKey["t-boom arn:aws:s3:::notjson"].message, /body is not JSON/);
  assert.ok(lines.some((l) => l.startsWith("debug t-boom: on arn:aws:s3:::broken")), "the stack goes to the debug log");
});

test("a wrong return value or a bad severity is an error finding", () => {
  const { api } = fakeHost();
  const rule = (id, check) => ({ id, title: id, severity: Severity.Low, check });
  const p = policyExport(
    plugin([
      rule("r-bool", () => true),
      rule("r-promise", () => Promise.resolve(pass())),
      rule("r-sev", () => fail("x").withSeverity("urgent")),
      rule("r-err", () => error("cannot tell").withEvidence("resource.x", undefined, "present")),
      rule("r-over", () => fail("x").withSeverity(Severity.Critical)),
    ]),
    api,
  );
  const out = Object.fromEntries(p.evaluate([bucket("arn:aws:s3:::b", {})]).map((f) => [f.ruleId, f]));
  assert.match(out["r-bool"].message, /check returned true; return pass\(\)/);
  assert.match(out["r-promise"].message, /must be synchronous/);
  assert.match(out["r-sev"].message, /severity "urgent" is not one of/);
  assert.deepEqual(out["r-err"].evidence, [{ path: "resource.x", actual: "null", expected: "present" }]);
  assert.equal(out["r-err"].status, "error");
  assert.equal(out["r-over"].severity, "critical");
});

test("a PluginError thrown by a rule fails the batch, naming the rule", () => {
  const { api } = fakeHost();
  const p = policyExport(
    plugin([{ id: "t-pe", title: "t", severity: Severity.Low, check: () => { throw new PluginError("whole batch is wrong"); } }]),
    api,
  );
  assert.throws(
    () => p.evaluate([bucket("arn:aws:s3:::b", {})]),
    (e) => e.ruleId === "t-pe" && e.message === "whole batch is wrong" && !(e instanceof Error),
  );
});

test("settings: parsed, checked against declarations, defaults applied, validate run", () => {
  const seen = [];
  const def = plugin(
    [{ id: "t-s", title: "t", severity: Severity.Low, check: (a, ctx) => (seen.push(ctx.settings), pass()) }],
    {
      settings: [
        { name: "envs", kind: "array", default: ["prod"] },
        { name: "limit", kind: "number", required: true },
      ],
      validate(s) {
        if (s.limit < 0) throw new Error("limit must not be negative");
      },
    },
  );
  policyExport(def, fakeHost({ limit: 3 }).api).evaluate([bucket("arn:aws:s3:::b", {})]);
  assert.deepEqual(seen[0], { limit: 3, envs: ["prod"] });

  const refuse = (settings) => {
    try {
      policyExport(def, fakeHost(settings).api).describe();
    } catch (e) {
      return e.message;
    }
    return "accepted";
  };
  assert.equal(refuse({ limit: 1 }), "accepted");
  assert.equal(refuse({}), "invalid settings: setting limit is required");
  assert.equal(refuse({ limit: "3" }), "invalid settings: setting limit must be of kind number, got string");
  assert.equal(refuse({ limit: 1, other: 1 }), "invalid settings: unknown setting other (declared: envs, limit)");
  assert.equal(refuse({ limit: -1 }), "invalid settings: limit must not be negative");
  assert.match(refuse("not json"), /^settings are not JSON/);
});

test("definitions are checked when the module loads (at build time)", () => {
  const { api } = fakeHost();
  const base = { id: "r", title: "t", severity: Severity.Low, check: () => pass() };
  assert.throws(() => policyExport(plugin([{ ...base, severity: "urgent" }]), api), /rule r: severity "urgent"/);
  assert.throws(() => policyExport(plugin([{ ...base, check: undefined }]), api), /check\(asset, ctx\) must be a function/);
  assert.throws(() => policyExport(plugin([base, base]), api), /rule id r appears twice/);
  assert.throws(() => policyExport(plugin([{ ...base, resourceTypes: [] }]), api), /resourceTypes is empty/);
  assert.throws(() => policyExport({ ...plugin([base]), name: "" }, api), /needs a name/);
  assert.throws(() => policyExport(plugin([base], { settings: [{ name: "x", kind: "list" }] }), api), /kind "list"/);
  assert.deepEqual(policyExport(plugin([base]), api).describe().rules[0].resourceTypes, ["*"]);
});

test("assets expose tags as an object and fields by path", () => {
  const { api } = fakeHost();
  let seen;
  const p = policyExport(plugin([{ id: "r", title: "t", severity: Severity.Low, check: (a) => { seen = a; } }]), api);
  p.evaluate([bucket("arn:aws:s3:::b", { encryption: { rules: [{ sse_algorithm: "AES256" }] } })]);
  assert.deepEqual(seen.tags, { env: "prod" });
  assert.equal(seen.tag("env"), "prod");
  assert.equal(seen.tag("toString"), undefined);
  assert.equal(seen.fieldString("encryption.rules[0].sse_algorithm"), "AES256");
  assert.equal(seen.resourceType, "aws_s3_bucket");
  assert.equal(seen.collectedAt, "2026-11-01T00:00:00Z");
});
