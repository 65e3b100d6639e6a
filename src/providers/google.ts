// Google Container Registry and Artifact Registry: username "oauth2accesstoken", secret = an OAuth2
// access token with the cloud-platform scope, expiry as reported by the auth client.
//
// google-auth-library is imported inside fetchToken (cache misses only). Identity order, as the
// library's application default credentials (ADC) documents it, with the config rule on top:
//   1. the rule's google.credentialsFile, else GOOGLE_APPLICATION_CREDENTIALS (any ADC file type:
//      service_account, authorized_user, external_account with file/url/executable/aws sources,
//      impersonated_service_account, external_account_authorized_user);
//   2. the gcloud well-known ADC file ($CLOUDSDK_CONFIG/application_default_credentials.json);
//   3. the metadata server (GCE, GKE, Cloud Run), after a short presence probe;
// then, if the rule names one, impersonation of google.impersonateServiceAccount.
// In kubelet service-account token mode (route.workload) none of that is used: the pod's token is
// exchanged at Google STS (workload identity federation), optionally followed by impersonation.
//
// We walk the order ourselves instead of calling GoogleAuth.getClient() so that the decision uses
// Settings.env (not whatever process.env holds), the metadata probe is short, the log names the
// exact identity, and a missing identity is told apart from a broken one.

import { readFile, stat } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import type { AuthClient } from "google-auth-library";
import type { GoogleIdentity } from "../config.ts";
import { ConfigError, NoIdentityError, ProviderError } from "../errors.ts";
import { adcFile, explicitCredentialsFile } from "../identity/google.ts";
import { scrub } from "../log.ts";
import type { GoogleRoute, Route } from "../resolver.ts";
import type { Env } from "../settings.ts";
import { withDeadline } from "./deadline.ts";
import type { FetchContext, Token } from "./types.ts";

export const GOOGLE_USERNAME = "oauth2accesstoken";
export const CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform";
/** GKE's convention for "this Kubernetes service account acts as that Google service account". */
export const GKE_SERVICE_ACCOUNT_ANNOTATION = "iam.gke.io/gcp-service-account";
/** Per service account override of google.workloadIdentityProvider (opt-in via kubelet tokenAttributes). */
export const WORKLOAD_PROVIDER_ANNOTATION = "docker-credential-cloud/gcp-workload-identity-provider";
const JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt";
/**
 * Off Google Cloud (no BIOS/serverless residency) the metadata server is only probed for this long.
 * A real one answers from the host in a few ms, and a miss is then remembered by the negative
 * cache, so a laptop pays this at most once per negative TTL instead of the library's 3 s.
 */
export const METADATA_PROBE_MS = 500;
/** Used only when a client reports no expiry (Google access tokens live one hour). */
const FALLBACK_LIFETIME_MS = 5 * 60_000;
const DETECTION_MODES = ["assume-present", "none", "bios-only", "ping-only"] as const;

type GoogleAuthLib = typeof import("google-auth-library");
/** The SDK, imported on first need: a machine with no Google identity at all never loads it. */
type LoadLib = () => Promise<GoogleAuthLib>;

/** How the token is obtained, for logs and for error hints. */
interface Plan {
  /** e.g. "service account key /k.json (puller@p.iam.gserviceaccount.com)". */
  describe: string;
  /** The ADC type or our own source kind; selects the "next step" of an error. */
  kind: string;
  impersonate: string | undefined;
  client: AuthClient;
}

// ---------------------------------------------------------------------------------------------
// Metadata server presence

export const metadataBase = (env: Env): string => {
  const raw = env.GCE_METADATA_IP || env.GCE_METADATA_HOST || "169.254.169.254";
  return /^https?:\/\//.test(raw) ? raw.replace(/\/+$/, "") : `http://${raw}`;
};

