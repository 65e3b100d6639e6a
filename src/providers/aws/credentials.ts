// AWS credential discovery: the SDK credential providers for a route, built from the same
// decision as plan.ts. @aws-sdk/credential-providers is imported here, on a cache miss only.

import { stat } from "node:fs/promises";
import type { Agent } from "node:http";
import { path } from "../../builtins.ts";
import type { Env } from "../../env.ts";
import type { Logger } from "../../log.ts";
import type { EcrPublicRoute, EcrRoute } from "../../resolver.ts";
import { reachable } from "../network.ts";
import { cachingRoleAssumer, type MfaSetup } from "./mfa.ts";
import { awsIdentityPlan, workloadRoleArn } from "./plan.ts";

/** Session names of the roles assumed for ECR (exported for the operator verbs' who-am-i). */
export const DEFAULT_SESSION_NAME = "docker-credential-cloud";
export const WORKLOAD_SESSION_NAME = "ecr-credential-provider";

/**
 * Connection and request timeouts that throw, so a silent endpoint becomes a one-line error; the
 * proxy agent of network.ts when a proxy is configured (the SDK itself reads no proxy variable).
 */
export const requestHandler = (timeoutMs: number, agent: Agent | undefined) => ({
  connectionTimeout: timeoutMs,
  requestTimeout: timeoutMs,
  throwOnRequestTimeout: true,
  ...(agent ? { httpAgent: agent, httpsAgent: agent } : {}),
});

/**
 * The profile whose `mfa_serial` may apply: the one named (config, AWS_PROFILE), else the default
 * profile when the SDK's chain would read it (no environment keys); none in kubelet SA-token mode.
 */
export const mfaProfileFor = (route: EcrRoute | EcrPublicRoute, env: Env): string | undefined => {
  if (route.workload) return undefined;
  const named = route.aws.profile ?? env.AWS_PROFILE;
  if (named) return named;
  return env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY ? undefined : "default";
};

/**
 * fromIni's options for a profile chain with mfa_serial (mfa.ts): the code was asked for already
 * (or a report's setup has every session cached); a session cached as the AWS CLI does is used as
 * is, and a new one is cached by wrapping the SDK's role assumer.
 */
export const mfaOptions = async (
  mfa: { setup: MfaSetup; log: Logger },
  clientConfig: { region: string; requestHandler: ReturnType<typeof requestHandler> },
) => ({
  mfaCodeProvider: mfa.setup.codeFor,
  roleAssumer: cachingRoleAssumer(
    (await import("@aws-sdk/client-sts")).getDefaultRoleAssumer(clientConfig),
    mfa.setup,
    mfa.log,
  ),
});

export const credentialsFor = async (
  route: EcrRoute | EcrPublicRoute,
  region: string,
  timeoutMs: number,
  env: Env,
  agent: Agent | undefined,
  imdsReachable = true,
  mfa?: { setup: MfaSetup; log: Logger },
) => {
  const { fromIni, fromNodeProviderChain, fromTemporaryCredentials, fromWebToken } = await import(
    "@aws-sdk/credential-providers"
  );
  const clientConfig = { region, requestHandler: requestHandler(timeoutMs, agent) };
  if (route.workload) {
    // Kubelet service-account token mode (KEP-4412), compatible with AWS's ecr-credential-provider:
    // the pod's token is exchanged with STS AssumeRoleWithWebIdentity for the role the plan names.
    // The resolver keeps the workload on a route only when a role is named (else the node's
    // identity serves the request, as upstream's).
    const roleArn = workloadRoleArn(route.workload, env);
    if (!roleArn) throw new Error("an ECR route with a service-account token but no role");
    return fromWebToken({
      roleArn,
      webIdentityToken: route.workload.token,
      roleSessionName: route.aws.roleSessionName ?? WORKLOAD_SESSION_NAME,
      clientConfig,
    });
  }
  // A profile named in the config or by AWS_PROFILE is resolved directly, so its own error
  // (a failing credential_process, an expired SSO session) is reported instead of the chain's
  // "Could not load credentials from any providers".
  const profile = route.aws.profile ?? env.AWS_PROFILE;
  const withMfa = mfa ? await mfaOptions(mfa, clientConfig) : {};
  const base =
    mfa?.setup.cached ??
    (profile
      ? fromIni({ profile, clientConfig, ...withMfa })
      : fromNodeProviderChain({
          clientConfig,
          ...withMfa,
          // Instance metadata did not even accept a connection: let its attempt fail fast.
          ...(imdsReachable ? {} : { timeout: 100, maxRetries: 0 }),
        }));
  if (!route.aws.roleArn) return base;
  return fromTemporaryCredentials({
    masterCredentials: base,
    params: {
      RoleArn: route.aws.roleArn,
      RoleSessionName: route.aws.roleSessionName ?? DEFAULT_SESSION_NAME,
      ...(route.aws.externalId ? { ExternalId: route.aws.externalId } : {}),
    },
    clientConfig,
  });
};

const isFile = (file: string): Promise<boolean> =>
  stat(file).then(
    (st) => st.isFile(),
    () => false,
  );

/** host and port of the instance metadata service the SDK would ask. */
export const imdsAddress = (env: Env): { host: string; port: number } => {
  const raw = env.AWS_EC2_METADATA_SERVICE_ENDPOINT;
  if (raw) {
    try {
      const u = new URL(raw);
      return { host: u.hostname, port: Number(u.port) || (u.protocol === "https:" ? 443 : 80) };
    } catch {
      // the SDK reports a malformed endpoint itself
    }
  }
  return {
    host:
      (env.AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE ?? "").toLowerCase() === "ipv6" ? "fd00:ec2::254" : "169.254.169.254",
    port: 80,
  };
};

/**
 * The facts the default chain's "probe" sources depend on, found cheaply and without the SDK:
 * whether a shared config or credentials file exists, and whether the instance metadata service
 * accepts a TCP connection within a short bound.
 */
export const defaultChainFacts = async (env: Env, home: string): Promise<{ sharedFiles: boolean; imds: boolean }> => {
  const config = env.AWS_CONFIG_FILE || path.join(home, ".aws", "config");
  const credentials = env.AWS_SHARED_CREDENTIALS_FILE || path.join(home, ".aws", "credentials");
  const imdsOff = (env.AWS_EC2_METADATA_DISABLED ?? "false").toLowerCase() !== "false";
  const { host, port } = imdsAddress(env);
  const [a, b, imds] = await Promise.all([
    isFile(config),
    isFile(credentials),
    imdsOff ? Promise.resolve(false) : reachable(host, port),
  ]);
  return { sharedFiles: a || b, imds };
};

/** True when no source of the default chain can apply here: then the SDK need not even be loaded. */
export const nothingToTry = (env: Env, facts: { sharedFiles: boolean; imds: boolean }): boolean =>
  awsIdentityPlan(env).sources.every(
    (s) =>
      s.status === "unavailable" || (s.kind === "shared" && !facts.sharedFiles) || (s.kind === "imds" && !facts.imds),
  );
