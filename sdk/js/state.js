// The detector's key-value store, over raw get/set/delete/keys functions (the
// WIT `state` import in a component, a Map under Node tests), with text and
// JSON helpers. A refused write (quota) throws a PluginError: the batch fails
// and the host rolls the store back to where it was before the batch.

import { describeThrown, PluginError } from "./model.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * @param {{get: (k: string) => Uint8Array|undefined, set: (k: string, v: Uint8Array) => void,
 *          delete: (k: string) => void, keys: (prefix: string) => string[]}} raw
 */
export function createState(raw) {
  const store = {
    /** The bytes stored under `key`, or `undefined`. */
    get(key) {
      const v = raw.get(String(key));
      return v === undefined || v === null ? undefined : v;
    },
    /** Store bytes (a Uint8Array) or text (a string, as UTF-8). */
    set(key, value) {
      const bytes = typeof value === "string" ? encoder.encode(value) : value;
      if (!(bytes instanceof Uint8Array)) {
        throw new TypeError(`state ${key}: a value must be a Uint8Array or a string`);
      }
      try {
        raw.set(String(key), bytes);
      } catch (e) {
        throw new PluginError(`state ${key}: ${refusal(e)}`);
      }
    },
    delete(key) {
      raw.delete(String(key));
    },
    /** Keys that start with `prefix`, in byte order. */
    keys(prefix = "") {
      return raw.keys(String(prefix));
    },
    /** The text stored under `key` (UTF-8), or `undefined`. */
    getText(key) {
      const v = store.get(key);
      return v === undefined ? undefined : decoder.decode(v);
    },
    setText(key, text) {
      store.set(key, String(text));
    },
    /** The JSON value stored under `key`, or `undefined`; a PluginError when it is not JSON. */
    getJson(key) {
      const text = store.getText(key);
      if (text === undefined) return undefined;
      try {
        return JSON.parse(text);
      } catch (e) {
        throw new PluginError(`state ${key}: stored value is not JSON: ${describeThrown(e)}`);
      }
    },
    setJson(key, value) {
      const text = JSON.stringify(value);
      if (text === undefined) throw new TypeError(`state ${key}: ${typeof value} cannot be stored as JSON`);
      store.set(key, text);
    },
  };
  return Object.freeze(store);
}

/** The host's reason for refusing a write (componentize-js puts it in `payload`). */
function refusal(e) {
  if (e && typeof e === "object" && "payload" in e) return String(e.payload);
  return describeThrown(e);
}