/** True when something that identifies as a Google metadata server answers at `base` in time. */
export const probeMetadata = (base: string, timeoutMs: number): Promise<boolean> =>
  new Promise((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const done = (v: boolean) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        resolve(v);
      }
    };
    let req: ReturnType<typeof httpRequest>;
    try {
      // Link-local metadata is never reached through a proxy, so plain node:http, not gaxios.
      req = httpRequest(`${base}/computeMetadata/v1/instance/`, {
        headers: { "Metadata-Flavor": "Google" },
      });
    } catch {
      done(false);
      return;
    }
    timer = setTimeout(() => {
      req.destroy();
      done(false);
    }, timeoutMs);
    req.on("response", (res) => {
      const ok = (res.statusCode ?? 0) < 400 && res.headers["metadata-flavor"] === "Google";
      res.resume();
      req.destroy();
      done(ok);
    });
    req.on("error", () => done(false));
    req.end();
  });

/** METADATA_SERVER_DETECTION as google-auth-library reads it, with a short probe by default. */
const metadataPresent = async (env: Env, lib: LoadLib, timeoutMs: number): Promise<boolean> => {
  const mode = (env.METADATA_SERVER_DETECTION ?? "").trim().toLowerCase();
  if (mode !== "" && !(DETECTION_MODES as readonly string[]).includes(mode)) {
    throw new ConfigError(
      `METADATA_SERVER_DETECTION: must be one of ${DETECTION_MODES.join(", ")} or unset, got "${mode}"`,
    );
  }
  switch (mode) {
    case "assume-present":
      return true;
    case "none":
      return false;
    case "bios-only":
      return (await lib()).gcpMetadata.getGCPResidency();
    case "ping-only":
      return probeMetadata(metadataBase(env), timeoutMs);
    default:
      return (await lib()).gcpMetadata.getGCPResidency() || probeMetadata(metadataBase(env), METADATA_PROBE_MS);
  }
};

// ---------------------------------------------------------------------------------------------
// Building the client

const exists = async (file: string): Promise<boolean> => {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
};

type CredentialsJson = Record<string, unknown> & { type?: unknown };

const readCredentials = async (file: string, from: string): Promise<CredentialsJson> => {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "unreadable";
    throw new ProviderError(
      `Google credentials file ${file} (from ${from}) cannot be read (${code}); fix the path or remove the setting`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ProviderError(`Google credentials file ${file} (from ${from}) is not valid JSON`);
  }
  if (
    typeof json !== "object" ||
    json === null ||
    Array.isArray(json) ||
    typeof (json as CredentialsJson).type !== "string"
  ) {
    throw new ProviderError(
      `Google credentials file ${file} (from ${from}) has no "type"; expected an ADC credentials file`,
    );
  }
  return json as CredentialsJson;
};

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/** The service account a credentials file impersonates (impersonated_service_account, external_account). */
const impersonationTarget = (json: CredentialsJson): string | undefined =>
  /([^/]+):generateAccessToken$/.exec(str(json.service_account_impersonation_url) ?? "")?.[1];

/**
 * "pool P, provider X (project N)": readable, and not a 40-character run of path characters that
 * the log scrubber would take for a secret.
 */
export const describeAudience = (audience: string): string => {
  const m =
    /^\/\/iam\.googleapis\.com\/projects\/([^/]+)\/locations\/[^/]+\/workloadIdentityPools\/([^/]+)\/providers\/([^/]+)$/.exec(
      audience,
    );
  return m ? `pool ${m[2]}, provider ${m[3]} (project ${m[1]})` : audience;
};

/** One line naming what a credentials file holds, without any secret. */
export const describeCredentials = (json: CredentialsJson, file: string): string => {
  switch (json.type) {
    case "service_account":
      return `service account key ${file} (${str(json.client_email) ?? "no client_email"})`;
    case "authorized_user":
      return `user credentials ${file} (gcloud application-default login)`;
    case "impersonated_service_account":
      return `impersonated service account ${impersonationTarget(json) ?? "unknown"} (${file})`;
    case "external_account": {
      const src = (json.credential_source ?? {}) as Record<string, unknown>;
      const source = src.environment_id
        ? "aws"
        : src.executable
          ? "executable"
          : src.url
            ? "url"
            : src.file
              ? "file"
              : src.certificate
                ? "certificate"
                : "unknown";
      const sa = impersonationTarget(json);
      return `workload identity federation ${file} (${source} source, ${describeAudience(str(json.audience) ?? "?")}${sa ? `, as ${sa}` : ""})`;
    }
    default:
      return `${String(json.type)} credentials ${file}`;
  }
};

