// Google failures → one ProviderError line: identity, cause, next step. Pure (plain objects in,
// an Error out), so it is tested without the SDK.

import { ConfigError, NoIdentityError, ProviderError } from "../../errors.ts";
import { scrub } from "../../log.ts";
import { proxyRefusal, SOCKET_ERROR_CODES, TLS_ERROR_CODES } from "../net-errors.ts";
import type { TokenSource } from "./plan.ts";

export const firstLine = (e: unknown): string => {
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

const NETWORK_CODES = new Set<string>([
  ...SOCKET_ERROR_CODES,
  ...TLS_ERROR_CODES,
  "TimeoutError",
  "AbortError",
  "UND_ERR_CONNECT_TIMEOUT",
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
const nextStep = (
  source: TokenSource,
  endpoint: string | undefined,
  status: number | undefined,
  said: string,
): string => {
  const host = endpoint ?? "";
  if (host.startsWith("iamcredentials.")) {
    const target = source.impersonate ?? "the target service account";
    if (status === 404) return `check that ${target} exists`;
    return source.kind === "workload" || source.kind === "external_account"
      ? `grant the workload's principal roles/iam.workloadIdentityUser (or roles/iam.serviceAccountTokenCreator) on ${target}`
      : `grant the base identity roles/iam.serviceAccountTokenCreator on ${target}`;
  }
  if (host.startsWith("sts.")) {
    return "check the workload identity pool provider (audience) and that its issuer, audience and attribute condition accept this token";
  }
  switch (source.kind) {
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
export const classifyGoogleError = (e: unknown, host: string, source: TokenSource, timeoutMs: number): Error => {
  if (e instanceof ProviderError || e instanceof ConfigError || e instanceof NoIdentityError) return e;
  const err = (e ?? {}) as GaxiosLike;
  const endpoint = endpointOf(err);
  const status = err.response?.status ?? err.status;
  const rawCode = err.code ?? err.cause?.code;
  const code = typeof rawCode === "string" ? rawCode : undefined;
  const what = `Google ${source.describe} could not get an access token for ${host}`;
  // The proxy refused the tunnel: nothing is known about the identity.
  const refused = proxyRefusal(e);
  if (refused) return new ProviderError(`${what}: ${refused.message}`);
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
    `${what}: ${status ? `HTTP ${status}` : "error"}${at}: ${scrub(said)}; ${nextStep(source, endpoint, status, said)}`,
  );
};
