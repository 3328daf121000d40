// Policy plugins: a definition of rules with `check(asset, ctx)` functions
// becomes the `policy-plugin` export (describe, evaluate). Host services are
// passed in, so the same code runs in the component and under Node tests.

import { guarded, loadSettings, makeLogger } from "./host.js";
import { pluginHeader, ruleInfo, typeMatches, uniqueIds } from "./definitions.js";
import { describeThrown, PluginError } from "./model.js";
import { Asset } from "./records.js";

const STATUSES = new Set(["pass", "fail", "error"]);

/**
 * Build the `policy-plugin` export from a definition.
 * @param {object} def see index.d.ts `PolicyDefinition`
 * @param {{log: (level: string, message: string) => void, settings: () => string}} hostApi
 */
export function policyExport(def, hostApi) {
  const header = pluginHeader(def);
  const rules = def.rules.map((r, n) => {
    const info = ruleInfo(r, `plugin ${header.name}: rule #${n}`, ["*"]);
    if (typeof r.check !== "function") {
      throw new TypeError(`stance-sdk: rule ${info.id}: check(asset, ctx) must be a function`);
    }
    return { info, check: r.check };
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
      return guarded(() => evaluateBatch(rules, batch, loadSettings(hostApi, header, validate), hostApi));
    },
  };
}

function evaluateBatch(rules, batch, settings, hostApi) {
  const findings = [];
  const contexts = rules.map((r) => ({
    settings,
    rule: r.info,
    log: makeLogger(hostApi.log, `${r.info.id}: `),
  }));
  for (const raw of batch) {
    const asset = new Asset(raw);
    rules.forEach((rule, n) => {
      if (!rule.info.resourceTypes.some((p) => typeMatches(p, asset.resourceType))) return;
      const finding = runCheck(rule, asset, contexts[n]);
      if (finding) findings.push(finding);
    });
  }
  return findings;
}

/** One rule on one asset: its finding, `null` when it does not apply. */
function runCheck(rule, asset, ctx) {
  const id = rule.info.id;
  let verdict;
  try {
    verdict = rule.check(asset, ctx);
  } catch (e) {
    if (e instanceof PluginError) throw new PluginError(e.message, e.ruleId ?? id);
    if (e instanceof Error && e.stack) ctx.log.debug(`on ${asset.id}: ${e.stack}`);
    return errorFinding(id, asset, `rule ${id} threw ${describeThrown(e)}`);
  }
  if (verdict === undefined || verdict === null) return null;
  if (typeof verdict.then === "function") {
    return errorFinding(id, asset, `rule ${id}: check must be synchronous; it returned a Promise`);
  }
  if (typeof verdict !== "object" || !STATUSES.has(verdict.status) || !Array.isArray(verdict.evidence)) {
    return errorFinding(
      id,
      asset,
      `rule ${id}: check returned ${describeThrown(verdict)}; return pass(), fail(message), error(message) or nothing`,
    );
  }
  return {
    ruleId: id,
    assetId: asset.id,
    status: verdict.status,
    severity: verdict.severity ?? undefined,
    message: verdict.message ?? "",
    evidence: verdict.evidence,
  };
}

function errorFinding(ruleId, asset, message) {
  return { ruleId, assetId: asset.id, status: "error", severity: undefined, message, evidence: [] };
}
