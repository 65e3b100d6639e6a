// Kubelet image credential provider plugins, run as the kubelet runs them
// (pkg/credentialprovider/plugin/plugin.go): the request on stdin, the response read with the
// kubelet's checks in the kubelet's order, and the answer kept in memory per provider under the
// key its cacheKeyType names, for cacheDuration (else the provider's defaultCacheDuration).
// Any failure means "this provider contributes nothing": the caller logs it and moves on.

import { durationToMs, parseGoDuration } from "../kubelet/duration.ts";
import {
  CACHE_KEY_TYPES,
  type CacheKeyType,
  imageRegistry,
  type PluginAuth,
  REQUEST_KIND,
  RESPONSE_KIND,
} from "../kubelet/types.ts";
import { describeRun, type RunResult } from "./exec.ts";

export type { PluginAuth };

export interface PluginResponse {
  cacheKeyType: CacheKeyType;
  /** null when absent: the provider's defaultCacheDuration applies. */
  cacheDurationMs: number | null;
  /** The auth map in the order the plugin wrote it. */
  auth: [string, PluginAuth][];
}

/** The kubelet's request bytes: compact, kind first, a trailing newline. */
export const encodePluginRequest = (
  apiVersion: string,
  image: string,
  sa?: { token: string; annotations: Readonly<Record<string, string>> },
): string =>
  `${JSON.stringify(
    sa
      ? {
          kind: REQUEST_KIND,
          apiVersion,
          image,
          serviceAccountToken: sa.token,
          serviceAccountAnnotations: sa.annotations,
        }
      : { kind: REQUEST_KIND, apiVersion, image },
  )}\n`;

/** The first key that appears twice in one object of `text` (already known to be valid JSON), or null. */
export const duplicateKey = (text: string): string | null => {
  const stack: { keys: Set<string> | null; expectKey: boolean }[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return key;
        top.keys.add(key);
        top.expectKey = false;
      }
      i = j;
    } else if (c === "{") stack.push({ keys: new Set(), expectKey: true });
    else if (c === "[") stack.push({ keys: null, expectKey: false });
    else if (c === "}" || c === "]") stack.pop();
    else if (c === ",") {
      const top = stack[stack.length - 1];
      if (top?.keys) top.expectKey = true;
    }
  }
  return null;
};

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const jsonType = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

const DECODE_ERROR = "error decoding credential provider plugin response from stdout";

class StrictError extends Error {}

const strictString = (v: unknown, field: string): string => {
  if (v === undefined || v === null) return "";
  if (typeof v !== "string")
    throw new StrictError(`cannot unmarshal ${jsonType(v)} into field ${field} of type string`);
  return v;
};

const unknownFields = (obj: Record<string, unknown>, known: readonly string[], at: string): void => {
  const extra = Object.keys(obj).filter((k) => !known.includes(k));
  if (extra.length > 0) {
    throw new StrictError(`strict decoding error: ${extra.map((k) => `unknown field "${at}${k}"`).join(", ")}`);
  }
};

/**
 * Reads a plugin's stdout as the kubelet does: one JSON object, the configured apiVersion, a
 * strict decode (unknown, duplicate or wrongly-cased fields and wrong types are errors), kind
 * CredentialProviderResponse, a valid cacheKeyType. Throws an Error with the kubelet's message.
 */