const projectIdFor = (env: Env, json?: CredentialsJson): string =>
  // Passing a project id is what keeps the library from running `gcloud config config-helper`
  // (seconds per call) or calling cloudresourcemanager for external accounts. Registry tokens do
  // not depend on it, so any value works; a real one is used when known, for the library's logs.
  env.GOOGLE_CLOUD_PROJECT || env.GCLOUD_PROJECT || str(json?.project_id) || "-";

const validEmail = (s: string): boolean => /^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+$/.test(s) && s.length <= 254;

const planDefault = async (route: GoogleRoute, ctx: FetchContext, loadLib: LoadLib): Promise<Plan> => {
  const { env, home } = ctx.settings;
  const transporterOptions = { timeout: ctx.settings.requestTimeoutMs };
  const google: GoogleIdentity = route.google;
  const explicit = explicitCredentialsFile(env, google);
  const adc = adcFile(env, home);
  const found = explicit ?? ((await exists(adc)) ? { file: adc, from: "gcloud ADC file" as const } : undefined);
  let plan: Plan;
  if (found) {
    const json = await readCredentials(found.file, found.from);
    const lib = await loadLib();
    const auth = new lib.GoogleAuth({
      credentials: json as never,
      scopes: [CLOUD_PLATFORM_SCOPE],
      projectId: projectIdFor(env, json),
      clientOptions: { transporterOptions },
    });
    let client: AuthClient;
    try {
      client = await auth.getClient();
    } catch (e) {
      throw new ProviderError(
        `Google credentials file ${found.file} (from ${found.from}) was rejected by google-auth-library: ${scrub(firstLine(e))}`,
      );
    }
    plan = {
      describe: describeCredentials(json, found.file),
      kind: String(json.type),
      impersonate: impersonationTarget(json),
      client,
    };
  } else {
    const base = metadataBase(env);
    if (!(await metadataPresent(env, loadLib, ctx.settings.requestTimeoutMs))) {
      const detection = env.METADATA_SERVER_DETECTION
        ? `metadata server detection is ${env.METADATA_SERVER_DETECTION} (METADATA_SERVER_DETECTION)`
        : `no metadata server at ${base}`;
      throw new NoIdentityError(
        `no Google identity for ${route.host}: GOOGLE_APPLICATION_CREDENTIALS is unset, there is no gcloud ADC file at ${adc}, and ${detection}; run \`gcloud auth application-default login\`, set GOOGLE_APPLICATION_CREDENTIALS, or run on GCE/GKE/Cloud Run (public images still pull anonymously)`,
      );
    }
    plan = {
      describe: `metadata server ${base} (the instance's default service account)`,
      kind: "metadata",
      impersonate: undefined,
      client: new (await loadLib()).Compute({ scopes: [CLOUD_PLATFORM_SCOPE], transporterOptions }),
    };
  }
  const target = google.impersonateServiceAccount;
  if (!target) return plan;
  if (!validEmail(target))
    throw new ConfigError(`google.impersonateServiceAccount: "${target}" is not a service account email`);
  return {
    describe: `${plan.describe} → impersonate ${target}`,
    kind: plan.kind,
    impersonate: target,
    client: new (await loadLib()).Impersonated({
      sourceClient: plan.client,
      targetPrincipal: target,
      targetScopes: [CLOUD_PLATFORM_SCOPE],
      lifetime: 3600,
      transporterOptions,
    }),
  };
};

/** "//iam.googleapis.com/projects/…/providers/X"; the "projects/…" short form is accepted too. */
export const normalizeAudience = (raw: string): string =>
  raw.startsWith("projects/") ? `//iam.googleapis.com/${raw}` : raw;

const POOL_PROVIDER_RE =
  /^\/\/iam\.googleapis\.com\/projects\/\d+\/locations\/[a-z0-9-]+\/workloadIdentityPools\/[^/]+\/providers\/[^/]+$/;

