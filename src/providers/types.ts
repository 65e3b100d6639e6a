// The contract between the credential service and a cloud provider. A provider module is
// imported only on a cache miss; it imports its SDK inside fetchToken.

import type { Logger } from "../log.ts";
import type { Route } from "../resolver.ts";
import type { Settings } from "../settings.ts";

export interface Token {
  username: string;
  secret: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

export interface FetchContext {
  settings: Settings;
  log: Logger;
  now: () => number;
}

export interface ProviderModule {
  /**
   * Throws NoIdentityError when the machine has no identity for this cloud at all, and
   * ProviderError (one line: cause and next step) when an identity exists but fails.
   */
  fetchToken(route: Route, ctx: FetchContext): Promise<Token>;
}

export type ProviderLoader = (name: Route["provider"]) => Promise<ProviderModule>;

/** The real providers, each loaded on first use. */
export const loadProvider: ProviderLoader = async (name) => {
  switch (name) {
    case "ecr":
    case "ecr-public":
      return import("./ecr.ts");
    case "google":
      return import("./google.ts");
    case "acr":
      return import("./acr.ts");
  }
};
