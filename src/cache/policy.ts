// The cache policy in front of the providers: fresh entries are served without any network; on a
// miss one process per key fetches (the others wait on the lock and then read its result) and,
// in one process, concurrent callers for one key share one fetch; a stale-but-unexpired token is
// served if the refresh fails; "no identity here" is remembered briefly (negative cache).
// The freshness rules themselves are pure functions in entry.ts; the file cache is cache.ts.

import { fs } from "../builtins.ts";
import { NoIdentityError, oneLine } from "../errors.ts";
import type { Logger } from "../log.ts";
import { LockUnavailableError, type TokenCache } from "./cache.ts";
import { type Entry, isFresh, isUsable, type TokenEntry } from "./entry.ts";

/** What the policy needs to know about a route: its keys and its identity. */
export interface CacheTarget {
  host: string;
  cacheKey: string;
  negativeKey: string;
  identity: { label: string; watch: readonly string[] };
}

/** A freshly fetched token, as a provider returns it. */
export interface Fetched {
  username: string;
  secret: string;
  expiresAt: number;
}

export interface PolicyDeps {
  cache: TokenCache;
  log: Logger;
  now: () => number;
  /** How long "no identity here" is remembered; 0 turns the negative cache off. */
  negativeTtlMs: number;
}

/** mtimes of the identity files: a negative entry is void once any of them changes. */
export const fingerprint = async (files: readonly string[]): Promise<string> => {
  const parts = await Promise.all(
    files.map(async (f) => {
      try {
        return `${f}@${fs.statSync(f).mtimeMs}`;
      } catch {
        return `${f}@-`;
      }
    }),
  );
  return parts.join("|");
};

// In-process single flight, per cache: the library may ask for one registry many times at once.
const inFlight = new WeakMap<TokenCache, Map<string, Promise<TokenEntry>>>();

/** The token for `target`: from cache when fresh, else from `fetch`, under the rules above. */
export const cachedToken = (
  target: CacheTarget,
  fetch: () => Promise<Fetched>,
  deps: PolicyDeps,
): Promise<TokenEntry> => {
  const flights = inFlight.get(deps.cache) ?? new Map<string, Promise<TokenEntry>>();
  inFlight.set(deps.cache, flights);
  const running = flights.get(target.cacheKey);
  if (running) return running;
  const p = policy(target, fetch, deps).finally(() => flights.delete(target.cacheKey));
  flights.set(target.cacheKey, p);
  return p;
};

const policy = async (target: CacheTarget, fetch: () => Promise<Fetched>, deps: PolicyDeps): Promise<TokenEntry> => {
  const { cache, log, now } = deps;
  const all = await cache.readAll();
  const hit = all[target.cacheKey];
  if (hit?.kind === "token" && isFresh(hit, now())) {
    log.debug(`cache hit for ${target.host} (${target.identity.label})`);
    return hit;
  }
  // Past half-life, or absent. A still-usable token beats "no identity here": an instance
  // metadata blip must not turn private pulls into anonymous ones.
  const serveStale = (stale: TokenEntry | undefined, why: string): TokenEntry | undefined => {
    if (!stale || !isUsable(stale, now())) return undefined;
    log.warn(
      `refreshing the token for ${target.host} failed (${why}); serving the cached one, valid until ${new Date(stale.expiresAt).toISOString()}`,
    );
    return stale;
  };
  const knownAbsent = async (entries: Record<string, Entry>): Promise<string | undefined> => {
    const negative = entries[target.negativeKey];
    if (negative?.kind !== "none" || now() >= negative.expiresAt) return undefined;
    if (negative.fingerprint !== (await fingerprint(target.identity.watch))) return undefined;
    return negative.host ? negative.reason.split(negative.host).join(target.host) : negative.reason;
  };
  const absent = await knownAbsent(all);
  if (absent !== undefined) {
    const stale = serveStale(hit?.kind === "token" ? hit : undefined, absent);
    if (stale) return stale;
    throw new NoIdentityError(absent);
  }
  const fetchOnce = async (): Promise<TokenEntry> => {
    // Another process may have fetched (or learnt there is no identity) while we waited.
    const latest = await cache.readAll();
    const again = latest[target.cacheKey];
    if (again?.kind === "token" && isFresh(again, now())) return again;
    const stale = again?.kind === "token" ? again : hit?.kind === "token" ? hit : undefined;
    const absentNow = await knownAbsent(latest);
    if (absentNow !== undefined) {
      const served = serveStale(stale, absentNow);
      if (served) return served;
      throw new NoIdentityError(absentNow);
    }
    try {
      const token = await fetch();
      const entry: TokenEntry = {
        kind: "token",
        username: token.username,
        secret: token.secret,
        fetchedAt: now(),
        expiresAt: token.expiresAt,
        host: target.host,
        identity: target.identity.label,
      };
      await cache.put(target.cacheKey, entry).catch((e) => log.warn(`could not write the token cache: ${oneLine(e)}`));
      log.info(`fetched a token for ${target.host} with ${target.identity.label}`);
      return entry;
    } catch (e) {
      if (e instanceof NoIdentityError && deps.negativeTtlMs > 0) {
        const at = now();
        await cache
          .put(target.negativeKey, {
            kind: "none",
            fetchedAt: at,
            expiresAt: at + deps.negativeTtlMs,
            fingerprint: await fingerprint(target.identity.watch),
            reason: e.message,
            host: target.host,
          })
          .catch(() => {});
      }
      const served = serveStale(stale, oneLine(e));
      if (served) return served;
      throw e;
    }
  };
  try {
    return await cache.withLock(target.cacheKey, fetchOnce);
  } catch (e) {
    if (e instanceof LockUnavailableError) {
      log.warn(`token cache lock unavailable (${oneLine(e)}); fetching without it`);
      return fetchOnce();
    }
    throw e;
  }
};