const planWorkload = (route: GoogleRoute, ctx: FetchContext, lib: GoogleAuthLib): Plan => {
  const workload = route.workload;
  if (!workload) throw new Error("planWorkload without a workload");
  const annotations = workload.annotations;
  const fromAnnotation = annotations[WORKLOAD_PROVIDER_ANNOTATION];
  if (fromAnnotation !== undefined && !POOL_PROVIDER_RE.test(normalizeAudience(fromAnnotation))) {
    throw new ProviderError(
      `service account annotation ${WORKLOAD_PROVIDER_ANNOTATION} for ${route.host} is not a workload identity pool provider (//iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/providers/X)`,
    );
  }
  const raw = fromAnnotation ?? route.google.workloadIdentityProvider;
  if (!raw) {
    throw new ProviderError(
      `the kubelet sent a service-account token for ${route.host} but no Google workload identity provider is configured; set google.workloadIdentityProvider (//iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/providers/X) in the config rule for this registry`,
    );
  }
  const audience = normalizeAudience(raw);
  const target = annotations[GKE_SERVICE_ACCOUNT_ANNOTATION] ?? route.google.impersonateServiceAccount;
  if (target !== undefined && !validEmail(target)) {
    throw new ProviderError(`service account to impersonate for ${route.host} ("${target}") is not an email address`);
  }
  const token = workload.token;
  const client = new lib.IdentityPoolClient({
    type: "external_account",
    audience,
    subject_token_type: JWT_TOKEN_TYPE,
    subject_token_supplier: { getSubjectToken: async () => token },
    scopes: [CLOUD_PLATFORM_SCOPE],
    ...(target
      ? {
          service_account_impersonation_url: `https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/${target}:generateAccessToken`,
        }
      : {}),
    transporterOptions: { timeout: ctx.settings.requestTimeoutMs },
  });
  return {
    describe: `kubelet service-account token → STS ${describeAudience(audience)}${target ? ` → impersonate ${target}` : " (direct access)"}`,
    kind: "workload",
    impersonate: target,
    client,
  };
};

// ---------------------------------------------------------------------------------------------
// Errors

const firstLine = (e: unknown): string => {
  const m = e instanceof Error ? e.message : String(e);
  return (m.split("\n")[0] ?? "").trim().slice(0, 300);
};

interface GaxiosLike {
  name?: string;
  message?: string;
  code?: string | number;
  cause?: { name?: string; code?: string | number };
  status?: number;
  config?: { url?: string | URL };
  response?: { status?: number; data?: unknown };
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "TimeoutError",
  "AbortError",
  "UND_ERR_CONNECT_TIMEOUT",
  "CERT_HAS_EXPIRED",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
]);

/** The endpoint's own words: OAuth `error`/`error_description` or a Google API `error.message`. */
const serverSays = (data: unknown): string | undefined => {
  let d = data;
  if (typeof data === "string") {
    try {
      d = JSON.parse(data);
    } catch {
      return data.trim().slice(0, 200) || undefined;
    }
  }
  if (typeof d !== "object" || d === null) return undefined;
  const o = d as Record<string, unknown>;
  if (typeof o.error === "string") {
    return typeof o.error_description === "string" ? `${o.error}: ${o.error_description}` : o.error;
  }
  if (typeof o.error === "object" && o.error !== null) {
    const err = o.error as Record<string, unknown>;
    return [err.status, err.message].filter((x) => typeof x === "string" && x !== "").join(": ") || undefined;
  }
  return undefined;
};

const endpointOf = (e: GaxiosLike): string | undefined => {
  const raw = e.config?.url;
  if (!raw) return undefined;
  try {
    return new URL(String(raw)).host;
  } catch {
    return undefined;
  }
};

