// Unit tests of the pure field helpers (no WIT imports needed): node --test sdk/js/test/
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  asList,
  field,
  fieldArray,
  fieldBoolean,
  fieldNumber,
  fieldObject,
  fieldString,
  jsonText,
  parsePath,
} from "../fields.js";

const body = {
  a: { b: [{ c: 1 }, { c: 2, d: null }] },
  versioning: { status: "Enabled" },
  tags: { Name: "x" },
  flag: false,
  list: [[10, 11], [12]],
};

test("parsePath splits keys and indexes", () => {
  assert.deepEqual(parsePath("a.b[1].c"), ["a", "b", 1, "c"]);
  assert.deepEqual(parsePath("list[1][0]"), ["list", 1, 0]);
  assert.deepEqual(parsePath("tags[Name]"), ["tags", "Name"]);
  assert.deepEqual(parsePath(""), []);
  assert.deepEqual(parsePath(".a..b."), ["a", "b"]);
});

test("field walks keys and indexes", () => {
  assert.equal(field(body, "a.b[1].c"), 2);
  assert.equal(field(body, "list[1][0]"), 12);
  assert.equal(field(body, "tags[Name]"), "x");
  assert.deepEqual(field(body, ""), body);
});

test("a missing step is undefined, a present null is null", () => {
  assert.equal(field(body, "a.b[2].c"), undefined);
  assert.equal(field(body, "a.missing"), undefined);
  assert.equal(field(body, "a.b.c"), undefined, "a key on a list");
  assert.equal(field(body, "versioning[0]"), undefined, "an index on an object");
  assert.equal(field(body, "a.b[1].d"), null);
  assert.equal(field(body, "a.b[1].d.e"), undefined, "a step past null");
  assert.equal(field(null, "a"), undefined);
  assert.equal(field("text", "length"), undefined, "no properties of primitives");
});

test("inherited properties are not fields", () => {
  assert.equal(field({}, "constructor"), undefined);
  assert.equal(field({}, "__proto__"), undefined);
  assert.equal(field([], "length"), undefined);
});

test("typed accessors check the JSON type", () => {
  assert.equal(fieldString(body, "versioning.status"), "Enabled");
  assert.equal(fieldString(body, "a.b[0].c"), undefined);
  assert.equal(fieldNumber(body, "a.b[0].c"), 1);
  assert.equal(fieldNumber(body, "versioning.status"), undefined);
  assert.equal(fieldBoolean(body, "flag"), false);
  assert.equal(fieldBoolean(body, "missing"), undefined);
  assert.deepEqual(fieldArray(body, "list[1]"), [12]);
  assert.equal(fieldArray(body, "versioning"), undefined);
  assert.deepEqual(fieldObject(body, "versioning"), { status: "Enabled" });
  assert.equal(fieldObject(body, "list"), undefined);
  assert.equal(fieldObject(body, "a.b[1].d"), undefined, "null is not an object");
});

test("asList normalizes one-or-many values", () => {
  assert.deepEqual(asList(["a"]), ["a"]);
  assert.deepEqual(asList("a"), ["a"]);
  assert.deepEqual(asList(null), []);
  assert.deepEqual(asList(undefined), []);
  assert.deepEqual(asList(0), [0]);
});

test("jsonText is what evidence carries", () => {
  assert.equal(jsonText(undefined), "null");
  assert.equal(jsonText(null), "null");
  assert.equal(jsonText("a"), '"a"');
  assert.equal(jsonText({ k: [1, true] }), '{"k":[1,true]}');
  assert.throws(() => jsonText(10n), TypeError);
});

test("a path that is not a string is a TypeError", () => {
  assert.throws(() => field(body, 3), /field path must be a string/);
});
