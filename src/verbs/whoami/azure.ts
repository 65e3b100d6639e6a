// Azure who-am-i for the operator verbs: the route's identity plan (providers/azure/plan.ts), then
// the provider's own source walk (providers/azure/credentials.ts entraToken: the same order, the
// same SDK credentials) for an Entra token for the registry's scope, whose claims say who it is:
// tenant (tid), object id (oid), application id (appid/azp), and for users their sign-in name.
// The token itself is never shown or kept.

import { NoIdentityError, oneLine } from "../../errors.ts";
import { createLogger, type Logger, scrub } from "../../log.ts";
import { entraToken } from "../../providers/azure/credentials.ts";
import { jwtPayload } from "../../providers/azure/exchange.ts";
import { azureIdentityPlan, scopeFor } from "../../providers/azure/plan.ts";
import { network } from "../../providers/network.ts";
import type { FetchContext, IdentityPlan } from "../../providers/types.ts";
import type { AcrRoute } from "../../resolver.ts";
import type { ChainStep, WhoAmI } from "./types.ts";

export interface AzureWhoOptions {
  env: FetchContext["env"];
  home: string;
  timeoutMs: number;
  now: () => number;
  log?: Logger;
}

const SOURCE_NAME: Record<string, string> = {
  kubelet: "kubelet service-account token",
  environment: "service principal (environment)",
  workload: "workload identity",
  managed: "managed identity",
  cli: "Azure CLI",
};

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/** Who an Entra access token stands for, from its claims; never the token. */
export const entraPrincipal = (
  claims: Record<string, unknown>,
): { principal: string; facts: Record<string, string> } => {
  const facts: Record<string, string> = {};
  const put = (k: string, v: unknown) => {
    const s = str(v);
    if (s) facts[k] = s;
  };
  put("tenant", claims.tid);
  put("objectId", claims.oid);
  put("appId", claims.appid ?? claims.azp);
  put("user", claims.upn ?? claims.unique_name ?? claims.preferred_username);
  put("type", claims.idtyp);
  const who = facts.user
    ? `user ${facts.user}`
    : facts.appId
      ? `application ${facts.appId}`
      : facts.objectId
        ? `object ${facts.objectId}`
        : "an identity without oid/appid claims";
  const parts = [facts.objectId && !who.includes(facts.objectId) ? `object id ${facts.objectId}` : ""].filter(Boolean);
  return {
    principal: `${who}${parts.length ? ` (${parts.join(", ")})` : ""} in tenant ${facts.tenant ?? "?"}`,
    facts,
  };
};

/** The plan's sources as the walk turned out: `used` answered, `failed` stopped the chain. */
const stepsFor = (
  plan: IdentityPlan,
  o: { used?: string; failed?: { label: string; why: string }; skipped?: string },
): ChainStep[] => {
  let reached = false;
  return plan.sources.map((s): ChainStep => {
    const source = SOURCE_NAME[s.kind] ?? s.kind;
    if (s.status === "unavailable") return { source, state: "absent", detail: s.reason ?? s.label };
    if (reached) return { source, state: "skipped", detail: `${s.label}: a source before it answered` };
    // entraToken names sources by the plan's labels (kubelet mode adds the client and tenant).
    if (o.used !== undefined && (s.label === o.used || s.kind === "kubelet")) {
      reached = true;
      return { source, state: "used", detail: o.used };
    }
    if (o.failed && (o.failed.label.startsWith(s.label) || s.kind === "kubelet")) {
      reached = true;
      return { source, state: "failed", detail: o.failed.why };
    }
    // entraToken's "no identity" message lists each source it skipped as "kind: why".
    const why = o.skipped ? new RegExp(`\\b${s.kind}: ([^;)]+)`).exec(o.skipped)?.[1] : undefined;
    return { source, state: "absent", detail: `${s.label}: ${why ?? "not available here"}` };
  });
};

export const whoAzure = async (route: AcrRoute, o: AzureWhoOptions): Promise<WhoAmI> => {
  const log = o.log ?? createLogger("silent", () => {});
  let plan: IdentityPlan;
  try {
    plan = azureIdentityPlan(route, o.env);
  } catch (e) {
    const why = scrub(oneLine(e));
    return { plan: { cloud: "azure", origin: "invalid", sources: [] }, steps: [], error: why };
  }
  const ctx: FetchContext = { env: o.env, home: o.home, requestTimeoutMs: o.timeoutMs, log, now: o.now };
  try {
    const { agent } = await network(o.env, log);
    const aad = await entraToken(route, ctx, scopeFor(route), agent);
    const claims = jwtPayload(aad.token);
    const steps = stepsFor(plan, { used: aad.label });
    if (!claims) return { plan, steps, via: "token claims", error: "the Entra token is not a JWT: no claims to read" };
    const { principal, facts } = entraPrincipal(claims);
    return { plan, steps, principal, facts, via: "the Entra token's claims (tid, oid, appid)" };
  } catch (e) {
    const why = scrub(oneLine(e));
    if (e instanceof NoIdentityError) return { plan, steps: stepsFor(plan, { skipped: why }), none: true, error: why };
    // A failing source's message starts with its label (providers/azure/credentials.ts).
    const at = plan.sources.find((s) => s.status !== "unavailable" && why.startsWith(s.label));
    return { plan, steps: stepsFor(plan, { failed: { label: at?.label ?? "", why } }), error: why };
  }
};
