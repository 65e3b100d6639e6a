// Azure Container Registry. Imported on a cache miss only; @azure/identity and
// @azure/core-rest-pipeline are imported inside fetchToken.
//
// Flow: an Entra access token for the ACR audience (or the scope a rule configures) from the
// first identity source that is available (see identity/azure.ts for the order), exchanged at
// https://<registry>/oauth2/exchange for an ACR refresh token. Docker gets the fixed GUID user and
// the refresh token; the cache keeps it until half the refresh token's `exp`.
//
// Error taxonomy, as @azure/identity defines it: CredentialUnavailableError means "this source is
// not set up here, try the next"; anything else stops the chain. When every source was
// unavailable the machine has no Azure identity (NoIdentityError, negative-cached); a source that
// fails, or a registry that refuses the token, is a ProviderError naming registry, identity and fix.

import type { AccessToken, TokenCredential } from "@azure/identity";
import { ConfigError, NoIdentityError, oneLine, ProviderError } from "../errors.ts";
import { type AzureSource, planAzure } from "../identity/azure.ts";
import { scrub } from "../log.ts";
import type { AzureCloud } from "../registry/hosts.ts";
import type { AcrRoute, Route } from "../resolver.ts";
import { VERSION } from "../version.ts";
import { withDeadline } from "./deadline.ts";
import type { FetchContext, Token } from "./types.ts";

/** The user name ACR expects with a refresh token (what `az acr login --expose-token` prints). */
export const ACR_USERNAME = "00000000-0000-0000-0000-000000000000";
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

