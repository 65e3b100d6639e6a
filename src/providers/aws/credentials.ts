// AWS credential discovery: the SDK credential providers for a route, built from the same
// decision as plan.ts. @aws-sdk/credential-providers is imported here, on a cache miss only.

import type { Agent } from "node:http";
import { ProviderError } from "../../errors.ts";
import type { EcrPublicRoute, EcrRoute } from "../../resolver.ts";
import type { Env } from "../../settings.ts";
import { WORKLOAD_ROLE_ANNOTATION, workloadRoleArn } from "./plan.ts";

const DEFAULT_SESSION_NAME = "docker-credential-cloud";
const WORKLOAD_SESSION_NAME = "ecr-credential-provider";

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

export const credentialsFor = async (
  route: EcrRoute | EcrPublicRoute,
  region: string,
  timeoutMs: number,
  env: Env,
  agent: Agent | undefined,
) => {
  const { fromIni, fromNodeProviderChain, fromTemporaryCredentials, fromWebToken } = await import(
    "@aws-sdk/credential-providers"
  );
  const clientConfig = { region, requestHandler: requestHandler(timeoutMs, agent) };
  if (route.workload) {
    // Kubelet service-account token mode (KEP-4412), compatible with AWS's ecr-credential-provider:
    // the pod's token is exchanged with STS AssumeRoleWithWebIdentity for the role the plan names.
    const roleArn = workloadRoleArn(route.workload, env);
    if (!roleArn) {
      throw new ProviderError(
        `the kubelet sent a service-account token but no role to assume: annotate the service account with ${WORKLOAD_ROLE_ANNOTATION}=<role ARN> and list that key in tokenAttributes.requiredServiceAccountAnnotationKeys, or set AWS_ECR_ROLE_ARN in the provider's env`,
      );
    }
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
  const base = profile ? fromIni({ profile, clientConfig }) : fromNodeProviderChain({ clientConfig });
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
