// TypeScript declarations of stance-sdk: the plugin-facing API and the WIT
// record shapes it produces (camelCase fields, enums as lower-case strings,
// options as undefined), as componentize-js lowers them.

/** Any JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

// ---- enums ----

export type SeverityValue = "info" | "low" | "medium" | "high" | "critical";
export declare const Severity: Readonly<{
  Info: "info";
  Low: "low";
  Medium: "medium";
  High: "high";
  Critical: "critical";
}>;

export type StatusValue = "pass" | "fail" | "error";
export declare const Status: Readonly<{ Pass: "pass"; Fail: "fail"; Error: "error" }>;

export type SettingKindValue = "string" | "number" | "boolean" | "array" | "object" | "any";
export declare const SettingKind: Readonly<{
  String: "string";
  Number: "number";
  Boolean: "boolean";
  Array: "array";
  Object: "object";
  Any: "any";
}>;

// ---- field helpers (pure) ----

/** `a.b[0].c` as ["a", "b", 0, "c"]; `[x]` with non-digits is a key. */
export declare function parsePath(path: string): (string | number)[];
/** The value at `path`, `undefined` when any step is missing (a present null stays null). */
export declare function field(value: unknown, path: string): Json | undefined;
export declare function fieldString(value: unknown, path: string): string | undefined;
export declare function fieldNumber(value: unknown, path: string): number | undefined;
export declare function fieldBoolean(value: unknown, path: string): boolean | undefined;
export declare function fieldArray(value: unknown, path: string): Json[] | undefined;
export declare function fieldObject(value: unknown, path: string): { [key: string]: Json } | undefined;
/** Arrays as they are, null/undefined as [], anything else as a one-element list. */
export declare function asList<T>(value: T | T[] | null | undefined): T[];
/** A JSON object: not null, not an array. */
export declare function isObject(value: unknown): value is { [key: string]: Json };
/** JSON text as evidence carries it (`undefined` is "null"). */
export declare function jsonText(value: unknown): string;
/** Whether a resource-type pattern (`aws_s3_bucket`, `aws_s3_*`, `*`) matches a type. */
export declare function typeMatches(pattern: string, type: string): boolean;

// ---- typed field access shared by assets and events ----

interface FieldAccess {
  /** The body as JSON (parsed once, on first use; throws when it is not JSON). */
  readonly body: Json;
  /** The body as the host sent it. */
  readonly bodyText: string;
  field(path: string): Json | undefined;
  fieldString(path: string): string | undefined;
  fieldNumber(path: string): number | undefined;
  fieldBoolean(path: string): boolean | undefined;
  fieldArray(path: string): Json[] | undefined;
  fieldObject(path: string): { [key: string]: Json } | undefined;
}

/** One cloud resource. */
export declare class Asset implements FieldAccess {
  readonly id: string;
  /** `provider_service_kind`, e.g. `aws_s3_bucket`. */
  readonly resourceType: string;
  readonly provider: string;
  readonly account: string;
  readonly region: string;
  readonly name: string;
  /** RFC 3339 time of collection: the plugin's only clock (wall clocks read 1970). */
  readonly collectedAt: string;
  /** Tags as key to value. */
  readonly tags: Readonly<Record<string, string>>;
  readonly body: Json;
  readonly bodyText: string;
  /** The value of tag `key`, or undefined. */
  tag(key: string): string | undefined;
  field(path: string): Json | undefined;
  fieldString(path: string): string | undefined;
  fieldNumber(path: string): number | undefined;
  fieldBoolean(path: string): boolean | undefined;
  fieldArray(path: string): Json[] | undefined;
  fieldObject(path: string): { [key: string]: Json } | undefined;
}

/** One audit-log record (CloudTrail first); `body` is the raw record. */
export declare class Event implements FieldAccess {
  readonly id: string;
  /** Log source, e.g. `aws_cloudtrail`. */
  readonly source: string;
  /** RFC 3339 time of the event. */
  readonly time: string;
  readonly account: string;
  readonly region: string;
  readonly body: Json;
  readonly bodyText: string;
  field(path: string): Json | undefined;
  fieldString(path: string): string | undefined;
  fieldNumber(path: string): number | undefined;
  fieldBoolean(path: string): boolean | undefined;
  fieldArray(path: string): Json[] | undefined;
  fieldObject(path: string): { [key: string]: Json } | undefined;
}

