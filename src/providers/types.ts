// The contract between the credential service and a cloud provider. A provider module is
// imported only on a cache miss (see index.ts); it imports its SDK inside fetchToken.

import type { Env } from "../env.ts";
import type { Logger } from "../log.ts";
import type { Route } from "../resolver.ts";

export interface Token {
  username: string;
  secret: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

/**
 * What a provider receives besides the route: only what it uses, never the whole Settings.
 * `env` is the environment read once at the edge (the SDKs' own AWS_*, GOOGLE_*, AZURE_*, proxy
 * and CA variables); `home` locates the clouds' well-known files; `requestTimeoutMs` bounds each
 * HTTP call (a whole fetch gets a few of them).
 */
export interface FetchContext {
  env: Env;
  home: string;
  requestTimeoutMs: number;
  log: Logger;
  now: () => number;
  /** Whether a person may be asked on the terminal (an AWS MFA code); NO_PROMPT when absent. */
  interaction?: Interaction;
}

/**
 * "terminal": a provider may ask on the controlling terminal (only the Docker helper's `get`
 * allows it); otherwise nothing is asked and `never` says why, for the failure's hint ("the
 * kubelet cannot answer an MFA prompt"). Set by the adapter, never guessed from the environment.
 */
export type Interaction = "terminal" | { never: string };

/** What callers that say nothing get: the library, the operator verbs. */
export const NO_PROMPT: Interaction = { never: "nothing is asked on a terminal here (only `get` asks)" };

export interface ProviderModule {
  /**
   * Throws NoIdentityError when the machine has no identity for this cloud at all, and
   * ProviderError (one line: cause and next step) when an identity exists but fails.
   */
  fetchToken(route: Route, ctx: FetchContext): Promise<Token>;
}

export type ProviderLoader = (name: Route["provider"]) => Promise<ProviderModule>;

/**
 * One source of identity in a cloud's precedence order, as an identity plan lists it (see
 * aws/plan.ts, google/plan.ts, azure/plan.ts).
 *   selected     this source is the one used (the first that applies);
 *   available    configured here, but a source before it was selected;
 *   probe        decided only at fetch time by asking the network (a metadata server, the Azure CLI);
 *   unavailable  ruled out by configuration or files alone (`reason` says why).
 */
export interface IdentitySource {
  kind: string;
  /** Names the source for people; never a secret. */
  label: string;
  status: "selected" | "available" | "probe" | "unavailable";
  reason?: string;
}

/** A cloud's identity sources for one route, in precedence order, from configuration and files only. */
export interface IdentityPlan {
  cloud: "aws" | "google" | "azure";
  /** Where the order comes from ("kubelet service-account token", "default chain", "config credential: cli"). */
  origin: string;
  sources: IdentitySource[];
  /** Then, e.g. "assume role arn:…" or "impersonate sa@p.iam.gserviceaccount.com". */
  afterwards?: string;
}
