// Azure credential discovery: the @azure/identity credential for each source of the plan, tried
// in order until one gives an Entra token. When every source was unavailable the machine has no
// Azure identity (NoIdentityError, negative-cached); a source that fails is a ProviderError naming
// registry, identity and fix.

import { access, constants } from "node:fs/promises";
import type { Agent } from "node:http";
import type { AccessToken, TokenCredential } from "@azure/identity";
import { path } from "../../builtins.ts";
import { withDeadline } from "../../deadline.ts";
import type { Env } from "../../env.ts";
import { ConfigError, NoIdentityError, ProviderError } from "../../errors.ts";
import { type AzureSource, managedIdentityHost, planAzure } from "../../identity/azure.ts";
import type { AcrRoute } from "../../resolver.ts";
import { proxyRefusal, recentProxyRefusal } from "../net-errors.ts";
import { METADATA_CONNECT_MS, reachable, recentNetworkError } from "../network.ts";
import type { FetchContext } from "../types.ts";
import { brief, FIX, firstSentence, isUnavailable, networkCause, networkHint } from "./errors.ts";
import { ANNOTATION_CLIENT_ID, ANNOTATION_TENANT_ID, type Authority, authorityFor } from "./plan.ts";

// The library's own IMDS probe timeout, stated here because "no identity" must stay cheap.
const IMDS_PROBE_TIMEOUT_MS = 1000;
// The library retries a 404/410 from IMDS 5 times (~25 s, for VMs whose identity is still being
// set up). A non-Azure metadata server (an EC2 or GCE host) answers 404 too; 2 retries bound that
// to ~2.5 s before the chain moves on to the Azure CLI.
const MI_MAX_RETRIES = 2;

interface Attempt {
  kind: string;
  label: string;
  unavailable?: string;
  make?: () => TokenCredential;
  /** The tenant this source authenticates in, when configuration says so. */
  tenantId: string | undefined;
}

type Identity = typeof import("@azure/identity");

/** Whether an executable `name` is in one of PATH's directories. */
const onPath = async (name: string, env: Env): Promise<boolean> => {
  for (const dir of (env.PATH ?? "").split(path.delimiter).filter(Boolean)) {
    try {
      await access(path.join(dir, name), constants.X_OK);
      return true;
    } catch {
      // next directory
    }
  }
  return false;
};

/**
 * Whether the managed identity endpoint MSAL will use accepts a connection: IMDS (or the pod
 * identity host that replaces it) within METADATA_CONNECT_MS; the App Service, Service Fabric,
 * Azure ML, Cloud Shell and Arc endpoints are named by their environment and not pre-checked.
 */
const managedEndpointReachable = async (env: Env): Promise<{ ok: boolean; why: string }> => {
  if (managedIdentityHost(env) !== "IMDS") return { ok: true, why: "" };
  const raw = env.AZURE_POD_IDENTITY_AUTHORITY_HOST || "http://169.254.169.254";
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return { ok: true, why: "" };
  }
  const port = Number(u.port) || (u.protocol === "https:" ? 443 : 80);
  return (await reachable(u.hostname, port))
    ? { ok: true, why: "" }
    : { ok: false, why: `no managed identity endpoint at ${u.host} (no connection within ${METADATA_CONNECT_MS} ms)` };
};

