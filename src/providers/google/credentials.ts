// Google credential discovery: the ADC order walked by hand (see plan.ts), each source turned into
// a google-auth-library client. The SDK is imported through `loadLib`, on a cache miss only.

import { readFile, stat } from "node:fs/promises";
import type { AuthClient } from "google-auth-library";
import type { Env } from "../../env.ts";
import { ConfigError, NoIdentityError, ProviderError } from "../../errors.ts";
import { adcFile, explicitCredentialsFile } from "../../identity/google.ts";
import { scrub } from "../../log.ts";
import type { GoogleRoute } from "../../resolver.ts";
import type { Network } from "../network.ts";
import type { FetchContext } from "../types.ts";
import {
  CLOUD_PLATFORM_SCOPE,
  GKE_SERVICE_ACCOUNT_ANNOTATION,
  JWT_TOKEN_TYPE,
  WORKLOAD_PROVIDER_ANNOTATION,
} from "./constants.ts";
import { firstLine } from "./errors.ts";
import { type LoadLib, metadataBase, metadataPresent } from "./metadata.ts";
import { normalizeAudience, POOL_PROVIDER_RE, type TokenSource, validEmail } from "./plan.ts";

type GoogleAuthLib = typeof import("google-auth-library");

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

/**
 * gaxios options for every client: the request timeout and the network's HTTP (network.ts): under
 * Node its proxy agent; under Bun a fetch implementation carrying the same decisions, also made the
 * default of gaxios' shared instance, which gcp-metadata (the metadata server's token) uses.
 */
export const transporterOptionsFor = (ctx: FetchContext, net: Network, lib: GoogleAuthLib) => {
  if (net.fetch) lib.gaxios.instance.defaults.fetchImplementation = net.fetch;
  return {
    timeout: ctx.requestTimeoutMs,
    ...(net.agent ? { agent: net.agent } : {}),
    ...(net.fetch ? { fetchImplementation: net.fetch } : {}),
  };
};

const projectIdFor = (env: Env, json?: CredentialsJson): string =>
  // Passing a project id is what keeps the library from running `gcloud config config-helper`
  // (seconds per call) or calling cloudresourcemanager for external accounts. Registry tokens do
  // not depend on it, so any value works; a real one is used when known, for the library's logs.
  env.GOOGLE_CLOUD_PROJECT || env.GCLOUD_PROJECT || str(json?.project_id) || "-";

export const discoverDefault = async (
  route: GoogleRoute,
  ctx: FetchContext,
  loadLib: LoadLib,
  net: Network,
): Promise<TokenSource> => {
  const { env, home } = ctx;
  const google = route.google;
  const explicit = explicitCredentialsFile(env, google);
  const adc = adcFile(env, home);
  const found = explicit ?? ((await exists(adc)) ? { file: adc, from: "gcloud ADC file" as const } : undefined);
  let plan: TokenSource;
  if (found) {
    const json = await readCredentials(found.file, found.from);
    const lib = await loadLib();
    const auth = new lib.GoogleAuth({
      credentials: json as never,
      scopes: [CLOUD_PLATFORM_SCOPE],
      projectId: projectIdFor(env, json),
      clientOptions: { transporterOptions: transporterOptionsFor(ctx, net, lib) },
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
    if (!(await metadataPresent(env, loadLib, ctx.requestTimeoutMs))) {
      const detection = env.METADATA_SERVER_DETECTION
        ? `metadata server detection is ${env.METADATA_SERVER_DETECTION} (METADATA_SERVER_DETECTION)`
        : `no metadata server at ${base}`;
      throw new NoIdentityError(
        `no Google identity for ${route.host}: GOOGLE_APPLICATION_CREDENTIALS is unset, there is no gcloud ADC file at ${adc}, and ${detection}; run \`gcloud auth application-default login\`, set GOOGLE_APPLICATION_CREDENTIALS, or run on GCE/GKE/Cloud Run (public images still pull anonymously)`,
      );
    }
    const lib = await loadLib();
    plan = {
      describe: `metadata server ${base} (the instance's default service account)`,
      kind: "metadata",
      impersonate: undefined,
      client: new lib.Compute({
        scopes: [CLOUD_PLATFORM_SCOPE],
        transporterOptions: transporterOptionsFor(ctx, net, lib),
      }),
    };
  }
  const target = google.impersonateServiceAccount;
  if (!target) return plan;
  if (!validEmail(target))
    throw new ConfigError(`google.impersonateServiceAccount: "${target}" is not a service account email`);
  const lib = await loadLib();
  return {
    describe: `${plan.describe} → impersonate ${target}`,
    kind: plan.kind,
    impersonate: target,
    client: new lib.Impersonated({
      sourceClient: plan.client,
      targetPrincipal: target,
      targetScopes: [CLOUD_PLATFORM_SCOPE],
      lifetime: 3600,
      transporterOptions: transporterOptionsFor(ctx, net, lib),
    }),
  };
};

export const discoverWorkload = (
  route: GoogleRoute,
  ctx: FetchContext,
  lib: GoogleAuthLib,
  net: Network,
): TokenSource => {
  const workload = route.workload;
  if (!workload) throw new Error("discoverWorkload without a workload");
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
    transporterOptions: transporterOptionsFor(ctx, net, lib),
  });
  return {
    describe: `kubelet service-account token → STS ${describeAudience(audience)}${target ? ` → impersonate ${target}` : " (direct access)"}`,
    kind: "workload",
    impersonate: target,
    client,
  };
};