// The library's own IMDS probe timeout, stated here because "no identity" must stay cheap.
const IMDS_PROBE_TIMEOUT_MS = 1000;
// The library retries a 404/410 from IMDS 5 times (~25 s, for VMs whose identity is still being
// set up). A non-Azure metadata server (an EC2 or GCE host) answers 404 too; 2 retries bound that
// to ~2.5 s before the chain moves on to the Azure CLI.
const MI_MAX_RETRIES = 2;

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
export const authorityFor = (route: AcrRoute, env: FetchContext["settings"]["env"]): Authority => {
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
const FALLBACK_LIFETIME_MS = 60 * 60_000;

/** An SDK error as one short line: MSAL's "Error(s): … Description: X - Correlation ID: …" becomes X. */
export const brief = (e: unknown): string => {
  let text = scrub(oneLine(e)).replace(/\s*See the troubleshooting guide.*$/i, "");
  const described = /^([\w-]+): .*?Description: (.*?)(?: - Correlation ID:.*)?$/.exec(text);
  if (described) text = `${described[1]}: ${described[2]}`;
  text = text.replace(/\s*Trace ID: .*$/, "");
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
};

/** The gist of an SDK message ("Azure CLI could not be found."), for the one-line summary. */
const firstSentence = (e: unknown): string => {
  const text = brief(e).replace(/^\w+Credential: /, "");
  const m = /^.*?[.!](?=\s|$)/.exec(text);
  const s = (m ? m[0] : text).replace(/\.$/, "");
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
};

const isUnavailable = (e: unknown): boolean =>
  e instanceof Error &&
  (e.name === "CredentialUnavailableError" ||
    (e.name === "AggregateAuthenticationError" &&
      ((e as Error & { errors?: unknown[] }).errors ?? []).every(
        (x) => x instanceof Error && x.name === "CredentialUnavailableError",
      )));

const FIX: Readonly<Record<string, string>> = {
  environment: "check AZURE_CLIENT_SECRET or the certificate, and that the app exists in that tenant",
  workload: "check the federated identity credential (issuer, subject, audience) of that client id",
  managed: "check that the managed identity is assigned to this host (and the client id, if set)",
  cli: "run az login (with --tenant if the registry's tenant differs)",
  kubelet: "check the federated identity credential of that client id for this service account",
};

interface Attempt {
  kind: string;
  label: string;
  unavailable?: string;
  make?: () => TokenCredential;
  /** The tenant this source authenticates in, when configuration says so. */
  tenantId: string | undefined;
}

type Identity = typeof import("@azure/identity");

/** The sources to try, in order, and where that order came from (for the "no identity" message). */
const attemptsFor = (
  route: AcrRoute,
  ctx: FetchContext,
  id: Identity,
  authority: Authority,
): { attempts: Attempt[]; origin: string } => {
  const env = ctx.settings.env;
  const common = {
    ...(authority.host ? { authorityHost: authority.host } : {}),
    disableInstanceDiscovery: authority.disableInstanceDiscovery,
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
      make: () => new id.ClientAssertionCredential(tenantId, clientId, async () => token, common),
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
              ? new id.ClientSecretCredential(tenantId ?? "", clientId ?? "", env.AZURE_CLIENT_SECRET, common)
              : new id.ClientCertificateCredential(
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
            new id.WorkloadIdentityCredential({
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
            new id.ManagedIdentityCredential({
              ...(clientId ? { clientId } : {}),
              retryOptions: { maxRetries: MI_MAX_RETRIES },
              sendProbeRequest: true,
            } as ConstructorParameters<typeof id.ManagedIdentityCredential>[0] & { sendProbeRequest: boolean }),
        };
      case "cli":
        return {
          ...base,
          tenantId: route.azure.tenantId,
          make: () =>
            new id.AzureCliCredential({
              ...(route.azure.tenantId ? { tenantId: route.azure.tenantId } : {}),
              processTimeoutInMs: ctx.settings.requestTimeoutMs,
            }),
        };
    }
  };
  return { attempts: plan.sources.map(build), origin: plan.origin };
};

/** `p`, or a "timed out" error after `ms`: a backstop for retries the library cannot abort. */
interface EntraToken {
  token: string;
  label: string;
  kind: string;
  tenantId: string | undefined;
}

const entraToken = async (route: AcrRoute, ctx: FetchContext, id: Identity, scope: string): Promise<EntraToken> => {
  const { log } = ctx;
  const authority = authorityFor(route, ctx.settings.env);
  log.debug(
    `azure: ${route.host}: scope ${scope}, authority ${authority.host ?? "(SDK default)"}${authority.disableInstanceDiscovery ? ", instance discovery off" : ""}`,
  );
  const { attempts, origin } = attemptsFor(route, ctx, id, authority);
  const skipped: string[] = [];
  // Each source gets the whole budget: an HTTP timeout plus the library's own retries.
  const budgetMs = 2 * ctx.settings.requestTimeoutMs;
  for (const a of attempts) {
    if (a.unavailable) {
      log.debug(`azure: skipping ${a.label}: ${a.unavailable}`);
      skipped.push(`${a.kind}: not configured`);
      continue;
    }
    let got: AccessToken | null;
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

const exchange = async (route: AcrRoute, ctx: FetchContext, scope: string, aad: EntraToken): Promise<string> => {
  const rest = await import("@azure/core-rest-pipeline");
  // The same HTTP stack as @azure/identity: HTTPS_PROXY/NO_PROXY and NODE_EXTRA_CA_CERTS apply.
  // Deliberately no redirect policy: the body carries an Entra token and goes to the registry only.
  const pipeline = rest.createEmptyPipeline();
  pipeline.addPolicy(rest.userAgentPolicy({ userAgentPrefix: `docker-credential-cloud/${VERSION}` }));
  pipeline.addPolicy(rest.exponentialRetryPolicy({ maxRetries: 1, retryDelayInMs: 200, maxRetryDelayInMs: 1000 }));
  pipeline.addPolicy(rest.proxyPolicy(rest.getDefaultProxySettings()));
  // "tenant when known": the one the identity was configured for, else the token's own `tid`.
  const tid = jwtPayload(aad.token)?.tid;
  const tenant = aad.tenantId ?? (typeof tid === "string" ? tid : undefined);
  const form = new URLSearchParams({ grant_type: "access_token", service: route.host });
  if (tenant) form.set("tenant", tenant);
  form.set("access_token", aad.token);
  const url = `https://${route.host}/oauth2/exchange`;
  const request = rest.createPipelineRequest({
    url,
    method: "POST",
    headers: rest.createHttpHeaders({
      "Content-Type": "application/x-www-form-urlencoded",
      Accept: "application/json",
    }),
    body: form.toString(),
    timeout: ctx.settings.requestTimeoutMs,
  });
  let status: number;
  let body: string;
  try {
    const response = await pipeline.sendRequest(rest.createDefaultHttpClient(), request);
    status = response.status;
    body = response.bodyAsText ?? "";
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new ProviderError(
      `could not reach ${url}${code ? ` (${code})` : ""}: ${brief(e)}; check network, proxy (HTTPS_PROXY, NO_PROXY) and that ${route.host} is the registry's login server`,
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
      `${route.host} refused the Entra token of ${aad.label} (HTTP ${status}${detail() ? `: ${detail()}` : ""}); grant that identity the AcrPull role on the registry${arm ? `, or use the ACR scope ${ACR_SCOPE} (registries may refuse ARM-audience tokens)` : ""}`,
    );
  }
  if (status === 404) {
    throw new ProviderError(`${url} answered 404: ${route.host} does not look like an Azure container registry`);
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

export const fetchToken = async (route: Route, ctx: FetchContext): Promise<Token> => {
  if (route.provider !== "acr") throw new Error(`acr provider cannot serve ${route.provider}`);
  const scope = scopeFor(route);
  const id = await import("@azure/identity");
  const aad = await entraToken(route, ctx, id, scope);
  const refresh = await exchange(route, ctx, scope, aad);
  const now = ctx.now();
  let expiresAt = refreshTokenExpiry(refresh);
  if (expiresAt === undefined) {
    ctx.log.debug(`azure: the refresh token for ${route.host} carries no exp; assuming one hour`);
    expiresAt = now + FALLBACK_LIFETIME_MS;
  } else if (expiresAt <= now) {
    throw new ProviderError(
      `${route.host} returned a refresh token that expired at ${new Date(expiresAt).toISOString()}; check this machine's clock`,
    );
  }
  return { username: ACR_USERNAME, secret: refresh, expiresAt };
};