// ---- verdicts, alerts, errors ----

/** WIT `evidence`: `actual` is JSON text. */
export interface Evidence {
  path: string;
  actual: string;
  expected: string;
}
export declare function evidence(path: string, actual: unknown, expected: string): Evidence;

/** What a policy rule decided on one asset. */
export declare class Verdict {
  readonly status: StatusValue;
  readonly message: string;
  readonly severity: SeverityValue | undefined;
  readonly evidence: Evidence[];
  /** Record a path, the value found there (any JSON value) and the condition held against it. */
  withEvidence(path: string, actual: unknown, expected: string): this;
  /** Evidence for a body field: path `resource.<path>`, actual `asset.field(path)` (null when absent). */
  withField(asset: Asset, path: string, expected: string): this;
  /** Override the rule's severity for this finding. */
  withSeverity(severity: SeverityValue): this;
}
/** The rule holds. */
export declare function pass(message?: string): Verdict;
/** The rule does not hold; say why. */
export declare function fail(message?: string): Verdict;
/** The rule could not decide for this asset (missing or malformed data). */
export declare function error(message?: string): Verdict;

/** What a detector rule reports; ids, times, title and severity default from the rule and event. */
export declare class AlertBuilder {
  withTitle(title: string): this;
  withSeverity(severity: SeverityValue): this;
  withEvidence(path: string, actual: unknown, expected: string): this;
  /** Evidence for a field of the raw event: path as given, actual its value. */
  withField(event: Event, path: string, expected: string): this;
  /** The stable identity of a correlation window. */
  withGroupKey(key: string): this;
  /** The events the alert is about (Events, or `{id, time}` records kept in state); the window spans their times. */
  withEvents(events: Event | ReadonlyArray<Event | { id: string; time?: string }>): this;
  /** RFC 3339 bounds of the window, overriding the events' span. */
  withWindow(start: string, end: string): this;
}
export declare function alert(message?: string): AlertBuilder;

/**
 * Fails the whole batch (every result of the batch is recorded as `error`),
 * or from `validate`, refuses the settings. To fail one rule on one asset,
 * return `error(message)` instead.
 */
export declare class PluginError extends Error {
  constructor(message: string, ruleId?: string);
  ruleId: string | undefined;
}

// ---- host services ----

export interface Logger {
  trace(message: string): void;
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}
/** Lines in Stance's log, tagged with the plugin's name. */
export declare const log: Logger;
/** The settings as configured (parsed JSON, `{}` when none; no defaults applied). */
export declare function getSettings(): { [key: string]: Json };

/** The detector's key-value store, kept by the host across batches. Only in detectors. */
export interface StateStore {
  get(key: string): Uint8Array | undefined;
  /** Bytes, or text stored as UTF-8. Over the quota: throws a PluginError (the batch fails, the store rolls back). */
  set(key: string, value: Uint8Array | string): void;
  delete(key: string): void;
  /** Keys that start with `prefix`, in byte order. */
  keys(prefix?: string): string[];
  getText(key: string): string | undefined;
  setText(key: string, text: string): void;
  getJson<T = Json>(key: string): T | undefined;
  setJson(key: string, value: unknown): void;
}
export declare const state: StateStore;

// ---- definitions ----

export type Settings = Record<string, any>;

export interface SettingDeclaration {
  name: string;
  /** JSON kind the value must have (default `any`). */
  kind?: SettingKindValue;
  required?: boolean;
  description?: string;
  /** Filled into `ctx.settings` when the setting is absent. */
  default?: Json;
}

export interface ComplianceRef {
  framework: string;
  version?: string;
  control: string;
}

export interface RemediationInput {
  guidance?: string;
  console?: string;
  cli?: string;
  references?: string[];
}

interface RuleCommon {
  /** Unique within the plugin; prefix it with the plugin's name. */
  id: string;
  title: string;
  description?: string;
  severity: SeverityValue;
  compliance?: ComplianceRef[];
  /** Guidance text, or the full record. */
  remediation?: string | RemediationInput;
  tags?: string[];
  /** Body paths the rule reads (`versioning.status`, `rules[].sse_algorithm`). */
  reads?: string[];
}

