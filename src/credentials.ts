// The credential service: route → token, through the shared cache.
// Fresh cache entries are served without any network; on a miss one process per key fetches
// (the others wait on the lock and then read its result); a stale-but-unexpired token is served
// if the refresh fails; "no identity here" is remembered briefly (negative cache).

import { fs } from "./builtins.ts";
import { LockUnavailableError, type TokenCache } from "./cache/cache.ts";
import { type Entry, isFresh, isUsable, type TokenEntry } from "./cache/entry.ts";
import { NoIdentityError, NotFoundError, oneLine } from "./errors.ts";
import type { Logger } from "./log.ts";
import type { FetchContext, ProviderLoader } from "./providers/types.ts";
import { type Route, resolveRoute } from "./resolver.ts";
import type { Settings } from "./settings.ts";

export interface Credentials {
  username: string;
  secret: string;
  /** Epoch ms; undefined for static credentials. */
  expiresAt: number | undefined;
  /** Where the credentials came from, for logs and diagnosis. */
  source: string;
}

export interface CredentialDeps {
  settings: Settings;
  log: Logger;
  cache: TokenCache;
  now: () => number;
  loadProvider: ProviderLoader;
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

const toCredentials = (e: TokenEntry, route: Route): Credentials => ({
  username: e.username,
  secret: e.secret,
  expiresAt: e.expiresAt,
  source: `${route.provider} (${route.identity.label})`,
});

/** A token for `route`, from cache when fresh, else from the provider. */
export const routeToken = async (route: Route, deps: CredentialDeps): Promise<Credentials> => {
  const { cache, log, now } = deps;
  const all = await cache.readAll();
  const hit = all[route.cacheKey];
  if (hit?.kind === "token" && isFresh(hit, now())) {
    log.debug(`cache hit for ${route.host} (${route.identity.label})`);
    return toCredentials(hit, route);
  }
  // Past half-life, or absent. A still-usable token beats "no identity here": an instance
  // metadata blip must not turn private pulls into anonymous ones.
  const serveStale = (stale: TokenEntry | undefined, why: string): Credentials | undefined => {
    if (!stale || !isUsable(stale, now())) return undefined;
    log.warn(
      `refreshing the token for ${route.host} failed (${why}); serving the cached one, valid until ${new Date(stale.expiresAt).toISOString()}`,
    );
    return toCredentials(stale, route);
  };
  const knownAbsent = async (entries: Record<string, Entry>): Promise<string | undefined> => {
    const negative = entries[route.negativeKey];
    if (negative?.kind !== "none" || now() >= negative.expiresAt) return undefined;
    return negative.fingerprint === (await fingerprint(route.identity.watch)) ? negative.reason : undefined;
  };
  const absent = await knownAbsent(all);
  if (absent !== undefined) {
    const stale = serveStale(hit?.kind === "token" ? hit : undefined, absent);
    if (stale) return stale;
    throw new NoIdentityError(absent);
  }
  const fetchOnce = async (): Promise<Credentials> => {
    // Another process may have fetched (or learnt there is no identity) while we waited.
    const latest = await cache.readAll();
    const again = latest[route.cacheKey];
    if (again?.kind === "token" && isFresh(again, now())) return toCredentials(again, route);
    const stale = again?.kind === "token" ? again : hit?.kind === "token" ? hit : undefined;
    const absentNow = await knownAbsent(latest);
    if (absentNow !== undefined) {
      const served = serveStale(stale, absentNow);
      if (served) return served;
      throw new NoIdentityError(absentNow);
    }
    const { env, home, requestTimeoutMs } = deps.settings;
    const ctx: FetchContext = { env, home, requestTimeoutMs, log, now };
    try {
      const provider = await deps.loadProvider(route.provider);
      const token = await provider.fetchToken(route, ctx);
      const entry: TokenEntry = {
        kind: "token",
        username: token.username,
        secret: token.secret,
        fetchedAt: now(),
        expiresAt: token.expiresAt,
        host: route.host,
        identity: route.identity.label,
      };
      await cache.put(route.cacheKey, entry).catch((e) => log.warn(`could not write the token cache: ${oneLine(e)}`));
      log.info(`fetched a token for ${route.host} with ${route.identity.label}`);
      return toCredentials(entry, route);
    } catch (e) {
      if (e instanceof NoIdentityError && deps.settings.negativeTtlMs > 0) {
        const at = now();
        await cache
          .put(route.negativeKey, {
            kind: "none",
            fetchedAt: at,
            expiresAt: at + deps.settings.negativeTtlMs,
            fingerprint: await fingerprint(route.identity.watch),
            reason: e.message,
          })
          .catch(() => {});
      }
      const served = serveStale(stale, oneLine(e));
      if (served) return served;
      throw e;
    }
  };
  try {
    return await cache.withLock(route.cacheKey, fetchOnce);
  } catch (e) {
    if (e instanceof LockUnavailableError) {
      log.warn(`token cache lock unavailable (${oneLine(e)}); fetching without it`);
      return fetchOnce();
    }
    throw e;
  }
};

/** Credentials for a registry host: the cloud route, else NotFound. */
export const hostCredentials = async (host: string, deps: CredentialDeps): Promise<Credentials> => {
  const route = resolveRoute(host, deps.settings);
  if (!route) throw new NotFoundError(`no provider for ${host}`);
  return routeToken(route, deps);
};
