// Host services as plain functions, over whatever provides them: the WIT
// imports inside a component (wit-host.js), or a fake under Node for tests.
// Also turns anything thrown into the WIT `plugin-error` shape.

import { settingsProblems, withDefaults } from "./definitions.js";
import { describeThrown, PluginError } from "./model.js";

export const LEVELS = Object.freeze(["trace", "debug", "info", "warn", "error"]);

/**
 * A logger over `write(level, message)`; `prefix` tags every line.
 * @param {(level: string, message: string) => void} write
 * @param {string} [prefix]
 */
export function makeLogger(write, prefix = "") {
  const logger = {};
  for (const level of LEVELS) {
    logger[level] = (message) => write(level, prefix + String(message));
  }
  return logger;
}

/** The plugin's settings as JSON (`{}` when none), or a PluginError. */
export function parseSettings(text) {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new PluginError(`settings are not JSON: ${describeThrown(e)}`);
  }
}

/**
 * What a function exported to the host throws: a plain `{ruleId, message}`
 * record, which componentize-js lowers into `result::err(plugin-error)`.
 * (A thrown string would trap the instance instead.)
 */
export function toWitError(e) {
  if (e instanceof PluginError) return { ruleId: e.ruleId ?? undefined, message: e.message };
  return { ruleId: undefined, message: `stance-sdk: ${describeThrown(e)}` };
}

/** Run `f`; anything it throws leaves as a WIT plugin-error. */
export function guarded(f) {
  try {
    return f();
  } catch (e) {
    throw toWitError(e);
  }
}

/**
 * Settings parsed, checked against the declaration, with defaults filled in
 * and the plugin's own `validate` run; a PluginError names every problem.
 */
export function loadSettings(hostApi, header, validate) {
  const raw = parseSettings(hostApi.settings());
  const problems = settingsProblems(raw, header.settings);
  if (problems.length > 0) throw new PluginError(`invalid settings: ${problems.join("; ")}`);
  const settings = withDefaults(raw, header.settings);
  if (validate) {
    try {
      validate(settings);
    } catch (e) {
      if (e instanceof PluginError) throw e;
      throw new PluginError(`invalid settings: ${describeThrown(e)}`);
    }
  }
  return settings;
}
