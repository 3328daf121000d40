// The detector engine and state store under Node: per-event and batch rules,
// alert defaults, the JSON state helpers and a refused write.
import assert from "node:assert/strict";
import { test } from "node:test";

import { detectorExport } from "../detector.js";
import { alert, Severity } from "../model.js";
import { createState } from "../state.js";
import { fakeHost, fakeStore } from "./fake-host.js";

const event = (id, time, body, source = "aws_cloudtrail") => ({
  id,
  source,
  time,
  account: "123456789012",
  region: "us-east-1",
  body: JSON.stringify(body),
});

const rootLogin = {
  id: "d-root",
  title: "Root user signed in",
  severity: Severity.High,
  sources: ["aws_cloudtrail"],
  onEvent(e) {
    if (e.fieldString("eventName") !== "ConsoleLogin") return undefined;
    if (e.fieldString("userIdentity.type") !== "Root") return undefined;
    return alert(`root signed in from ${e.fieldString("sourceIPAddress")}`).withField(e, "userIdentity.type", "!= 'Root'");
  },
};

const burst = {
  id: "d-burst",
  title: "Many deletions",
  severity: Severity.Medium,
  onBatch(events, ctx) {
    const seen = ctx.state.getJson("deletes") ?? [];
    for (const e of events) if (e.fieldString("eventName")?.startsWith("Delete")) seen.push({ id: e.id, time: e.time });
    if (seen.length < 3) {
      ctx.state.setJson("deletes", seen);
      return [];
    }
    ctx.state.delete("deletes");
    return alert(`${seen.length} deletions`).withEvents(seen).withGroupKey("deletes");
  },
};

function detector(rules, store = fakeStore(), settings = {}) {
  const host = fakeHost(settings);
  return { host, store, plugin: detectorExport({ name: "d", version: "0.1.0", rules }, host.api, createState(store.raw)) };
}

test("describe maps sources to resource types", () => {
  const { plugin } = detector([rootLogin, burst]);
  const info = plugin.describe();
  assert.deepEqual(info.rules.map((r) => r.resourceTypes), [["aws_cloudtrail"], ["*"]]);
});

test("a per-event rule alerts with the event's id, time, title and severity", () => {
  const { plugin } = detector([rootLogin]);
  const out = plugin.evaluate([
    event("e1", "2026-11-01T10:00:00Z", { eventName: "ConsoleLogin", userIdentity: { type: "Root" }, sourceIPAddress: "198.51.100.7" }),
    event("e2", "2026-11-01T10:01:00Z", { eventName: "ConsoleLogin", userIdentity: { type: "IAMUser" } }),
    event("e3", "2026-11-01T10:02:00Z", { eventName: "ConsoleLogin", userIdentity: { type: "Root" } }, "aws_guardduty"),
  ]);
  assert.deepEqual(out, [
    {
      ruleId: "d-root",
      severity: "high",
      title: "Root user signed in",
      message: "root signed in from 198.51.100.7",
      eventIds: ["e1"],
      groupKey: undefined,
      windowStart: "2026-11-01T10:00:00Z",
      windowEnd: "2026-11-01T10:00:00Z",
      evidence: [{ path: "userIdentity.type", actual: '"Root"', expected: "!= 'Root'" }],
    },
  ]);
});

test("a per-event rule that throws skips that event and logs it", () => {
  const { plugin, host } = detector([
    { ...rootLogin, onEvent: (e) => (e.body.userIdentity.type === "Root" ? alert("root") : undefined) },
  ]);
  const out = plugin.evaluate([
    event("e1", "2026-11-01T10:00:00Z", {}),
    event("e2", "2026-11-01T10:01:00Z", { userIdentity: { type: "Root" } }),
  ]);
  assert.deepEqual(out.map((a) => a.eventIds), [["e2"]]);
  assert.ok(host.lines.some((l) => l.startsWith("error d-root: event e1 skipped: TypeError")));
});

test("a batch rule correlates across batches through the state store", () => {
  const { plugin, store } = detector([burst]);
  const del = (id, t) => event(id, t, { eventName: "DeleteObject" });
  assert.deepEqual(plugin.evaluate([del("a", "2026-11-01T10:00:05Z"), del("b", "2026-11-01T10:00:01Z")]), []);
  assert.equal(JSON.parse(new TextDecoder().decode(store.map.get("deletes"))).length, 2);
  const out = plugin.evaluate([del("c", "2026-11-01T10:00:09Z")]);
  assert.equal(out.length, 1);
  assert.deepEqual(out[0].eventIds, ["a", "b", "c"]);
  assert.equal(out[0].windowStart, "2026-11-01T10:00:01Z");
  assert.equal(out[0].windowEnd, "2026-11-01T10:00:09Z");
  assert.equal(out[0].groupKey, "deletes");
  assert.equal(store.map.has("deletes"), false);
});

test("a batch rule that throws, or returns an alert without events, fails the batch", () => {
  const boom = detector([{ ...burst, onBatch: () => { throw new Error("bad"); } }]).plugin;
  assert.throws(() => boom.evaluate([]), (e) => e.ruleId === "d-burst" && e.message === "rule d-burst threw bad");
  const empty = detector([{ ...burst, onBatch: () => alert("x") }]).plugin;
  assert.throws(() => empty.evaluate([]), (e) => /names no events/.test(e.message));
});

test("a refused state write fails the batch with the host's reason", () => {
  const { plugin } = detector([{ ...burst, onBatch: (events, ctx) => ctx.state.set("big", "x".repeat(100)) }], fakeStore(50));
  assert.throws(() => plugin.evaluate([]), (e) => e.ruleId === "d-burst" && /state big: state quota exceeded/.test(e.message));
});

test("state store: bytes, text, JSON and keys", () => {
  const { raw } = fakeStore();
  const s = createState(raw);
  s.set("b", new Uint8Array([1, 2]));
  s.setText("t", "héllo");
  s.setJson("j:1", { n: [1] });
  s.setJson("j:2", true);
  assert.deepEqual([...s.get("b")], [1, 2]);
  assert.equal(s.getText("t"), "héllo");
  assert.deepEqual(s.getJson("j:1"), { n: [1] });
  assert.deepEqual(s.keys("j:"), ["j:1", "j:2"]);
  assert.equal(s.get("missing"), undefined);
  assert.equal(s.getJson("missing"), undefined);
  s.delete("j:1");
  assert.deepEqual(s.keys("j:"), ["j:2"]);
  assert.throws(() => s.getJson("t"), /stored value is not JSON/);
  assert.throws(() => s.set("x", 5), /Uint8Array or a string/);
  assert.throws(() => s.setJson("x", undefined), /cannot be stored as JSON/);
});

test("detector definitions are checked", () => {
  const { api } = fakeHost();
  const st = createState(fakeStore().raw);
  const def = (rule) => ({ name: "d", version: "1", rules: [rule] });
  assert.throws(() => detectorExport(def({ ...rootLogin, onBatch: () => [] }), api, st), /exactly one of onEvent/);
  assert.throws(() => detectorExport(def({ ...rootLogin, resourceTypes: ["x"] }), api, st), /`sources`, not resourceTypes/);
});
