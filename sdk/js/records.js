// Assets and events as the plugin sees them: the WIT records with tags as an
// object, the JSON body parsed once on first use, and typed field access by
// path (`asset.fieldString("versioning.status")`).

import { field, fieldArray, fieldBoolean, fieldNumber, fieldObject, fieldString } from "./fields.js";
import { describeThrown } from "./model.js";

/** Parse a body once, on first use, with an error that names the record. */
function parsedBody(record, what) {
  if (record._parsed === undefined) {
    try {
      record._parsed = { value: JSON.parse(record.bodyText) };
    } catch (e) {
      record._parsed = { error: `${what} ${record.id}: body is not JSON: ${describeThrown(e)}` };
    }
  }
  if (record._parsed.error) throw new Error(record._parsed.error);
  return record._parsed.value;
}

/** Typed field accessors shared by assets and events (over `this.body`). */
const fieldMethods = {
  field(path) {
    return field(this.body, path);
  },
  fieldString(path) {
    return fieldString(this.body, path);
  },
  fieldNumber(path) {
    return fieldNumber(this.body, path);
  },
  fieldBoolean(path) {
    return fieldBoolean(this.body, path);
  },
  fieldArray(path) {
    return fieldArray(this.body, path);
  },
  fieldObject(path) {
    return fieldObject(this.body, path);
  },
};

/** One cloud resource as the host sent it, with its body parsed on first use. */
export class Asset {
  /** @param {object} raw the WIT record (`resourceType`, `collectedAt`, tags as a list, body as JSON text) */
  constructor(raw) {
    this.id = raw.id;
    this.resourceType = raw.resourceType;
    this.provider = raw.provider;
    this.account = raw.account;
    this.region = raw.region;
    this.name = raw.name;
    this.collectedAt = raw.collectedAt;
    /** Tags as an object of key to value. */
    this.tags = Object.fromEntries((raw.tags ?? []).map((t) => [t.key, t.value]));
    /** The body as the host sent it (JSON text). */
    this.bodyText = raw.body;
    Object.defineProperty(this, "_parsed", { value: undefined, writable: true, enumerable: false });
  }

  /** The body as a JSON value (parsed once; throws when it is not JSON). */
  get body() {
    return parsedBody(this, "asset");
  }

  /** The value of tag `key`, or `undefined` when the asset does not carry it. */
  tag(key) {
    return Object.hasOwn(this.tags, key) ? this.tags[key] : undefined;
  }
}
Object.assign(Asset.prototype, fieldMethods);

/** One audit-log record (CloudTrail first), with its body parsed on first use. */
export class Event {
  /** @param {object} raw the WIT record (body as JSON text) */
  constructor(raw) {
    this.id = raw.id;
    this.source = raw.source;
    this.time = raw.time;
    this.account = raw.account;
    this.region = raw.region;
    this.bodyText = raw.body;
    Object.defineProperty(this, "_parsed", { value: undefined, writable: true, enumerable: false });
  }

  /** The raw record as a JSON value (parsed once; throws when it is not JSON). */
  get body() {
    return parsedBody(this, "event");
  }
}
Object.assign(Event.prototype, fieldMethods);
