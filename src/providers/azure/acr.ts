// Azure Container Registry. Imported on a cache miss only; @azure/identity and
// @azure/core-rest-pipeline are imported inside fetchToken.
//
// Flow: an Entra access token for the ACR audience (or the scope a rule configures) from the
// first identity source that is available (plan.ts, credentials.ts), exchanged (exchange.ts) at
// https://<registry>/oauth2/exchange for an ACR refresh token. Docker gets the fixed GUID user and
// the refresh token; the cache keeps it until half the refresh token's `exp`.
//
// Error taxonomy, as @azure/identity defines it: CredentialUnavailableError means "this source is
// not set up here, try the next"; anything else stops the chain. When every source was
// unavailable the machine has no Azure identity (NoIdentityError, negative-cached); a source that
// fails, or a registry that refuses the token, is a ProviderError naming registry, identity and fix.

import { ProviderError } from "../../errors.ts";
import type { Route } from "../../resolver.ts";
import { network } from "../network.ts";
import { summarizePlan } from "../plan-log.ts";
import type { FetchContext, Token } from "../types.ts";
import { entraToken } from "./credentials.ts";
import { exchange, FALLBACK_LIFETIME_MS, refreshTokenExpiry } from "./exchange.ts";
import { azureIdentityPlan, scopeFor } from "./plan.ts";

export { brief } from "./errors.ts";
export { jwtPayload, refreshTokenExpiry } from "./exchange.ts";
export {
  ACR_SCOPE,
  ANNOTATION_CLIENT_ID,
  ANNOTATION_TENANT_ID,
  type Authority,
  authorityFor,
  azureIdentityPlan,
  CLOUD_AUTHORITY,
  scopeFor,
} from "./plan.ts";

/** The user name ACR expects with a refresh token (what `az acr login --expose-token` prints). */
export const ACR_USERNAME = "00000000-0000-0000-0000-000000000000";

export const fetchToken = async (route: Route, ctx: FetchContext): Promise<Token> => {
  if (route.provider !== "acr") throw new Error(`acr provider cannot serve ${route.provider}`);
  const scope = scopeFor(route);
  const { agent } = await network(ctx.env, ctx.log);
  ctx.log.debug(`azure: ${route.host}: identity sources: ${summarizePlan(azureIdentityPlan(route, ctx.env))}`);
  if (route.loginServer !== route.host) {
    ctx.log.debug(`azure: ${route.host} is configured as a mirror of ${route.loginServer}: that registry's token`);
  }
  const aad = await entraToken(route, ctx, scope, agent);
  const refresh = await exchange(route, ctx, scope, aad, agent);
  const now = ctx.now();
  let expiresAt = refreshTokenExpiry(refresh);
  if (expiresAt === undefined) {
    ctx.log.debug(`azure: the refresh token for ${route.host} carries no exp; assuming one hour`);
    expiresAt = now + FALLBACK_LIFETIME_MS;
  } else if (expiresAt <= now) {
    throw new ProviderError(
      `${route.loginServer} returned a refresh token that expired at ${new Date(expiresAt).toISOString()}; check this machine's clock`,
    );
  }
  return { username: ACR_USERNAME, secret: refresh, expiresAt };
};