/** The sources to try, in order, and where that order came from (for the "no identity" message). */
const attemptsFor = (
  route: AcrRoute,
  ctx: FetchContext,
  sdk: () => Identity,
  authority: Authority,
  agent: Agent | undefined,
): { attempts: Attempt[]; origin: string } => {
  const env = ctx.env;
  const common = {
    ...(authority.host ? { authorityHost: authority.host } : {}),
    disableInstanceDiscovery: authority.disableInstanceDiscovery,
    // network.ts's proxy agent: it sends link-local IMDS directly, everything else per *_PROXY/NO_PROXY.
    ...(agent ? { agent: agent as never } : {}),
  };
  if (route.workload) {
    const { token, annotations } = route.workload;
    const clientId = annotations[ANNOTATION_CLIENT_ID];
    const tenantId = annotations[ANNOTATION_TENANT_ID];
    const missing = [clientId ? "" : ANNOTATION_CLIENT_ID, tenantId ? "" : ANNOTATION_TENANT_ID].filter(Boolean);
    if (!clientId || !tenantId) {
      throw new ProviderError(
        `${route.host}: the pod's service account lacks the ${missing.join(" and ")} annotation; annotate it with the client id and tenant of an identity that has AcrPull on the registry and trusts this service account's token`,
      );
    }
    const attempt: Attempt = {
      kind: "kubelet",
      label: `${route.identity.label} as client ${clientId} in tenant ${tenantId}`,
      tenantId,
      make: () => new (sdk().ClientAssertionCredential)(tenantId, clientId, async () => token, common),
    };
    return { attempts: [attempt], origin: "kubelet service-account token" };
  }
  const plan = planAzure(env, route.azure);
  if (plan.invalid) throw new ConfigError(plan.invalid);
  const { tenantId, clientId } = plan;
  const build = (s: AzureSource): Attempt => {
    const base = { kind: s.kind, label: s.label, ...(s.unavailable ? { unavailable: s.unavailable } : {}) };
    switch (s.kind) {
      case "environment":
        return {
          ...base,
          tenantId,
          make: () =>
            env.AZURE_CLIENT_SECRET
              ? new (sdk().ClientSecretCredential)(tenantId ?? "", clientId ?? "", env.AZURE_CLIENT_SECRET, common)
              : new (sdk().ClientCertificateCredential)(
                  tenantId ?? "",
                  clientId ?? "",
                  {
                    certificatePath: env.AZURE_CLIENT_CERTIFICATE_PATH ?? "",
                    ...(env.AZURE_CLIENT_CERTIFICATE_PASSWORD
                      ? { certificatePassword: env.AZURE_CLIENT_CERTIFICATE_PASSWORD }
                      : {}),
                  },
                  {
                    ...common,
                    sendCertificateChain: ["1", "true"].includes(
                      (env.AZURE_CLIENT_SEND_CERTIFICATE_CHAIN ?? "").toLowerCase(),
                    ),
                  },
                ),
        };
      case "workload":
        return {
          ...base,
          tenantId,
          make: () =>
            new (sdk().WorkloadIdentityCredential)({
              ...common,
              tenantId: tenantId ?? "",
              clientId: clientId ?? "",
              tokenFilePath: env.AZURE_FEDERATED_TOKEN_FILE ?? "",
            }),
        };
      case "managed":
        return {
          ...base,
          tenantId: undefined,
          // sendProbeRequest is what DefaultAzureCredential passes for its managed-identity link:
          // a short IMDS ping before MSAL's retrying request, so a machine without IMDS answers
          // "unavailable" within IMDS_PROBE_TIMEOUT_MS. (The library skips the ping when
          // AZURE_POD_IDENTITY_AUTHORITY_HOST is set.)
          make: () =>
            new (sdk().ManagedIdentityCredential)({
              ...(clientId ? { clientId } : {}),
              retryOptions: { maxRetries: MI_MAX_RETRIES },
              ...(agent ? { agent: agent as never } : {}),
              sendProbeRequest: true,
            } as ConstructorParameters<Identity["ManagedIdentityCredential"]>[0] & { sendProbeRequest: boolean }),
        };
      case "cli":
        return {
          ...base,
          tenantId: route.azure.tenantId,
          make: () =>
            new (sdk().AzureCliCredential)({
              ...(route.azure.tenantId ? { tenantId: route.azure.tenantId } : {}),
              processTimeoutInMs: ctx.requestTimeoutMs,
            }),
        };
    }
  };
  return { attempts: plan.sources.map(build), origin: plan.origin };
};

export interface EntraToken {
  token: string;
  label: string;
  kind: string;
  tenantId: string | undefined;
}

