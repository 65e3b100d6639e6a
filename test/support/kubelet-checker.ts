// A kubelet-faithful reader of credential provider plugin output (pkg/credentialprovider/plugin
// ExecPlugin + decodeResponse + provide, and the keyring's Lookup). It accepts exactly what the
// kubelet accepts and fails with the kubelet's own stage message otherwise (plus a detail for the
// test log), so a test that passes here is a response the kubelet would use:
//   1. exit status 0 (otherwise stdout is ignored);
//   2. GVK interpretation: a single JSON object (encoding/json: case-insensitive keys, last wins);
//   3. the GroupVersion equal to the configured apiVersion (the request's);
//   4. strict decoding: unknown, duplicate or wrongly-cased fields, wrong JSON types, a kind that
//      is not CredentialProviderResponse, a cacheDuration Go's time.ParseDuration refuses;
//   5. cacheKeyType one of Image, Registry, Global;
//   6. in service-account mode with cacheType other than Token, no password equal to the token.
// On top of the kubelet's rules (our own contract, switchable off): every auth key must match the
// image with the kubelet's glob rules, and cacheDuration must be Go's String() of whole seconds.
//
// Independent of the code under test on purpose: it has its own duplicate-detecting JSON parser
// (JSON.parse silently keeps the last duplicate) and its own duration reader. Only the glob
// matcher is shared (src/glob.ts, itself tested against the kubelet's table).
import { parseSchemelessUrl, urlsMatchStr } from "../../src/registry/glob.ts";

export type JVal =
  | { t: "obj"; entries: [string, JVal][] }
  | { t: "arr"; items: JVal[] }
  | { t: "str"; v: string }
  | { t: "num"; raw: string }
  | { t: "bool"; v: boolean }
  | { t: "null" };

export class JsonSyntaxError extends Error {
  override name = "JsonSyntaxError";
}

/** RFC 8259 JSON, as Go's decoder reads it, keeping every key (duplicates included) in order. */
export const parseJsonKeepingKeys = (text: string): JVal => {
  let i = 0;
  const fail = (what: string): never => {
    throw new JsonSyntaxError(`${what} at offset ${i}`);
  };
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i] as string)) i++;
  };
  const str = (): string => {
    if (text[i] !== '"') fail("expected a string");
    i++;
    let out = "";
    for (;;) {
      if (i >= text.length) fail("unterminated string");
      const c = text[i] as string;
      if (c === '"') {
        i++;
        return out;
      }
      if (c.charCodeAt(0) < 0x20) fail("control character in string");
      if (c === "\\") {
        const e = text[i + 1];
        const simple: Record<string, string> = {
          '"': '"',
          "\\": "\\",
          "/": "/",
          b: "\b",
          f: "\f",
          n: "\n",
          r: "\r",
          t: "\t",
        };
        if (e !== undefined && simple[e] !== undefined) {
          out += simple[e];
          i += 2;
        } else if (e === "u") {
          const hex = text.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail("bad \\u escape");
          out += String.fromCharCode(Number.parseInt(hex, 16));
          i += 6;
        } else fail("bad escape");
        continue;
      }
      out += c;
      i++;
    }
  };
  const value = (): JVal => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const entries: [string, JVal][] = [];
      ws();
      if (text[i] === "}") {
        i++;
        return { t: "obj", entries };
      }
      for (;;) {
        ws();
        const k = str();
        ws();
        if (text[i] !== ":") fail("expected ':'");
        i++;
        entries.push([k, value()]);
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return { t: "obj", entries };
        }
        fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const items: JVal[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return { t: "arr", items };
      }
      for (;;) {
        items.push(value());
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return { t: "arr", items };
        }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return { t: "str", v: str() };
    const lit = /^(true|false|null)/.exec(text.slice(i));
    if (lit) {
      i += (lit[1] as string).length;
      return lit[1] === "null" ? { t: "null" } : { t: "bool", v: lit[1] === "true" };
    }
    const num = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (num && num[0] !== "") {
      i += num[0].length;
      return { t: "num", raw: num[0] };
    }
    return fail(i >= text.length ? "unexpected end of JSON input" : `invalid character ${JSON.stringify(c)}`);
  };
  const v = value();
  ws();
  if (i !== text.length) fail("invalid character after top-level value");
  return v;
};

// ---------------------------------------------------------------------------------------------
// Go durations (time.ParseDuration), independent of src/kubelet/duration.ts.

