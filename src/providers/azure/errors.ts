// @azure/identity and MSAL errors → short lines. As @azure/identity defines it,
// CredentialUnavailableError means "this source is not set up here, try the next"; anything else
// stops the chain.

import { oneLine } from "../../errors.ts";
import { scrub } from "../../log.ts";

/** An SDK error as one short line: MSAL's "Error(s): … Description: X - Correlation ID: …" becomes X. */
export const brief = (e: unknown): string => {
  let text = scrub(oneLine(e)).replace(/\s*See the troubleshooting guide.*$/i, "");
  const described = /^([\w-]+): .*?Description: (.*?)(?: - Correlation ID:.*)?$/.exec(text);
  if (described) text = `${described[1]}: ${described[2]}`;
  text = text.replace(/\s*Trace ID: .*$/, "");
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
};

/** The gist of an SDK message ("Azure CLI could not be found."), for the one-line summary. */
export const firstSentence = (e: unknown): string => {
  const text = brief(e).replace(/^\w+Credential: /, "");
  const m = /^.*?[.!](?=\s|$)/.exec(text);
  const s = (m ? m[0] : text).replace(/\.$/, "");
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
};

export const isUnavailable = (e: unknown): boolean =>
  e instanceof Error &&
  (e.name === "CredentialUnavailableError" ||
    (e.name === "AggregateAuthenticationError" &&
      ((e as Error & { errors?: unknown[] }).errors ?? []).every(
        (x) => x instanceof Error && x.name === "CredentialUnavailableError",
      )));

export const FIX: Readonly<Record<string, string>> = {
  environment: "check AZURE_CLIENT_SECRET or the certificate, and that the app exists in that tenant",
  workload: "check the federated identity credential (issuer, subject, audience) of that client id",
  managed: "check that the managed identity is assigned to this host (and the client id, if set)",
  cli: "run az login (with --tenant if the registry's tenant differs)",
  kubelet: "check the federated identity credential of that client id for this service account",
};

const NETWORK_CODE =
  /\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EPIPE|UND_ERR_\w+|CERT_\w+|UNABLE_TO_\w+|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|ERR_TLS_\w+)\b/;

/**
 * The network, DNS, TLS or timeout cause inside an SDK error (its code, its cause, an aggregate's
 * errors, or MSAL's message text), so that a failure to reach Entra is not reported as a bad
 * secret. undefined when the error is not about the network.
 */
export const networkCause = (e: unknown, depth = 0): string | undefined => {
  if (depth > 4 || e === null || typeof e !== "object") return undefined;
  const o = e as {
    code?: unknown;
    name?: unknown;
    message?: unknown;
    cause?: unknown;
    errors?: unknown;
    error?: unknown;
    errorCode?: unknown;
    originalError?: unknown;
  };
  if (typeof o.code === "string" && NETWORK_CODE.test(o.code)) return o.code;
  if (o.name === "AbortError" || o.name === "TimeoutError") return "timeout";
  const text = typeof o.message === "string" ? o.message : "";
  const m = NETWORK_CODE.exec(text);
  if (m?.[1]) return m[1];
  if (/timed out after|network timeout|socket hang up/i.test(text)) return "timeout";
  for (const inner of [o.cause, o.error, o.originalError, ...(Array.isArray(o.errors) ? o.errors : [])]) {
    const c = networkCause(inner, depth + 1);
    if (c) return c;
  }
  // MSAL's own wrapper, when the underlying error is not kept: still the network, not the secret.
  if (o.errorCode === "network_error" || /^network_error\b/.test(text) || /\bnetwork_error:/.test(text))
    return "network error";
  return undefined;
};

/** The next step for a network cause. */
export const networkHint = (cause: string): string =>
  /^(CERT_|UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO|ERR_TLS_)/.test(cause)
    ? "the TLS certificate is not trusted: add your proxy's or network's CA with NODE_EXTRA_CA_CERTS or SSL_CERT_FILE"
    : cause === "ENOTFOUND" || cause === "EAI_AGAIN"
      ? "DNS lookup failed: check the network, and HTTPS_PROXY if you are behind a proxy"
      : "check the network, the proxy (HTTPS_PROXY, NO_PROXY) and the firewall, or raise DOCKER_CREDENTIAL_CLOUD_TIMEOUT";