/** The next step for a failure, from where it happened and what kind of identity was used. */
const nextStep = (plan: Plan, endpoint: string | undefined, status: number | undefined, said: string): string => {
  const host = endpoint ?? "";
  if (host.startsWith("iamcredentials.")) {
    const target = plan.impersonate ?? "the target service account";
    if (status === 404) return `check that ${target} exists`;
    return plan.kind === "workload" || plan.kind === "external_account"
      ? `grant the workload's principal roles/iam.workloadIdentityUser (or roles/iam.serviceAccountTokenCreator) on ${target}`
      : `grant the base identity roles/iam.serviceAccountTokenCreator on ${target}`;
  }
  if (host.startsWith("sts.")) {
    return "check the workload identity pool provider (audience) and that its issuer, audience and attribute condition accept this token";
  }
  switch (plan.kind) {
    case "authorized_user":
    case "external_account_authorized_user":
      return /invalid_grant|invalid_rapt|reauth/i.test(said)
        ? "the login has expired or was revoked: run `gcloud auth application-default login`"
        : "run `gcloud auth application-default login` to refresh the user credentials";
    case "service_account":
      return /invalid_grant|invalid_client|signature/i.test(said)
        ? "the key may have been deleted or disabled: create a new key for the service account, or use another identity"
        : "check the service account key file and that the account is enabled";
    case "metadata":
      return status === 404
        ? "no service account is attached to this instance (or it lacks the cloud-platform scope): attach one with roles/artifactregistry.reader"
        : "check the instance's service account and access scopes";
    case "external_account":
      return "check the credential source and the workload identity pool provider in the credentials file";
    default:
      return "check the identity with `gcloud auth application-default print-access-token`";
  }
};

/** Any failure after the identity was found → one ProviderError line: identity, cause, next step. */
export const classifyGoogleError = (e: unknown, host: string, plan: Plan, timeoutMs: number): Error => {
  if (e instanceof ProviderError || e instanceof ConfigError || e instanceof NoIdentityError) return e;
  const err = (e ?? {}) as GaxiosLike;
  const endpoint = endpointOf(err);
  const status = err.response?.status ?? err.status;
  const rawCode = err.code ?? err.cause?.code;
  const code = typeof rawCode === "string" ? rawCode : undefined;
  const what = `Google ${plan.describe} could not get an access token for ${host}`;
  if (!err.response && [err.name, err.cause?.name].some((n) => n === "AbortError" || n === "TimeoutError")) {
    return new ProviderError(
      `${what}: ${endpoint ?? "the token endpoint"} did not answer within ${timeoutMs / 1000} s (timeout); check network and proxy settings, or raise DOCKER_CREDENTIAL_CLOUD_TIMEOUT`,
    );
  }
  if (!err.response && code && (NETWORK_CODES.has(code) || /^E[A-Z]+$/.test(code))) {
    return new ProviderError(
      `${what}: ${endpoint ?? "the token endpoint"} unreachable (${code}); check network, proxy (HTTPS_PROXY, NO_PROXY) and firewall`,
    );
  }
  const said = (serverSays(err.response?.data) ?? firstLine(e)).replace(/\.$/, "");
  const at = endpoint ? ` from ${endpoint}` : "";
  return new ProviderError(
    `${what}: ${status ? `HTTP ${status}` : "error"}${at}: ${scrub(said)}; ${nextStep(plan, endpoint, status, said)}`,
  );
};

// ---------------------------------------------------------------------------------------------

export const fetchToken = async (route: Route, ctx: FetchContext): Promise<Token> => {
  if (route.provider !== "google") throw new Error(`google provider cannot serve ${route.provider}`);
  let sdk: Promise<GoogleAuthLib> | undefined;
  const loadLib: LoadLib = () => {
    sdk ??= import("google-auth-library");
    return sdk;
  };
  const plan = route.workload ? planWorkload(route, ctx, await loadLib()) : await planDefault(route, ctx, loadLib);
  ctx.log.debug(`google: ${route.host}: identity ${plan.describe}`);
  // Each HTTP call has the request timeout; a whole chain (token, STS, impersonation, retries of
  // the metadata client) gets a few of them before it is cut off as one line.
  const budget = ctx.settings.requestTimeoutMs * 3;
  try {
    const { token } = await withDeadline(
      plan.client.getAccessToken(),
      budget,
      () =>
        new ProviderError(
          `Google ${plan.describe} did not answer within ${budget / 1000} s for ${route.host}; check network and proxy settings`,
        ),
    );
    if (!token) throw new ProviderError(`Google ${plan.describe} returned no access token for ${route.host}`);
    const expiry = plan.client.credentials.expiry_date;
    const now = ctx.now();
    const expiresAt = typeof expiry === "number" && expiry > now ? expiry : now + FALLBACK_LIFETIME_MS;
    return { username: GOOGLE_USERNAME, secret: token, expiresAt };
  } catch (e) {
    throw classifyGoogleError(e, route.host, plan, ctx.settings.requestTimeoutMs);
  }
};
