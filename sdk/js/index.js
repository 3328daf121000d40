// stance-sdk: write Stance policy and detector plugins in JavaScript.
// `definePolicy` / `defineDetector` turn rule definitions into the component's
// export; the raw componentize-js bindings stay inside this package.

import { detectorExport } from "./detector.js";
import { policyExport } from "./policy.js";
import { hostApi } from "./wit-host.js";
import { state } from "./wit-state.js";

export {
  asList,
  field,
  fieldArray,
  fieldBoolean,
  fieldNumber,
  fieldObject,
  fieldString,
  isObject,
  jsonText,
  parsePath,
} from "./fields.js";
export { typeMatches } from "./definitions.js";
export {
  alert,
  AlertBuilder,
  error,
  evidence,
  fail,
  pass,
  PluginError,
  SettingKind,
  Severity,
  Status,
  Verdict,
} from "./model.js";
export { Asset, Event } from "./records.js";
export { getSettings, log } from "./wit-host.js";
export { state } from "./wit-state.js";

/** The WIT package version these bindings target. */
export const WIT_VERSION = "0.1.0";

/**
 * A policy plugin: export the result as `policyPlugin`.
 *   export const policyPlugin = definePolicy({ name, version, rules: [...] });
 */
export function definePolicy(def) {
  return policyExport(def, hostApi);
}

/**
 * A detector plugin: export the result as `detectorPlugin`.
 *   export const detectorPlugin = defineDetector({ name, version, rules: [...] });
 */
export function defineDetector(def) {
  return detectorExport(def, hostApi, state);
}
