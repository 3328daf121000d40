// Reading typed fields out of asset and event bodies, without the WIT imports.
// Paths are dotted (`versioning.status`) with `[n]` for list elements
// (`rules[0].sse_algorithm`); a missing step yields `undefined`, never a throw.

/**
 * Split a path into steps: strings are object keys, numbers list indexes.
 * `a.b[0].c` gives ["a", "b", 0, "c"]; a bracket holding something other
 * than digits is a key (`tags[Name]` gives ["tags", "Name"]).
 * @param {string} path
 * @returns {(string|number)[]}
 */
export function parsePath(path) {
  if (typeof path !== "string") {
    throw new TypeError(`a field path must be a string, got ${typeof path}`);
  }
  const steps = [];
  for (const part of path.split(".")) {
    if (part === "") continue;
    const open = part.indexOf("[");
    const key = open === -1 ? part : part.slice(0, open);
    if (key !== "") steps.push(key);
    if (open === -1) continue;
    for (const piece of part.slice(open + 1).split("[")) {
      if (!piece.endsWith("]")) continue;
      const inner = piece.slice(0, -1);
      steps.push(/^\d+$/.test(inner) ? Number(inner) : inner);
    }
  }
  return steps;
}

/**
 * The value at `path` inside `value`, or `undefined` when any step is missing.
 * A present JSON `null` comes back as `null`, so "absent" and "null" differ.
 * @param {unknown} value
 * @param {string} path
 * @returns {unknown}
 */
export function field(value, path) {
  let current = value;
  for (const step of parsePath(path)) {
    if (typeof step === "number") {
      if (!Array.isArray(current) || step >= current.length) return undefined;
      current = current[step];
    } else {
      if (!isObject(current) || !Object.hasOwn(current, step)) return undefined;
      current = current[step];
    }
  }
  return current;
}

/** The string at `path`, or `undefined` when missing or not a string. */
export function fieldString(value, path) {
  const v = field(value, path);
  return typeof v === "string" ? v : undefined;
}

/** The number at `path`, or `undefined` when missing or not a number. */
export function fieldNumber(value, path) {
  const v = field(value, path);
  return typeof v === "number" ? v : undefined;
}

/** The boolean at `path`, or `undefined` when missing or not a boolean. */
export function fieldBoolean(value, path) {
  const v = field(value, path);
  return typeof v === "boolean" ? v : undefined;
}

/** The array at `path`, or `undefined` when missing or not an array. */
export function fieldArray(value, path) {
  const v = field(value, path);
  return Array.isArray(v) ? v : undefined;
}

/** The object at `path` (not an array, not null), or `undefined`. */
export function fieldObject(value, path) {
  const v = field(value, path);
  return isObject(v) ? v : undefined;
}

/**
 * A value as a list: arrays as they are, `null`/`undefined` as `[]`, anything
 * else as a one-element list. Cloud documents often allow both shapes
 * (an IAM `Action` may be a string or a list).
 * @param {unknown} value
 * @returns {unknown[]}
 */
export function asList(value) {
  if (Array.isArray(value)) return value;
  if (value === undefined || value === null) return [];
  return [value];
}

/** True for a JSON object: not null, not an array. */
export function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A value as JSON text, as evidence carries it: `undefined` becomes `null`.
 * Throws a TypeError for what JSON cannot hold (a BigInt, a cycle).
 * @param {unknown} value
 * @returns {string}
 */
export function jsonText(value) {
  if (value === undefined) return "null";
  const text = JSON.stringify(value);
  return text === undefined ? "null" : text;
}
