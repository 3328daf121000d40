// Plugin definitions checked once, when the plugin module is evaluated (at
// build time): names, rules, severities, settings declarations; and the
// settings a host hands over, checked against those declarations.

import { isSeverity, Severity, SettingKind } from "./model.js";

const SEVERITIES = Object.values(Severity);
const KINDS = new Set(Object.values(SettingKind));

/** Whether a resource-type pattern (`aws_s3_bucket`, `aws_s3_*`, `*`) matches `type`. */
export function typeMatches(pattern, type) {
  return pattern.endsWith("*") ? type.startsWith(pattern.slice(0, -1)) : pattern === type;
}

/** The JSON kind of a value, as settings declare kinds. */
export function kindOf(value) {
  if (Array.isArray(value)) return "array";
  if (value === null) return "null";
  return typeof value;
}

/**
 * Check parsed settings against the declaration: an object, no unknown keys,
 * required ones present, each of its declared kind. Returns the problems.
 * @param {unknown} settings
 * @param {{name: string, kind: string, required: boolean}[]} spec
 * @returns {string[]}
 */
export function settingsProblems(settings, spec) {
  if (kindOf(settings) !== "object") return [`settings must be an object, got ${kindOf(settings)}`];
  const problems = [];
  for (const key of Object.keys(settings)) {
    if (!spec.some((s) => s.name === key)) {
      problems.push(`unknown setting ${key} (declared: ${spec.map((s) => s.name).join(", ") || "none"})`);
    }
  }
  for (const s of spec) {
    if (!Object.hasOwn(settings, s.name)) {
      if (s.required) problems.push(`setting ${s.name} is required`);
      continue;
    }
    const kind = kindOf(settings[s.name]);
    if (s.kind !== "any" && kind !== s.kind) {
      problems.push(`setting ${s.name} must be of kind ${s.kind}, got ${kind}`);
    }
  }
  return problems;
}

// ---- declarations: validated once, when the plugin module is evaluated ----

function need(condition, message) {
  if (!condition) throw new TypeError(`stance-sdk: ${message}`);
}

function stringList(value, what) {
  need(Array.isArray(value) && value.every((v) => typeof v === "string"), `${what} must be an array of strings`);
  return [...value];
}

function optionalString(value, what) {
  need(value === undefined || value === null || typeof value === "string", `${what} must be a string`);
  return value ?? undefined;
}

/** The plugin's name, version, description and settings, checked. */
export function pluginHeader(def) {
  need(def !== null && typeof def === "object", "the plugin definition must be an object");
  need(typeof def.name === "string" && def.name.trim() !== "", "the plugin needs a name");
  need(typeof def.version === "string" && def.version.trim() !== "", `plugin ${def.name}: needs a version`);
  const description = optionalString(def.description, `plugin ${def.name}: description`) ?? "";
  need(def.validate === undefined || typeof def.validate === "function", `plugin ${def.name}: validate must be a function`);
  const settings = (def.settings ?? []).map((s, n) => settingInfo(s, `plugin ${def.name}: setting #${n}`));
  const names = new Set();
  for (const s of settings) {
    need(!names.has(s.name), `plugin ${def.name}: setting ${s.name} is declared twice`);
    names.add(s.name);
  }
  need(Array.isArray(def.rules), `plugin ${def.name}: rules must be an array`);
  return { name: def.name, version: def.version, description, settings };
}

function settingInfo(s, where) {
  need(s !== null && typeof s === "object", `${where} must be an object`);
  need(typeof s.name === "string" && s.name !== "", `${where} needs a name`);
  const kind = s.kind ?? "any";
  need(KINDS.has(kind), `setting ${s.name}: kind ${JSON.stringify(kind)} is not one of ${[...KINDS].join(", ")}`);
  need(s.required === undefined || typeof s.required === "boolean", `setting ${s.name}: required must be a boolean`);
  const info = {
    name: s.name,
    description: optionalString(s.description, `setting ${s.name}: description`) ?? "",
    required: s.required ?? false,
    kind,
  };
  if (s.default !== undefined) {
    need(kind === "any" || kindOf(s.default) === kind, `setting ${s.name}: default is not of kind ${kind}`);
    Object.defineProperty(info, "default", { value: s.default, enumerable: false });
  }
  return info;
}

/** Declared settings with their defaults filled in where a value is absent. */
export function withDefaults(settings, spec) {
  const out = { ...settings };
  for (const s of spec) {
    if (!Object.hasOwn(out, s.name) && s.default !== undefined) out[s.name] = structuredCloneJson(s.default);
  }
  return out;
}

function structuredCloneJson(value) {
  return JSON.parse(JSON.stringify(value));
}

/**
 * A rule's WIT `rule-info`, checked. `defaultTypes` applies when the rule
 * names no `resourceTypes`.
 */
export function ruleInfo(rule, where, defaultTypes) {
  need(rule !== null && typeof rule === "object", `${where} must be an object`);
  need(typeof rule.id === "string" && rule.id.trim() !== "", `${where} needs an id`);
  const at = `rule ${rule.id}`;
  need(typeof rule.title === "string" && rule.title !== "", `${at}: needs a title`);
  need(isSeverity(rule.severity), `${at}: severity ${JSON.stringify(rule.severity)} is not one of ${SEVERITIES.join(", ")} (use Severity.High etc.)`);
  const resourceTypes = stringList(rule.resourceTypes ?? defaultTypes, `${at}: resourceTypes`);
  need(resourceTypes.length > 0, `${at}: resourceTypes is empty`);
  const remediation = remediationInfo(rule.remediation, at);
  const compliance = (rule.compliance ?? []).map((c) => {
    need(c && typeof c.framework === "string" && typeof c.control === "string", `${at}: compliance entries need framework and control`);
    return { framework: c.framework, version: String(c.version ?? ""), control: c.control };
  });
  return {
    id: rule.id,
    title: rule.title,
    description: optionalString(rule.description, `${at}: description`) ?? "",
    severity: rule.severity,
    resourceTypes,
    compliance,
    remediation,
    tags: stringList(rule.tags ?? [], `${at}: tags`),
    reads: stringList(rule.reads ?? [], `${at}: reads`),
  };
}

function remediationInfo(r, at) {
  if (r === undefined || r === null) return { guidance: "", console: undefined, cli: undefined, references: [] };
  if (typeof r === "string") return { guidance: r, console: undefined, cli: undefined, references: [] };
  need(typeof r === "object", `${at}: remediation must be a string or an object`);
  return {
    guidance: optionalString(r.guidance, `${at}: remediation.guidance`) ?? "",
    console: optionalString(r.console, `${at}: remediation.console`),
    cli: optionalString(r.cli, `${at}: remediation.cli`),
    references: stringList(r.references ?? [], `${at}: remediation.references`),
  };
}

/** Check rule ids are unique across the plugin. */
export function uniqueIds(infos, plugin) {
  const seen = new Set();
  for (const r of infos) {
    need(!seen.has(r.id), `plugin ${plugin}: rule id ${r.id} appears twice`);
    seen.add(r.id);
  }
}
