// The one entry into the credential core: `credentialsFor(host, { workload }, deps)`. Every adapter
// calls it — the Docker helper, the kubelet plugin, the keyring's built-in clouds and the human
// verbs. It resolves the host to a route (resolver.ts), then asks the cache policy
// (cache/policy.ts) for a token, which loads the route's provider only on a miss.

import type { TokenCache } from "./cache/cache.ts";
import type { TokenEntry } from "./cache/entry.ts";
import { cachedToken, fingerprint } from "./cache/policy.ts";
import { NoRouteError } from "./errors.ts";
import type { Logger } from "./log.ts";
import type { FetchContext, Interaction, ProviderLoader } from "./providers/types.ts";
import { type Route, resolveRoute, type Workload } from "./resolver.ts";
import type { Settings } from "./settings.ts";

export { fingerprint };

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

export interface CredentialRequest {
  /** Kubelet service-account token mode: act as the pod's identity instead of the node's. */
  workload?: Workload;
  /**
   * Whether a provider may ask on the terminal (an AWS MFA code): "terminal" only from the Docker
   * helper's `get`; else why not (the failure's hint). Absent: nothing is asked (the library).
   */
  interaction?: Interaction;
}

/** Credentials and the route that produced them (adapters name the provider in their messages). */
export interface Answer extends Credentials {
  route: Route;
}

const toCredentials = (e: TokenEntry, route: Route): Credentials => ({
  username: e.username,
  secret: e.secret,
  expiresAt: e.expiresAt,
  source: `${route.provider} (${route.identity.label})`,
});

/** A token for an already resolved `route`, from cache when fresh, else from its provider. */
export const routeToken = async (
  route: Route,
  deps: CredentialDeps,
  interaction?: Interaction,
): Promise<Credentials> => {
  const { log, now } = deps;
  const fetch = async () => {
    const { env, home, requestTimeoutMs } = deps.settings;
    const ctx: FetchContext = { env, home, requestTimeoutMs, log, now, ...(interaction ? { interaction } : {}) };
    const provider = await deps.loadProvider(route.provider);
    return provider.fetchToken(route, ctx);
  };
  const entry = await cachedToken(route, fetch, {
    cache: deps.cache,
    log,
    now,
    negativeTtlMs: deps.settings.negativeTtlMs,
  });
  return toCredentials(entry, route);
};

/**
 * The core entry: credentials for a registry host (as parsed by hosts.ts, port kept), acting as
 * the workload when one is given. A host no provider serves is a NoRouteError (a NotFoundError).
 */
export const credentialsFor = async (
  host: string,
  request: CredentialRequest,
  deps: CredentialDeps,
): Promise<Answer> => {
  const route = resolveRoute(host, deps.settings, request.workload);
  if (!route) throw new NoRouteError(`no provider for ${host}`);
  return { ...(await routeToken(route, deps, request.interaction)), route };
};

/** Credentials for a registry host with the node's (the user's) own identity. */
export const hostCredentials = async (
  host: string,
  deps: CredentialDeps,
  request: Pick<CredentialRequest, "interaction"> = {},
): Promise<Credentials> => {
  const { route: _route, ...creds } = await credentialsFor(host, request, deps);
  return creds;
};
