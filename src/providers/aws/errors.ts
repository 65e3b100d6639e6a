// AWS SDK errors → our taxonomy. Kept apart from the SDK so it is testable with plain objects.

import { NoIdentityError, oneLine, ProviderError } from "../../errors.ts";
import { proxyRefusal, SOCKET_ERROR_CODES, TLS_ERROR_CODES } from "../net-errors.ts";

interface AwsErrorLike {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

const DENIED = new Set([
  "AccessDeniedException",
  "AccessDenied",
  "UnrecognizedClientException",
  "InvalidSignatureException",
  "SignatureDoesNotMatch",
  "ExpiredTokenException",
  "ExpiredToken",
  "InvalidClientTokenId",
  "InvalidIdentityToken",
  "IDPRejectedClaim",
]);
const THROTTLED = new Set(["ThrottlingException", "TooManyRequestsException", "Throttling", "RequestLimitExceeded"]);
const NETWORK = new Set<string>([...SOCKET_ERROR_CODES, ...TLS_ERROR_CODES, "TimeoutError", "RequestTimeout"]);
const TLS = /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS/;

/** "No AWS identity on this machine", for the SDK's chain and for our own pre-check alike. */
export const awsNoIdentity = (host: string): NoIdentityError =>
  new NoIdentityError(
    `no AWS identity found for ${host}: tried environment keys, shared config and SSO profiles, web identity, container and instance metadata; set one up (aws configure, aws sso login, IRSA or a node role)`,
  );

/**
 * @param what   e.g. "ECR GetAuthorizationToken for 1234….dkr.ecr.eu-west-1.amazonaws.com"
 * @param label  the identity label
 * @param defaultChain whether the identity is the SDK's default chain (then "no credentials" means no identity)
 * @param host   the registry host, named by a "no identity" message (else `what`)
 */
export const classifyAwsError = (
  e: unknown,
  what: string,
  label: string,
  defaultChain: boolean,
  host?: string,
): Error => {
  const err = (e ?? {}) as AwsErrorLike;
  // The proxy refused the tunnel: neither the identity nor AWS said anything.
  const refused = proxyRefusal(e);
  if (refused) return new ProviderError(`${what}: ${refused.message}`);
  // A plain-HTTP endpoint (AWS_ENDPOINT_URL=http://…) through a proxy: only a proxy answers 407.
  if (err.$metadata?.httpStatusCode === 407) {
    return new ProviderError(
      `${what}: the proxy refused the request: 407 Proxy Authentication Required — set credentials in HTTP_PROXY (http://user:pass@…) or NO_PROXY`,
    );
  }
  const name = err.name ?? "";
  // A failing credential_process surfaces as "Command failed: <command line> <its stderr>": both
  // may hold secrets, so neither is repeated.
  const raw = oneLine(e);
  const msg = /Command failed:/.test(raw)
    ? `${raw.slice(0, raw.indexOf("Command failed:"))}credential_process failed (its command line and output are not shown; run it by hand to see why)`
    : raw;
  if (
    name === "CredentialsProviderError" &&
    defaultChain &&
    /Could not load credentials from any providers/.test(msg)
  ) {
    return awsNoIdentity(host ?? what);
  }
  if (name === "CredentialsProviderError" || name === "TokenProviderError") {
    return new ProviderError(`AWS identity ${label} could not provide credentials for ${what}: ${msg}`);
  }
  if (DENIED.has(name)) {
    return new ProviderError(
      `${what} was refused for ${label} (${name}: ${msg}); check that this identity may call ecr:GetAuthorizationToken and that its credentials are current`,
    );
  }
  if (THROTTLED.has(name)) return new ProviderError(`${what} was throttled (${name}); retry shortly`);
  if (NETWORK.has(name) || NETWORK.has(err.code ?? "")) {
    return new ProviderError(
      TLS.test(err.code ?? name)
        ? `${what} could not reach AWS (${err.code ?? name}: ${msg}); the TLS certificate is not trusted: add your proxy's or network's CA with AWS_CA_BUNDLE, NODE_EXTRA_CA_CERTS or SSL_CERT_FILE`
        : `${what} could not reach AWS (${err.code ?? name}: ${msg}); check network, proxy (HTTPS_PROXY, NO_PROXY) and endpoint settings`,
    );
  }
  const status = err.$metadata?.httpStatusCode;
  return new ProviderError(
    `${what} failed for ${label}${status ? ` (HTTP ${status})` : ""}: ${name ? `${name}: ` : ""}${msg}`,
  );
};