const DURATION_RE = /^[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$/;
const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Nanoseconds (as a float; exact enough for checks) or null when Go would refuse the text. */
export const goDurationNs = (s: string): number | null => {
  if (!DURATION_RE.test(s)) return null;
  const sign = s.startsWith("-") ? -1 : 1;
  const body = s.replace(/^[-+]/, "");
  if (body === "0") return 0;
  let total = 0;
  for (const m of body.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) {
    total += Number(m[1]) * (UNIT_NS[m[2] as string] as number);
  }
  // time.ParseDuration refuses anything beyond int64 nanoseconds (about 292 years).
  if (total > 9.223372036854775e18) return null;
  return sign * total;
};

/** Go's Duration.String() for whole seconds, computed independently: 0s, 45s, 1m30s, 6h0m0s. */
export const goStringOfSeconds = (t: number): string => {
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const s = t % 60;
  return h > 0 ? `${h}h${m}m${s}s` : m > 0 ? `${m}m${s}s` : `${s}s`;
};

// ---------------------------------------------------------------------------------------------

export interface Auth {
  username: string;
  password: string;
}

export interface DecodedResponse {
  kind: string;
  apiVersion: string;
  cacheKeyType: string;
  /** null when absent or null: the provider's defaultCacheDuration applies. */
  cacheDuration: string | null;
  cacheDurationNs: number | null;
  auth: Record<string, Auth>;
}

export interface CheckOptions {
  /** The provider's configured apiVersion (= the request's). */
  apiVersion: string;
  /** The image the kubelet asked about. */
  image: string;
  /** Service-account mode: the token the kubelet sent, and the config's cacheType. */
  serviceAccountToken?: string;
  cacheType?: "Token" | "ServiceAccount";
  /** Our own contract on top of the kubelet's rules (default true). */
  strictContract?: boolean;
}

export interface Checked {
  response: DecodedResponse;
  /** What the kubelet's keyring hands to the runtime for `image`, in the order it tries them. */
  lookup: Auth[];
}

/** The kubelet would not use the response; `message` starts with the kubelet's own text. */
export class KubeletRejection extends Error {
  override name = "KubeletRejection";
}

const reject = (stage: string, detail: string): never => {
  throw new KubeletRejection(`${stage}: ${detail}`);
};

const DECODE = "error decoding credential provider plugin response from stdout";
const GROUP = "credentialprovider.kubelet.k8s.io";
const VERSIONS = ["v1", "v1beta1", "v1alpha1"];
const KINDS = ["CredentialProviderRequest", "CredentialProviderResponse"];

const jtype = (v: JVal): string =>
  ({ obj: "object", arr: "array", str: "string", num: "number", bool: "bool", null: "null" })[v.t];

/** Strict: each key known exactly (case-sensitive), at most once. */
const strictFields = (o: { entries: [string, JVal][] }, known: readonly string[], at: string): Map<string, JVal> => {
  const out = new Map<string, JVal>();
  for (const [k, v] of o.entries) {
    const path = at ? `${at}.${k}` : k;
    if (!known.includes(k)) reject(DECODE, `strict decoding error: unknown field ${JSON.stringify(path)}`);
    if (out.has(k)) reject(DECODE, `strict decoding error: duplicate field ${JSON.stringify(path)}`);
    out.set(k, v);
  }
  return out;
};

const strField = (v: JVal | undefined, path: string): string => {
  if (v === undefined || v.t === "null") return "";
  if (v.t !== "str") return reject(DECODE, `cannot unmarshal ${jtype(v)} into ${path} of type string`);
  return v.v;
};

/** The kubelet's decoding of `stdout` for a provider configured with `opts.apiVersion`. */
export const decodeResponse = (stdout: string, opts: CheckOptions): DecodedResponse => {
  // 2. GVK, read like encoding/json into {apiVersion, kind}.
  let doc: JVal;
  try {
    doc = parseJsonKeepingKeys(stdout);
  } catch (e) {
    return reject("error reading GVK from response", (e as Error).message);
  }
  let gvApi = "";
  let gvKind = "";
  if (doc.t === "obj") {
    for (const [k, v] of doc.entries) {
      const lk = k.toLowerCase();
      if (lk !== "apiversion" && lk !== "kind") continue;
      if (v.t !== "str" && v.t !== "null") reject("error reading GVK from response", `${k} is a ${jtype(v)}`);
      const s = v.t === "str" ? v.v : "";
      if (lk === "apiversion") gvApi = s;
      else gvKind = s;
    }
  } else if (doc.t !== "null") reject("error reading GVK from response", `top-level value is a ${jtype(doc)}`);
  if (gvApi.split("/").length > 2)
    reject("error reading GVK from response", `unexpected GroupVersion string: ${gvApi}`);
  // 3. The version must be the configured one.
  if (gvApi !== opts.apiVersion) {
    reject(
      "apiVersion from credential plugin response did not match expected apiVersion",
      `expected ${opts.apiVersion}, actual ${gvApi}`,
    );
  }
  // 4. Strict decoding into the registered type, then the kind check.
  if (gvKind === "") reject(DECODE, "Object 'Kind' is missing");
  const [group, version] = gvApi.split("/");
  if (group !== GROUP || !VERSIONS.includes(version ?? "") || !KINDS.includes(gvKind)) {
    reject(DECODE, `no kind ${JSON.stringify(gvKind)} is registered for version ${JSON.stringify(gvApi)}`);
  }
  if (doc.t !== "obj") return reject(DECODE, "not an object");
  if (gvKind !== "CredentialProviderResponse") reject(DECODE, `unexpected Kind: ${JSON.stringify(gvKind)}`);
  const f = strictFields(doc, ["kind", "apiVersion", "cacheKeyType", "cacheDuration", "auth"], "");
  const kind = strField(f.get("kind"), "kind");
  const apiVersion = strField(f.get("apiVersion"), "apiVersion");
  const cacheKeyType = strField(f.get("cacheKeyType"), "cacheKeyType");
  let cacheDuration: string | null = null;
  let cacheDurationNs: number | null = null;
  const d = f.get("cacheDuration");
  if (d !== undefined && d.t !== "null") {
    if (d.t !== "str") reject(DECODE, `cacheDuration is a ${jtype(d)}, not a duration string`);
    cacheDuration = (d as { v: string }).v;
    cacheDurationNs = goDurationNs(cacheDuration);
    if (cacheDurationNs === null) reject(DECODE, `time: invalid duration ${JSON.stringify(cacheDuration)}`);
  }
  const auth: Record<string, Auth> = {};
  const a = f.get("auth");
  if (a !== undefined && a.t !== "null") {
    if (a.t !== "obj") return reject(DECODE, `auth is a ${jtype(a)}, not an object`);
    const seen = new Set<string>();
    for (const [key, entry] of a.entries) {
      if (seen.has(key)) reject(DECODE, `strict decoding error: duplicate field ${JSON.stringify(`auth.${key}`)}`);
      seen.add(key);
      if (entry.t === "null") {
        auth[key] = { username: "", password: "" };
        continue;
      }
      if (entry.t !== "obj") return reject(DECODE, `auth[${JSON.stringify(key)}] is a ${jtype(entry)}`);
      const ef = strictFields(entry, ["username", "password"], `auth.${key}`);
      auth[key] = {
        username: strField(ef.get("username"), `auth.${key}.username`),
        password: strField(ef.get("password"), `auth.${key}.password`),
      };
    }
  }
  return { kind, apiVersion, cacheKeyType, cacheDuration, cacheDurationNs, auth };
};

/** BasicDockerKeyring: keys normalized, deduplicated, reverse-sorted; every match in that order. */
export const keyringLookup = (auth: Record<string, Auth>, image: string): Auth[] => {
  const byKey = new Map<string, Auth[]>();
  for (const [loc, creds] of Object.entries(auth)) {
    const value = loc.replace(/^https?:\/\//, "");
    const u = parseSchemelessUrl(value);
    if (!u) continue;
    let path = u.path;
    if (path.startsWith("/v2/") || path.startsWith("/v1/")) path = path.slice(3);
    const host = u.port ? `${u.host}:${u.port}` : u.host;
    const key = path.length > 0 && path !== "/" ? host + path : host;
    byKey.set(key, [...(byKey.get(key) ?? []), creds]);
  }
  const index = [...byKey.keys()].sort().reverse();
  const out: Auth[] = [];
  for (const k of index) if (urlsMatchStr(k, image)) out.push(...(byKey.get(k) ?? []));
  if (out.length > 0) return out;
  const first = image.split("/")[0] ?? "";
  const isHub =
    !first.includes(".") && !first.includes(":") ? true : first === "docker.io" || first === "index.docker.io";
  return isHub ? (byKey.get("index.docker.io") ?? []) : [];
};

/** Everything the kubelet does with a plugin's answer, plus our own contract. Throws KubeletRejection. */
export const checkResponse = (stdout: string, opts: CheckOptions): Checked => {
  const response = decodeResponse(stdout, opts);
  // 5.
  if (!["Image", "Registry", "Global"].includes(response.cacheKeyType)) {
    reject("credential provider plugin did not return a valid cacheKeyType", JSON.stringify(response.cacheKeyType));
  }
  // 6.
  if (opts.serviceAccountToken && opts.cacheType !== "Token") {
    for (const [k, v] of Object.entries(response.auth)) {
      if (v.password === opts.serviceAccountToken) {
        reject("credential provider plugin returned the service account token as the password", k);
      }
    }
  }
  if (opts.strictContract ?? true) {
    for (const key of Object.keys(response.auth)) {
      if (!urlsMatchStr(key.replace(/^https?:\/\//, ""), opts.image)) {
        reject("contract: auth key does not match the image", `${key} vs ${opts.image}`);
      }
    }
    if (response.cacheDuration !== null) {
      const ns = response.cacheDurationNs as number;
      const secs = ns / 1e9;
      if (!Number.isInteger(secs) || secs < 0 || goStringOfSeconds(secs) !== response.cacheDuration) {
        reject("contract: cacheDuration is not Go's String() of whole non-negative seconds", response.cacheDuration);
      }
    }
  }
  return { response, lookup: keyringLookup(response.auth, opts.image) };
};

export interface PluginRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A successful plugin run as the kubelet sees it: exit 0, then checkResponse. */
export const checkRun = (r: PluginRun, opts: CheckOptions): Checked => {
  if (r.code !== 0) {
    reject("error execing credential provider plugin", `exit status ${r.code}: ${r.stderr.trim()}`);
  }
  return checkResponse(r.stdout, opts);
};
