// Detector plugins: rules with `onEvent(event, ctx)` (one event at a time) or
// `onBatch(events, ctx)` (correlation over the batch and the kept state)
// become the `detector-plugin` export. Host services are passed in.

import { guarded, loadSettings, makeLogger } from "./host.js";
import { pluginHeader, ruleInfo, typeMatches, uniqueIds } from "./definitions.js";
import { AlertBuilder, describeThrown, PluginError } from "./model.js";
import { Event } from "./records.js";

/**
 * Build the `detector-plugin` export from a definition.
 * @param {object} def see index.d.ts `DetectorDefinition`
 * @param {{log: (level: string, message: string) => void, settings: () => string}} hostApi
 * @param {object} state the store from state.js
 */
export function detectorExport(def, hostApi, state) {
  const header = pluginHeader(def);
  const rules = def.rules.map((r, n) => {
    const where = `plugin ${header.name}: rule #${n}`;
    if (r && r.resourceTypes !== undefined) {
      throw new TypeError(`stance-sdk: ${where}: a detector rule names log sources with \`sources\`, not resourceTypes`);
    }
    const info = ruleInfo({ ...r, resourceTypes: r?.sources }, where, ["*"]);
    const kinds = [typeof r.onEvent === "function", typeof r.onBatch === "function"].filter(Boolean).length;
    if (kinds !== 1) {
      throw new TypeError(`stance-sdk: rule ${info.id}: give exactly one of onEvent(event, ctx) and onBatch(events, ctx)`);
    }
    return { info, onEvent: r.onEvent, onBatch: r.onBatch };
  });
  uniqueIds(
    rules.map((r) => r.info),
    header.name,
  );
  const validate = def.validate;

  return {
    describe() {
      return guarded(() => {
        loadSettings(hostApi, header, validate);
        return { ...header, rules: rules.map((r) => r.info) };
      });
    },
    evaluate(batch) {
      return guarded(() => {
        const settings = loadSettings(hostApi, header, validate);
        const events = batch.map((raw) => new Event(raw));
        const alerts = [];
        for (const rule of rules) {
          const ctx = { settings, rule: rule.info, state, log: makeLogger(hostApi.log, `${rule.info.id}: `) };
          const mine = events.filter((e) => rule.info.resourceTypes.some((p) => typeMatches(p, e.source)));
          if (rule.onBatch) {
            alerts.push(...runBatch(rule, mine, ctx));
          } else {
            for (const event of mine) alerts.push(...runEvent(rule, event, ctx));
          }
        }
        return alerts;
      });
    },
  };
}

/**
 * A per-event rule on one event. A throw other than a PluginError is logged
 * (with the rule and event) and skips that event for that rule only.
 */
function runEvent(rule, event, ctx) {
  let out;
  try {
    out = rule.onEvent(event, ctx);
  } catch (e) {
    if (e instanceof PluginError) throw new PluginError(e.message, e.ruleId ?? rule.info.id);
    ctx.log.error(`event ${event.id} skipped: ${describeThrown(e)}`);
    if (e instanceof Error && e.stack) ctx.log.debug(e.stack);
    return [];
  }
  return finish(rule, out, event);
}

/**
 * A correlation rule on the batch. A throw fails the batch: the store may
 * hold half an update, and the host rolls it back only when the batch fails.
 */
function runBatch(rule, events, ctx) {
  let out;
  try {
    out = rule.onBatch(events, ctx);
  } catch (e) {
    if (e instanceof PluginError) throw new PluginError(e.message, e.ruleId ?? rule.info.id);
    throw new PluginError(`rule ${rule.info.id} threw ${describeThrown(e)}`, rule.info.id);
  }
  return finish(rule, out, undefined);
}

/** The WIT alerts of what a rule returned (nothing, one alert or a list). */
function finish(rule, out, event) {
  if (out === undefined || out === null) return [];
  const id = rule.info.id;
  if (typeof out.then === "function") {
    throw new PluginError(`rule ${id} must be synchronous; it returned a Promise`, id);
  }
  const list = Array.isArray(out) ? out : [out];
  return list.map((b) => {
    if (!(b instanceof AlertBuilder)) {
      throw new PluginError(`rule ${id} returned ${describeThrown(b)}; return alert(message), a list of them or nothing`, id);
    }
    if (b.eventIds.length === 0 && event) b.withEvents(event);
    if (b.eventIds.length === 0) {
      throw new PluginError(`rule ${id} returned an alert that names no events; call .withEvents(events)`, id);
    }
    const start = b.windowStart ?? b.eventStart;
    const end = b.windowEnd ?? b.eventEnd;
    if (start === undefined || end === undefined) {
      throw new PluginError(`rule ${id} returned an alert with no window; call .withWindow(start, end)`, id);
    }
    return {
      ruleId: id,
      severity: b.severity ?? rule.info.severity,
      title: b.title ?? rule.info.title,
      message: b.message,
      eventIds: b.eventIds,
      groupKey: b.groupKey,
      windowStart: start,
      windowEnd: end,
      evidence: b.evidence,
    };
  });
}
