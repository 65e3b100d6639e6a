// AWS ECR (private and public). The SDK is imported here, on a cache miss only.
// Credentials: the SDK's default chain (env keys, SSO/ini profiles, credential_process,
// web identity, container endpoint, IMDS), or the configured profile, optionally followed by an
// assumed role (cross-account pulls). Every HTTP call has connection and request timeouts that
// throw, so a silent endpoint becomes a one-line error within a bound.

import { ProviderError } from "../errors.ts";
import { awsIdentityIsExplicit } from "../identity/aws.ts";
import type { EcrPublicRoute, EcrRoute, Route, Workload } from "../resolver.ts";
import type { Env } from "../settings.ts";
import { classifyAwsError } from "./aws-errors.ts";
import { withDeadline } from "./deadline.ts";
import type { FetchContext, Token } from "./types.ts";

const PUBLIC_REGION = "us-east-1";
const DEFAULT_SESSION_NAME = "docker-credential-cloud";

const requestHandler = (timeoutMs: number) => ({
  connectionTimeout: timeoutMs,
  requestTimeout: timeoutMs,
  throwOnRequestTimeout: true,
});

/** "AWS:password" (base64) → user and password, split at the first colon. */
export const decodeAuthorizationToken = (b64: string): { username: string; secret: string } => {
  const text = Buffer.from(b64, "base64").toString("utf8");
  const i = text.indexOf(":");
  if (i <= 0) throw new ProviderError("ECR returned an authorization token that is not user:password");
  return { username: text.slice(0, i), secret: text.slice(i + 1) };
};

// Kubelet service-account token mode (KEP-4412), compatible with AWS's ecr-credential-provider:
// the pod's token is exchanged with STS AssumeRoleWithWebIdentity for the role named by the
// service account's annotation, else by AWS_ECR_ROLE_ARN in the provider's env. The node's own
// identity is never used for such a request.
export const WORKLOAD_ROLE_ANNOTATION = "eks.amazonaws.com/ecr-role-arn";
const WORKLOAD_SESSION_NAME = "ecr-credential-provider";

export const workloadRoleArn = (workload: Workload, env: Env): string => {
  const arn = workload.annotations[WORKLOAD_ROLE_ANNOTATION] || env.AWS_ECR_ROLE_ARN;
  if (!arn) {
    throw new ProviderError(
      `the kubelet sent a service-account token but no role to assume: annotate the service account with ${WORKLOAD_ROLE_ANNOTATION}=<role ARN> and list that key in tokenAttributes.requiredServiceAccountAnnotationKeys, or set AWS_ECR_ROLE_ARN in the provider's env`,
    );
  }
  return arn;
};

const credentialsFor = async (route: EcrRoute | EcrPublicRoute, region: string, timeoutMs: number, env: Env) => {
  const { fromIni, fromNodeProviderChain, fromTemporaryCredentials, fromWebToken } = await import(
    "@aws-sdk/credential-providers"
  );
  const clientConfig = { region, requestHandler: requestHandler(timeoutMs) };
  if (route.workload) {
    return fromWebToken({
      roleArn: workloadRoleArn(route.workload, env),
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

const fetchPrivate = async (route: EcrRoute, ctx: FetchContext): Promise<Token> => {
  const { ECRClient, GetAuthorizationTokenCommand } = await import("@aws-sdk/client-ecr");
  const timeoutMs = ctx.settings.requestTimeoutMs;
  const env = ctx.settings.env;
  // A custom endpoint (tests, VPC endpoints) and FIPS/dual-stack cannot be combined in the SDK.
  const customEndpoint = Boolean(env.AWS_ENDPOINT_URL_ECR || env.AWS_ENDPOINT_URL);
  const client = new ECRClient({
    region: route.region,
    credentials: await credentialsFor(route, route.region, timeoutMs, env),
    useFipsEndpoint: route.fips && !customEndpoint,
    useDualstackEndpoint: route.dualStack && !customEndpoint,
    requestHandler: requestHandler(timeoutMs),
    maxAttempts: 2,
  });
  const out = await client.send(
    new GetAuthorizationTokenCommand(route.registryId ? { registryIds: [route.registryId] } : {}),
  );
  const data = out.authorizationData?.[0];
  if (!data?.authorizationToken) throw new ProviderError(`ECR returned no authorization data for ${route.host}`);
  return {
    ...decodeAuthorizationToken(data.authorizationToken),
    expiresAt: data.expiresAt ? data.expiresAt.getTime() : ctx.now() + 12 * 3600_000,
  };
};

const fetchPublic = async (route: EcrPublicRoute, ctx: FetchContext): Promise<Token> => {
  const { ECRPUBLICClient, GetAuthorizationTokenCommand } = await import("@aws-sdk/client-ecr-public");
  const timeoutMs = ctx.settings.requestTimeoutMs;
  const client = new ECRPUBLICClient({
    region: PUBLIC_REGION,
    credentials: await credentialsFor(route, PUBLIC_REGION, timeoutMs, ctx.settings.env),
    requestHandler: requestHandler(timeoutMs),
    maxAttempts: 2,
  });
  const out = await client.send(new GetAuthorizationTokenCommand({}));
  const data = out.authorizationData;
  if (!data?.authorizationToken) throw new ProviderError(`ECR Public returned no authorization data`);
  return {
    ...decodeAuthorizationToken(data.authorizationToken),
    expiresAt: data.expiresAt ? data.expiresAt.getTime() : ctx.now() + 12 * 3600_000,
  };
};

export const fetchToken = async (route: Route, ctx: FetchContext): Promise<Token> => {
  if (route.provider !== "ecr" && route.provider !== "ecr-public") {
    throw new Error(`ecr provider cannot serve ${route.provider}`);
  }
  const what =
    route.provider === "ecr"
      ? `ECR GetAuthorizationToken for ${route.host} (${route.region})`
      : "ECR Public GetAuthorizationToken";
  // Per-request timeouts bound each HTTP call; this bounds the whole of credential resolution too
  // (a credential_process that never exits, chained role assumptions, retries).
  const budgetMs = 3 * ctx.settings.requestTimeoutMs;
  try {
    return await withDeadline(
      route.provider === "ecr" ? fetchPrivate(route, ctx) : fetchPublic(route, ctx),
      budgetMs,
      () =>
        new ProviderError(
          `${what} did not finish within ${budgetMs / 1000} s with ${route.identity.label}; check credential_process, network and proxy settings`,
        ),
    );
  } catch (e) {
    if (e instanceof ProviderError) throw e;
    const defaultChain = !route.workload && !awsIdentityIsExplicit(ctx.settings.env, route.aws);
    throw classifyAwsError(e, what, route.identity.label, defaultChain);
  }
};