export const entraToken = async (
  route: AcrRoute,
  ctx: FetchContext,
  scope: string,
  agent: Agent | undefined,
): Promise<EntraToken> => {
  const { log } = ctx;
  const authority = authorityFor(route, ctx.env);
  log.debug(
    `azure: ${route.host}: scope ${scope}, authority ${authority.host ?? "(SDK default)"}${authority.disableInstanceDiscovery ? ", instance discovery off" : ""}`,
  );
  let id: Identity | undefined;
  const { attempts, origin } = attemptsFor(route, ctx, () => id as Identity, authority, agent);
  // What can be ruled out without the SDK: a managed identity endpoint that accepts no connection,
  // an Azure CLI that is not installed. When nothing is left, "no identity" costs no SDK load.
  if (!route.workload) {
    const [imds, cli] = await Promise.all([managedEndpointReachable(ctx.env), onPath("az", ctx.env)]);
    for (const a of attempts) {
      if (a.kind === "managed" && !a.unavailable && !imds.ok) a.unavailable = imds.why;
      if (a.kind === "cli" && !a.unavailable && !cli) a.unavailable = "Azure CLI (az) is not on PATH";
    }
  }
  if (attempts.some((a) => !a.unavailable)) id = await import("@azure/identity");
  const skipped: string[] = [];
  // Each source gets the whole budget: an HTTP timeout plus the library's own retries.
  const budgetMs = 2 * ctx.requestTimeoutMs;
  for (const a of attempts) {
    if (a.unavailable) {
      log.debug(`azure: skipping ${a.label}: ${a.unavailable}`);
      skipped.push(`${a.kind}: ${a.kind === "managed" || a.kind === "cli" ? a.unavailable : "not configured"}`);
      continue;
    }
    let got: AccessToken | null;
    const t0 = performance.now();
    try {
      const credential = (a.make as () => TokenCredential)();
      got = await withDeadline(
        credential.getToken(scope, {
          abortSignal: AbortSignal.timeout(budgetMs),
          ...(a.kind === "managed" ? { requestOptions: { timeout: IMDS_PROBE_TIMEOUT_MS } } : {}),
        }),
        budgetMs,
        () => new Error(`timed out after ${budgetMs / 1000} s`),
      );
    } catch (e) {
      if (isUnavailable(e)) {
        log.debug(`azure: ${a.label} is unavailable: ${brief(e)}`);
        skipped.push(`${a.kind}: ${firstSentence(e)}`);
        continue;
      }
      // A network, DNS, TLS or timeout failure is not the identity's fault: say so first.
      const seen = recentNetworkError();
      const found = networkCause(e);
      // A proxy that refused the tunnel (MSAL keeps only "network_error": the refusal of this attempt).
      const refused = proxyRefusal(e) ?? (found === "network error" ? recentProxyRefusal(t0) : undefined);
      if (refused) throw new ProviderError(`${a.label} could not reach Entra ID for ${route.host}: ${refused.message}`);
      const net = found === "network error" && seen ? seen.code : found;
      if (net) {
        throw new ProviderError(
          `${a.label} could not reach Entra ID for ${route.host} (${net}): ${brief(e)}; ${networkHint(net)}`,
        );
      }
      throw new ProviderError(
        `${a.label} could not get an Entra token for ${route.host}: ${brief(e)}; ${FIX[a.kind] ?? "check this identity"}`,
      );
    }
    if (!got?.token) {
      skipped.push(`${a.kind}: returned no token`);
      continue;
    }
    log.info(`azure: Entra token for ${route.host} from ${a.label}`);
    return { token: got.token, label: a.label, kind: a.kind, tenantId: a.tenantId };
  }
  throw new NoIdentityError(
    `no Azure identity for ${route.host} (${origin}: ${skipped.join("; ") || "no sources"}); set one up: az login, a service principal (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET), workload identity or a managed identity`,
  );
};
