// The kubelet image credential provider plugin protocol (KEP-2133, KEP-4412), string in, string out.
//
// stdout carries exactly one CredentialProviderResponse or nothing: the kubelet decodes it
// strictly and drops the whole answer over one unknown field. Failures are a non-zero exit and one
// line on stderr, which the kubelet puts in its log next to the image name. Logs made while
// answering are kept back and written only on success (the kubelet ignores stderr then), or on
// failure when the operator turned logging up to info or debug.
//
// Only genuine cloud registry hosts (hosts.ts, via the core entry credentialsFor) are answered with a token; any
// other image gets an empty answer with a zero cache duration, so the kubelet does not remember it.

import { type Answer, type CredentialDeps, credentialsFor } from "../credentials.ts";
import { NoRouteError, NotFoundError, oneLine } from "../errors.ts";
import { formatSeconds } from "../kubelet/duration.ts";
import { type CredentialProviderRequest, type CredentialProviderResponse, imageRegistry } from "../kubelet/types.ts";
import { encodeResponse, parseRequest } from "../kubelet/wire.ts";
import { createLogger, scrub } from "../log.ts";
import type { Interaction } from "../providers/types.ts";
import { parseServerUrl } from "../registry/hosts.ts";
import type { Workload } from "../resolver.ts";

export { looksLikeKubeletRequest } from "../kubelet/wire.ts";

/** The argument that selects plugin mode in a CredentialProviderConfig's `args`. */
export const KUBELET_ACTION = "kubelet";
export const KUBELET_ARGS_HINT = 'plugin mode takes exactly args: ["kubelet"]';

/** Plugin mode never prompts (an AWS profile with mfa_serial fails with this reason instead). */
export const KUBELET_INTERACTION: Interaction = { never: "the kubelet cannot answer an MFA prompt" };

export interface PluginResult {
  stdout: string;
  stderr: string;
  code: number;
}

/**
 * How long the kubelet may keep the answer: half the token's remaining life, in whole seconds
 * (as AWS's ecr-credential-provider does), so the kubelet asks again while the token it holds is
 * still valid for as long again. Never negative; "0s" means "do not cache".
 */
export const cacheDurationFor = (expiresAt: number | undefined, now: number): string => {
  if (expiresAt === undefined) return "0s";
  return formatSeconds(Math.max(0, Math.floor((expiresAt - now) / 2000)));
};

const answer = async (req: CredentialProviderRequest, deps: CredentialDeps): Promise<string> => {
  const registry = imageRegistry(req.image);
  const empty: CredentialProviderResponse = {
    apiVersion: req.apiVersion,
    cacheKeyType: "Registry",
    cacheDuration: "0s",
  };
  // The kubelet keeps the port in the registry key; hosts.ts keeps it too (except :443), so
  // "host:5000" can never be mistaken for a cloud registry.
  const ref = parseServerUrl(registry);
  const workload: Workload | undefined = req.serviceAccountToken
    ? { token: req.serviceAccountToken, annotations: req.serviceAccountAnnotations ?? {} }
    : undefined;
  const noProvider = () => {
    deps.log.debug(`no provider serves ${registry || req.image}; answering with no credentials`);
    return encodeResponse(empty);
  };
  if (!ref) return noProvider();
  let creds: Answer;
  try {
    // Never a prompt, even when started from a terminal: nobody answers it for the kubelet.
    creds = await credentialsFor(
      ref.host,
      { ...(workload ? { workload } : {}), interaction: KUBELET_INTERACTION },
      deps,
    );
  } catch (e) {
    if (e instanceof NoRouteError) return noProvider();
    if (e instanceof NotFoundError) return encodeResponse(empty);
    throw e;
  }
  const { route } = creds;
  // The kubelet refuses an answer whose password is the service-account token it sent (unless
  // cacheType is Token); a provider must never do that, and if one did we fail loudly instead.
  if (workload && creds.secret === workload.token) {
    throw new Error(`the ${route.provider} provider returned the service-account token as the password; refusing`);
  }
  if (workload && !route.workload) {
    deps.log.debug(`the service account names no role for ${route.provider}: the node's identity is used`);
  }
  deps.log.debug(`answering ${registry} with ${creds.source}`);
  return encodeResponse({
    apiVersion: req.apiVersion,
    cacheKeyType: "Registry",
    cacheDuration: cacheDurationFor(creds.expiresAt, deps.now()),
    auth: { [registry]: { username: creds.username, password: creds.secret } },
  });
};

/**
 * Answers one CredentialProviderRequest. `deps.log` is replaced by a buffer at the same level so
 * that a failure writes exactly one line to stderr.
 */
export const handleKubeletRequest = async (input: string, deps: CredentialDeps): Promise<PluginResult> => {
  const lines: string[] = [];
  const log = createLogger(deps.log.level, (line) => lines.push(line));
  let token: string | undefined;
  try {
    const req = parseRequest(input);
    token = req.serviceAccountToken;
    const stdout = await answer(req, { ...deps, log });
    return { stdout, stderr: lines.join(""), code: 0 };
  } catch (e) {
    const verbose = deps.log.level === "info" || deps.log.level === "debug";
    // Provider messages carry no secrets by design; the scrub and the token cut are a second line
    // of defence for text that came from an SDK or a server.
    let line = scrub(oneLine(e));
    if (token) line = line.split(token).join("[service-account token]");
    return { stdout: "", stderr: `${verbose ? lines.join("") : ""}docker-credential-cloud: ${line}\n`, code: 1 };
  }
};
