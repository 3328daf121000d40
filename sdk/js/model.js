// The plugin's vocabulary without the WIT imports: severities, statuses,
// verdicts and alerts with evidence, and the error that fails a whole batch.

import { jsonText } from "./fields.js";

/** How bad a failed rule is, least to most severe (the WIT enum's values). */
export const Severity = Object.freeze({
  Info: "info",
  Low: "low",
  Medium: "medium",
  High: "high",
  Critical: "critical",
});

/** The outcome of one rule on one asset. */
export const Status = Object.freeze({ Pass: "pass", Fail: "fail", Error: "error" });

/** JSON kinds a declared setting may have. */
export const SettingKind = Object.freeze({
  String: "string",
  Number: "number",
  Boolean: "boolean",
  Array: "array",
  Object: "object",
  Any: "any",
});

const SEVERITIES = new Set(Object.values(Severity));

/** True when `value` is one of the WIT severities. */
export function isSeverity(value) {
  return SEVERITIES.has(value);
}

/**
 * A failure of the plugin on a whole batch (or, from `describe`/`validate`,
 * a refusal of the settings). Stance records every (rule, asset) of the batch
 * as `error`. To fail one rule on one asset, return `error(...)` instead.
 */
export class PluginError extends Error {
  /**
   * @param {string} message
   * @param {string} [ruleId] the rule at fault, when one is
   */
  constructor(message, ruleId) {
    super(message);
    this.name = "PluginError";
    this.ruleId = ruleId;
  }
}

/** "TypeError: x is undefined" for an Error, the value itself otherwise. */
export function describeThrown(e) {
  if (e instanceof Error) return e.name && e.name !== "Error" ? `${e.name}: ${e.message}` : e.message;
  if (typeof e === "string") return e;
  try {
    return JSON.stringify(e) ?? String(e);
  } catch {
    return String(e);
  }
}

/** An evidence record: a path, its actual value as JSON text, the condition. */
export function evidence(path, actual, expected) {
  return { path: String(path), actual: jsonText(actual), expected: String(expected ?? "") };
}

/**
 * What a rule decided on one asset. Build it with `pass()`, `fail(message)`
 * or `error(message)`, then chain `withEvidence`, `withField`, `withSeverity`.
 */
export class Verdict {
  constructor(status, message) {
    this.status = status;
    this.message = message === undefined || message === null ? "" : String(message);
    this.severity = undefined;
    this.evidence = [];
  }

  /**
   * Record what the rule looked at.
   * @param {string} path where (`resource.policy.Statement[0].Effect`)
   * @param {unknown} actual the value found (stored as JSON text)
   * @param {string} expected the condition it was held against
   */
  withEvidence(path, actual, expected) {
    this.evidence.push(evidence(path, actual, expected));
    return this;
  }

  /**
   * Evidence for a body field: path `resource.<path>`, actual the value at
   * `path` in the asset's body (`null` when absent).
   */
  withField(asset, path, expected) {
    const actual = asset.field(path);
    return this.withEvidence(`resource.${path}`, actual === undefined ? null : actual, expected);
  }

  /** Override the rule's declared severity for this finding. */
  withSeverity(severity) {
    if (!isSeverity(severity)) {
      throw new TypeError(`severity ${JSON.stringify(severity)} is not one of ${[...SEVERITIES].join(", ")}`);
    }
    this.severity = severity;
    return this;
  }
}

/** The rule holds for the asset. */
export function pass(message) {
  return new Verdict(Status.Pass, message);
}

/** The rule does not hold; `message` says why, for a human. */
export function fail(message) {
  return new Verdict(Status.Fail, message);
}

/** The rule could not decide for this asset (missing or malformed data). */
export function error(message) {
  return new Verdict(Status.Error, message);
}


/**
 * What a detector rule reports. Build it with `alert(message)`; the rule's
 * id, severity and title and (for `onEvent` rules) the current event are
 * filled in when it is returned.
 */
export class AlertBuilder {
  constructor(message) {
    this.message = message === undefined || message === null ? "" : String(message);
    this.title = undefined;
    this.severity = undefined;
    this.eventIds = [];
    this.groupKey = undefined;
    this.windowStart = undefined;
    this.windowEnd = undefined;
    this.evidence = [];
    this.eventStart = undefined;
    this.eventEnd = undefined;
  }

  withTitle(title) {
    this.title = String(title);
    return this;
  }

  withSeverity(severity) {
    if (!isSeverity(severity)) {
      throw new TypeError(`severity ${JSON.stringify(severity)} is not one of ${[...SEVERITIES].join(", ")}`);
    }
    this.severity = severity;
    return this;
  }

  withEvidence(path, actual, expected) {
    this.evidence.push(evidence(path, actual, expected));
    return this;
  }

  /** Evidence for a field of an event's body: path as given, actual its value. */
  withField(event, path, expected) {
    const actual = event.field(path);
    return this.withEvidence(path, actual === undefined ? null : actual, expected);
  }

  /** Correlate several events under one key; the stable identity of a window. */
  withGroupKey(key) {
    this.groupKey = String(key);
    return this;
  }

  /**
   * The events the alert is about: `Event`s, or `{id, time}` records kept in
   * the state store from earlier batches. The window spans their times
   * unless `withWindow` sets it.
   * @param {Event[]|Event|{id: string, time?: string}[]} events
   */
  withEvents(events) {
    const list = Array.isArray(events) ? events : [events];
    for (const e of list) {
      if (!e || typeof e.id !== "string") throw new TypeError("withEvents takes events or {id, time} records");
      if (!this.eventIds.includes(e.id)) this.eventIds.push(e.id);
      if (typeof e.time !== "string") continue;
      if (this.eventStart === undefined || earlier(e.time, this.eventStart)) this.eventStart = e.time;
      if (this.eventEnd === undefined || earlier(this.eventEnd, e.time)) this.eventEnd = e.time;
    }
    return this;
  }

  /** RFC 3339 bounds of the correlation window. */
  withWindow(start, end) {
    this.windowStart = String(start);
    this.windowEnd = String(end);
    return this;
  }
}

/** Whether RFC 3339 time `a` is before `b` (by instant; as text when unparsable). */
function earlier(a, b) {
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  return Number.isNaN(ta) || Number.isNaN(tb) ? a < b : ta < tb;
}

/** A detector alert; see `AlertBuilder`. */
export function alert(message) {
  return new AlertBuilder(message);
}
