// The `stance:plugin/state` import, which only the detector world grants.
// Keep it in its own module: with "sideEffects": false, a policy plugin's
// bundle drops this module and never asks for the import.

import { delete as witDelete, get, keys, set } from "stance:plugin/state@0.1.0";
import { createState } from "./state.js";

/** The detector's key-value store, kept by the host across batches and reloads. */
export const state = createState({ get, set, delete: witDelete, keys });
