// The `stance:plugin/host` import (log, settings), the one place the SDK
// touches it. The import resolves only inside a component: esbuild leaves it
// external and componentize-js links it to the host.

import { log as witLog, settings as witSettings } from "stance:plugin/host@0.1.0";
import { makeLogger, parseSettings } from "./host.js";

/** Host functions as the policy and detector engines take them. */
export const hostApi = Object.freeze({ log: witLog, settings: witSettings });

/** A line in Stance's log, tagged with the plugin's name: `log.info("...")`. */
export const log = makeLogger(witLog);

/** The plugin's settings as configured (parsed JSON, `{}` when none; no defaults applied). */
export function getSettings() {
  return parseSettings(witSettings());
}
