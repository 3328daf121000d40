// A stand-in for the WIT host under Node: settings text, a log that records
// lines, and a Map-backed state store with an optional byte quota.

export function fakeHost(settings = {}) {
  const lines = [];
  return {
    lines,
    api: {
      log: (level, message) => lines.push(`${level} ${message}`),
      settings: () => (typeof settings === "string" ? settings : JSON.stringify(settings)),
    },
  };
}

export function fakeStore(quota = Infinity) {
  const map = new Map();
  const used = () => [...map].reduce((n, [k, v]) => n + k.length + v.length, 0);
  return {
    map,
    raw: {
      get: (k) => map.get(k),
      set: (k, v) => {
        const before = map.get(k);
        map.set(k, v);
        if (used() > quota) {
          if (before === undefined) map.delete(k);
          else map.set(k, before);
          throw { payload: `state quota exceeded: over the limit of ${quota} bytes` };
        }
      },
      delete: (k) => map.delete(k),
      keys: (prefix) => [...map.keys()].filter((k) => k.startsWith(prefix)).sort(),
    },
  };
}

export const bucket = (id, body, extra = {}) => ({
  id,
  resourceType: "aws_s3_bucket",
  provider: "aws",
  account: "123456789012",
  region: "us-east-1",
  name: id.split(":").pop(),
  tags: [{ key: "env", value: "prod" }],
  collectedAt: "2026-11-01T00:00:00Z",
  body: typeof body === "string" ? body : JSON.stringify(body),
  ...extra,
});