export const decodePluginResponse = (stdout: string, apiVersion: string): PluginResponse => {
  let raw: unknown;
  try {
    raw = JSON.parse(stdout);
  } catch {
    throw new Error("error reading GVK from response: the output is not one JSON object");
  }
  if (!isObj(raw)) throw new Error(`error reading GVK from response: the output is a JSON ${jsonType(raw)}`);
  const got = typeof raw.apiVersion === "string" ? raw.apiVersion : "";
  if (got !== apiVersion) {
    throw new Error(
      `apiVersion from credential plugin response did not match expected apiVersion:${apiVersion} (got ${JSON.stringify(got)})`,
    );
  }
  let cacheKeyType: string;
  let cacheDurationMs: number | null = null;
  const auth: [string, PluginAuth][] = [];
  try {
    const dup = duplicateKey(stdout);
    if (dup !== null) throw new StrictError(`strict decoding error: duplicate field "${dup}"`);
    unknownFields(raw, ["kind", "apiVersion", "cacheKeyType", "cacheDuration", "auth"], "");
    const kind = strictString(raw.kind, "kind");
    if (kind !== RESPONSE_KIND) throw new StrictError(`unexpected kind ${JSON.stringify(kind)}`);
    cacheKeyType = strictString(raw.cacheKeyType, "cacheKeyType");
    const d = raw.cacheDuration;
    if (d !== undefined && d !== null) {
      if (typeof d !== "string") throw new StrictError(`cannot unmarshal ${jsonType(d)} into field cacheDuration`);
      try {
        cacheDurationMs = durationToMs(parseGoDuration(d));
      } catch (e) {
        throw new StrictError((e as Error).message);
      }
    }
    if (raw.auth !== undefined && raw.auth !== null) {
      if (!isObj(raw.auth)) throw new StrictError(`cannot unmarshal ${jsonType(raw.auth)} into field auth`);
      for (const [key, entry] of Object.entries(raw.auth)) {
        if (entry === null) {
          auth.push([key, { username: "", password: "" }]);
          continue;
        }
        if (!isObj(entry)) throw new StrictError(`cannot unmarshal ${jsonType(entry)} into field auth[${key}]`);
        unknownFields(entry, ["username", "password"], `auth[${key}].`);
        auth.push([
          key,
          {
            username: strictString(entry.username, `auth[${key}].username`),
            password: strictString(entry.password, `auth[${key}].password`),
          },
        ]);
      }
    }
  } catch (e) {
    // The detail helps whoever wrote the plugin; it never holds a credential value.
    if (e instanceof StrictError) throw new Error(`${DECODE_ERROR}: ${e.message}`);
    throw e;
  }
  if (!(CACHE_KEY_TYPES as readonly string[]).includes(cacheKeyType)) {
    throw new Error(`credential provider plugin did not return a valid cacheKeyType: ${JSON.stringify(cacheKeyType)}`);
  }
  return { cacheKeyType: cacheKeyType as CacheKeyType, cacheDurationMs, auth };
};

/** A finished plugin run → its response, or the kubelet's error text. */
export const interpretPluginRun = (r: RunResult, name: string, image: string, apiVersion: string): PluginResponse => {
  if (r.failure !== undefined || r.code !== 0) {
    throw new Error(`error execing credential provider plugin ${name} for image ${image}: ${describeRun(r, r.stderr)}`);
  }
  return decodePluginResponse(r.stdout, apiVersion);
};

export const GLOBAL_CACHE_KEY = "global";

/** How long an answer is kept: its cacheDuration, else the provider's default; 0 or less means not at all. */
export const keepForMs = (response: PluginResponse, defaultMs: number): number => response.cacheDurationMs ?? defaultMs;

/** The key an answer is kept under: the image, its registry or the global key, as its cacheKeyType says. */
export const pluginCacheKey = (image: string, type: CacheKeyType): string =>
  type === "Image" ? image : type === "Registry" ? imageRegistry(image) : GLOBAL_CACHE_KEY;

interface CacheEntry {
  response: PluginResponse;
  expiresAt: number;
}

/** One provider's answers, kept like the kubelet keeps them (an expiring store). */
export class PluginCache {
  readonly #entries = new Map<string, CacheEntry>();
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  #live(key: string): CacheEntry | undefined {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    if (this.#now() > e.expiresAt) {
      this.#entries.delete(key);
      return undefined;
    }
    return e;
  }

  /** The kubelet's order: the image, then its registry, then the global entry. */
  get(image: string): PluginResponse | undefined {
    return (this.#live(image) ?? this.#live(imageRegistry(image)) ?? this.#live(GLOBAL_CACHE_KEY))?.response;
  }

  /**
   * Keeps `response` under the key its cacheKeyType names. A cacheDuration of 0 is "do not keep"; an
   * absent one means `defaultMs` (0 there is also "do not keep"). Empty answers are kept too.
   * Returns when the entry expires, or null when it is not kept.
   */
  put(image: string, response: PluginResponse, defaultMs: number): number | null {
    const ms = keepForMs(response, defaultMs);
    if (ms <= 0) return null;
    const expiresAt = this.#now() + ms;
    this.keepUntil(image, response, expiresAt);
    return expiresAt;
  }

  /** Keeps an answer read from the shared file cache until its own expiry. */
  keepUntil(image: string, response: PluginResponse, expiresAt: number): void {
    const now = this.#now();
    for (const [k, e] of this.#entries) if (now > e.expiresAt) this.#entries.delete(k);
    this.#entries.set(pluginCacheKey(image, response.cacheKeyType), { response, expiresAt });
  }

  clear(): void {
    this.#entries.clear();
  }
}