export interface RuleContext<S = Settings> {
  /** Parsed, checked settings with declared defaults filled in. */
  settings: S;
  /** The rule's WIT declaration. */
  rule: RuleInfo;
  /** The host log, each line prefixed with the rule id. */
  log: Logger;
}

export interface PolicyRule<S = Settings> extends RuleCommon {
  /** Exact types, `prefix*` or `*` (the default). */
  resourceTypes?: string[];
  /**
   * Judge one asset: `pass()`, `fail(message)`, `error(message)`, or nothing
   * when the rule does not apply. A throw becomes an `error` finding for this
   * (rule, asset) only; a thrown PluginError fails the batch.
   */
  check(asset: Asset, ctx: RuleContext<S>): Verdict | undefined | null | void;
}

export interface PolicyDefinition<S = Settings> {
  name: string;
  version: string;
  description?: string;
  settings?: SettingDeclaration[];
  /** Refuse settings by throwing (runs after the kind/required checks). */
  validate?(settings: S): void;
  rules: PolicyRule<S>[];
}

export interface DetectorContext<S = Settings> extends RuleContext<S> {
  state: StateStore;
}

type AlertResult = AlertBuilder | AlertBuilder[] | undefined | null | void;

interface DetectorRuleCommon extends RuleCommon {
  /** Log sources (`aws_cloudtrail`, `prefix*`, `*` the default). */
  sources?: string[];
}

export type DetectorRule<S = Settings> = DetectorRuleCommon &
  (
    | {
        /** Per event. A throw is logged and skips that event for this rule. */
        onEvent(event: Event, ctx: DetectorContext<S>): AlertResult;
        onBatch?: never;
      }
    | {
        /** Per batch, for correlation. A throw fails the batch (the state store rolls back). */
        onBatch(events: Event[], ctx: DetectorContext<S>): AlertResult;
        onEvent?: never;
      }
  );

export interface DetectorDefinition<S = Settings> {
  name: string;
  version: string;
  description?: string;
  settings?: SettingDeclaration[];
  validate?(settings: S): void;
  rules: DetectorRule<S>[];
}

// ---- WIT shapes the exports return ----

export interface RuleInfo {
  id: string;
  title: string;
  description: string;
  severity: SeverityValue;
  resourceTypes: string[];
  compliance: { framework: string; version: string; control: string }[];
  remediation: { guidance: string; console: string | undefined; cli: string | undefined; references: string[] };
  tags: string[];
  reads: string[];
}

export interface PluginInfo {
  name: string;
  version: string;
  description: string;
  rules: RuleInfo[];
  settings: { name: string; description: string; required: boolean; kind: SettingKindValue }[];
}

export interface WitAsset {
  id: string;
  resourceType: string;
  provider: string;
  account: string;
  region: string;
  name: string;
  tags: { key: string; value: string }[];
  collectedAt: string;
  body: string;
}

export interface WitEvent {
  id: string;
  source: string;
  time: string;
  account: string;
  region: string;
  body: string;
}

export interface Finding {
  ruleId: string;
  assetId: string;
  status: StatusValue;
  severity: SeverityValue | undefined;
  message: string;
  evidence: Evidence[];
}

export interface Alert {
  ruleId: string;
  severity: SeverityValue;
  title: string;
  message: string;
  eventIds: string[];
  groupKey: string | undefined;
  windowStart: string;
  windowEnd: string;
  evidence: Evidence[];
}

/** The `policy-plugin` export; errors are thrown as `{ruleId, message}`. */
export interface PolicyPluginExport {
  describe(): PluginInfo;
  evaluate(batch: WitAsset[]): Finding[];
}

/** The `detector-plugin` export; errors are thrown as `{ruleId, message}`. */
export interface DetectorPluginExport {
  describe(): PluginInfo;
  evaluate(batch: WitEvent[]): Alert[];
}

/** The WIT package version these bindings target. */
export declare const WIT_VERSION: "0.1.0";

/** A policy plugin: `export const policyPlugin = definePolicy({...})`. */
export declare function definePolicy<S = Settings>(def: PolicyDefinition<S>): PolicyPluginExport;

/** A detector plugin: `export const detectorPlugin = defineDetector({...})`. */
export declare function defineDetector<S = Settings>(def: DetectorDefinition<S>): DetectorPluginExport;
