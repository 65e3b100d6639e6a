// The Azure identity plan and the registry's Entra parameters (authority, scope), from
// configuration and environment only: pure and exported so that the operator verbs (`doctor`,
// `explain`) show the order credentials.ts walks. The order itself is identity/azure.ts's planAzure
// (the first four links of DefaultAzureCredential: environment, workload, managed, cli, narrowed by
// the rule's `credential` or AZURE_TOKEN_CREDENTIALS); in kubelet service-account token mode the
// pod's token is the only source.

import type { Env } from "../../env.ts";
import { ConfigError } from "../../errors.ts";
import { planAzure } from "../../identity/azure.ts";
import type { AzureCloud } from "../../registry/hosts.ts";
import type { AcrRoute } from "../../resolver.ts";
import type { IdentityPlan } from "../types.ts";

/** The ACR audience: accepted by every registry, whatever its "authentication-as-arm" policy. */
export const ACR_SCOPE = "https://containerregistry.azure.net/.default";

/** Entra authority per registry cloud (the values of @azure/identity's AzureAuthorityHosts). */
export const CLOUD_AUTHORITY: Readonly<Record<AzureCloud, string | undefined>> = {
  AzurePublicCloud: "https://login.microsoftonline.com",
  AzureChinaCloud: "https://login.chinacloudapi.cn",
  AzureUSGovernment: "https://login.microsoftonline.us",
  Custom: undefined,
};
/** Authorities MSAL knows without instance discovery (AzureAuthorityHosts, Germany included). */
const KNOWN_AUTHORITIES = new Set([
  "https://login.microsoftonline.com",
  "https://login.chinacloudapi.cn",
  "https://login.microsoftonline.us",
  "https://login.microsoftonline.de",
]);

// Kubelet service-account token mode: the annotations the Azure credential provider reads.
export const ANNOTATION_CLIENT_ID = "kubernetes.azure.com/acr-client-id";
export const ANNOTATION_TENANT_ID = "kubernetes.azure.com/acr-tenant-id";

export interface Authority {
  /** undefined: the SDK default (AZURE_AUTHORITY_HOST, else the public cloud). */
  host: string | undefined;
  /** MSAL cannot validate a host it does not know without internet access: skip that lookup. */
  disableInstanceDiscovery: boolean;
}

const origin = (url: string, what: string): string => {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`${what}: "${url}" is not a URL`);
  }
  if (u.protocol !== "https:") throw new ConfigError(`${what}: "${url}" must be an https URL`);
  return u.origin;
};

/** The Entra authority for a registry: the rule's, else its cloud's, else AZURE_AUTHORITY_HOST. */
export const authorityFor = (route: AcrRoute, env: Env): Authority => {
  const configured = route.azure.authorityHost;
  const host = configured
    ? origin(configured, `azure.authorityHost for ${route.host}`)
    : (CLOUD_AUTHORITY[route.cloud] ??
      (env.AZURE_AUTHORITY_HOST ? origin(env.AZURE_AUTHORITY_HOST, "AZURE_AUTHORITY_HOST") : undefined));
  return { host, disableInstanceDiscovery: host !== undefined && !KNOWN_AUTHORITIES.has(host) };
};

/** The rule's scope (a bare resource gets "/.default"), else the ACR audience. */
export const scopeFor = (route: AcrRoute): string => {
  const s = route.azure.scope?.trim();
  if (!s) return ACR_SCOPE;
  return s.endsWith("/.default") ? s : `${s}/.default`;
};

/**
 * The sources an ACR route's Entra token may come from, in order. Sources that configuration rules
 * out are "unavailable"; the rest are "probe": @azure/identity decides at fetch time (a missing
 * token file, no IMDS, no `az`) and the first that answers is used.
 */
export const azureIdentityPlan = (route: AcrRoute, env: Env): IdentityPlan => {
  if (route.workload) {
    const clientId = route.workload.annotations[ANNOTATION_CLIENT_ID];
    const tenantId = route.workload.annotations[ANNOTATION_TENANT_ID];
    return {
      cloud: "azure",
      origin: "kubelet service-account token",
      sources: [
        clientId && tenantId
          ? {
              kind: "kubelet",
              label: `service-account token as client ${clientId} in tenant ${tenantId}`,
              status: "selected",
            }
          : {
              kind: "kubelet",
              label: "service-account token",
              status: "unavailable",
              reason: `the service account lacks ${[clientId ? "" : ANNOTATION_CLIENT_ID, tenantId ? "" : ANNOTATION_TENANT_ID].filter(Boolean).join(" and ")}`,
            },
      ],
    };
  }
  const plan = planAzure(env, route.azure);
  if (plan.invalid) throw new ConfigError(plan.invalid);
  return {
    cloud: "azure",
    origin: plan.origin,
    sources: plan.sources.map((s, i) => {
      if (s.unavailable) return { kind: s.kind, label: s.label, status: "unavailable" as const, reason: s.unavailable };
      // A configured service principal or workload identity either answers or fails: it never
      // hands over to the next source. Managed identity and the CLI are found out by trying.
      const before = plan.sources.slice(0, i).find((x) => !x.unavailable);
      if (before && (before.kind === "environment" || before.kind === "workload"))
        return { kind: s.kind, label: s.label, status: "available" as const };
      const decisive = s.kind === "environment" || s.kind === "workload";
      return { kind: s.kind, label: s.label, status: decisive ? ("selected" as const) : ("probe" as const) };
    }),
  };
};
