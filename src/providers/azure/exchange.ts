// The ACR half of the flow: an Entra token exchanged at https://<registry>/oauth2/exchange for an
// ACR refresh token, and the refresh token's lifetime. @azure/core-rest-pipeline is imported here,
// on a cache miss only.

import type { Agent } from "node:http";
import { ProviderError } from "../../errors.ts";
import { scrub } from "../../log.ts";
import type { AcrRoute } from "../../resolver.ts";
import { VERSION } from "../../version.ts";
import { proxyRefusal } from "../net-errors.ts";
import type { FetchContext } from "../types.ts";
import type { EntraToken } from "./credentials.ts";
import { brief } from "./errors.ts";
import { ACR_SCOPE } from "./plan.ts";

/** A JWT's payload, unverified (we only read claims of tokens we were just given); null if not a JWT. */
export const jwtPayload = (token: string): Record<string, unknown> | null => {
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const v = JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as unknown;
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
};

/** Epoch ms of a refresh token's `exp`, or undefined when it carries none. */
export const refreshTokenExpiry = (token: string): number | undefined => {
  const exp = jwtPayload(token)?.exp;
  return typeof exp === "number" && Number.isFinite(exp) && exp > 0 ? exp * 1000 : undefined;
};

// Refresh tokens have always been JWTs with `exp` (~3 h). Should one ever come without it, assume
// a short life so the cache refreshes early rather than serving an expired token.
export const FALLBACK_LIFETIME_MS = 60 * 60_000;

export const exchange = async (
  route: AcrRoute,
  ctx: FetchContext,
  scope: string,
  aad: EntraToken,
  agent: Agent | undefined,
): Promise<string> => {
  const rest = await import("@azure/core-rest-pipeline");
  // The same HTTP stack as @azure/identity: HTTPS_PROXY/NO_PROXY and NODE_EXTRA_CA_CERTS apply.
  // Deliberately no redirect policy: the body carries an Entra token and goes to the registry only.
  const pipeline = rest.createEmptyPipeline();
  pipeline.addPolicy(rest.userAgentPolicy({ userAgentPrefix: `docker-credential-cloud/${VERSION}` }));
  pipeline.addPolicy(rest.exponentialRetryPolicy({ maxRetries: 1, retryDelayInMs: 200, maxRetryDelayInMs: 1000 }));
  // network.ts's agent when a proxy is configured (the proxy policy then leaves the request alone).
  if (agent) pipeline.addPolicy(rest.agentPolicy(agent as never));
  pipeline.addPolicy(rest.proxyPolicy(rest.getDefaultProxySettings()));
  // "tenant when known": the one the identity was configured for, else the token's own `tid`.
  const tid = jwtPayload(aad.token)?.tid;
  const tenant = aad.tenantId ?? (typeof tid === "string" ? tid : undefined);
  // A mirror host gets its ACR's token: the exchange is the login server's.
  const server = route.loginServer;
  const form = new URLSearchParams({ grant_type: "access_token", service: server });
  if (tenant) form.set("tenant", tenant);
  form.set("access_token", aad.token);
  const url = `https://${server}/oauth2/exchange`;
  const request = rest.createPipelineRequest({
    url,
    method: "POST",
    headers: rest.createHttpHeaders({
      "Content-Type": "application/x-www-form-urlencoded",
      Accept: "application/json",
    }),
    body: form.toString(),
    timeout: ctx.requestTimeoutMs,
  });
  let status: number;
  let body: string;
  try {
    const response = await pipeline.sendRequest(rest.createDefaultHttpClient(), request);
    status = response.status;
    body = response.bodyAsText ?? "";
  } catch (e) {
    const refused = proxyRefusal(e);
    if (refused) throw new ProviderError(`the token exchange at ${url} failed: ${refused.message}`);
    const code = (e as { code?: string }).code;
    throw new ProviderError(
      `could not reach ${url}${code ? ` (${code})` : ""}: ${brief(e)}; check network, proxy (HTTPS_PROXY, NO_PROXY) and that ${server} is the registry's login server`,
    );
  }
  const detail = (): string => {
    try {
      const errors = (JSON.parse(body) as { errors?: { message?: string }[] }).errors;
      const m = errors
        ?.map((x) => x.message)
        .filter(Boolean)
        .join("; ");
      if (m) return scrub(m).slice(0, 200);
    } catch {
      // not JSON: fall through
    }
    return scrub(body.replace(/\s+/g, " ").trim()).slice(0, 200);
  };
  if (status === 401 || status === 403) {
    const arm = !scope.startsWith("https://containerregistry.azure.net/");
    throw new ProviderError(
      `${server} refused the Entra token of ${aad.label} (HTTP ${status}${detail() ? `: ${detail()}` : ""}); grant that identity the AcrPull role on the registry${arm ? `, or use the ACR scope ${ACR_SCOPE} (registries may refuse ARM-audience tokens)` : ""}`,
    );
  }
  if (status === 404) {
    throw new ProviderError(`${url} answered 404: ${server} does not look like an Azure container registry`);
  }
  if (status !== 200) {
    throw new ProviderError(`the token exchange at ${url} failed (HTTP ${status}${detail() ? `: ${detail()}` : ""})`);
  }
  let refresh: unknown;
  try {
    refresh = (JSON.parse(body) as { refresh_token?: unknown }).refresh_token;
  } catch {
    refresh = undefined;
  }
  if (typeof refresh !== "string" || refresh === "") {
    throw new ProviderError(`the token exchange at ${url} returned no refresh_token`);
  }
  return refresh;
};
