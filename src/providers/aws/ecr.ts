// AWS ECR (private and public): the provider entry, imported on a cache miss only. The identity
// order is aws/plan.ts, the SDK credentials aws/credentials.ts, the error taxonomy aws/errors.ts;
// this module calls GetAuthorizationToken. Every HTTP call has connection and request timeouts
// that throw, and the whole fetch an overall deadline.

import type { Agent } from "node:http";
import { withDeadline } from "../../deadline.ts";
import { ProviderError } from "../../errors.ts";
import { awsIdentityIsExplicit } from "../../identity/aws.ts";
import type { EcrPublicRoute, EcrRoute, Route } from "../../resolver.ts";
import { network } from "../network.ts";
import { summarizePlan } from "../plan-log.ts";
import { type FetchContext, NO_PROMPT, type Token } from "../types.ts";
import { credentialsFor, defaultChainFacts, mfaProfileFor, nothingToTry, requestHandler } from "./credentials.ts";
import { awsNoIdentity, classifyAwsError } from "./errors.ts";
import { awsIdentityPlan } from "./plan.ts";

export { awsIdentityPlan, IRSA_ROLE_ANNOTATION, WORKLOAD_ROLE_ANNOTATION, workloadRoleArn } from "./plan.ts";

const PUBLIC_REGION = "us-east-1";

/** "AWS:password" (base64) → user and password, split at the first colon. */
export const decodeAuthorizationToken = (b64: string): { username: string; secret: string } => {
  const text = Buffer.from(b64, "base64").toString("utf8");
  const i = text.indexOf(":");
  if (i <= 0) throw new ProviderError("ECR returned an authorization token that is not user:password");
  return { username: text.slice(0, i), secret: text.slice(i + 1) };
};

type Mfa = Parameters<typeof credentialsFor>[6];

const fetchPrivate = async (
  route: EcrRoute,
  ctx: FetchContext,
  agent: Agent | undefined,
  imds: boolean,
  mfa: Mfa,
): Promise<Token> => {
  const { ECRClient, GetAuthorizationTokenCommand } = await import("@aws-sdk/client-ecr");
  const timeoutMs = ctx.requestTimeoutMs;
  const env = ctx.env;
  // A custom endpoint (tests, VPC endpoints) and FIPS/dual-stack cannot be combined in the SDK.
  const customEndpoint = Boolean(env.AWS_ENDPOINT_URL_ECR || env.AWS_ENDPOINT_URL);
  const client = new ECRClient({
    region: route.region,
    credentials: await credentialsFor(route, route.region, timeoutMs, env, agent, imds, mfa),
    useFipsEndpoint: route.fips && !customEndpoint,
    useDualstackEndpoint: route.dualStack && !customEndpoint,
    requestHandler: requestHandler(timeoutMs, agent),
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

const fetchPublic = async (
  route: EcrPublicRoute,
  ctx: FetchContext,
  agent: Agent | undefined,
  imds: boolean,
  mfa: Mfa,
): Promise<Token> => {
  const { ECRPUBLICClient, GetAuthorizationTokenCommand } = await import("@aws-sdk/client-ecr-public");
  const timeoutMs = ctx.requestTimeoutMs;
  const client = new ECRPUBLICClient({
    region: PUBLIC_REGION,
    credentials: await credentialsFor(route, PUBLIC_REGION, timeoutMs, ctx.env, agent, imds, mfa),
    requestHandler: requestHandler(timeoutMs, agent),
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
  const budgetMs = 3 * ctx.requestTimeoutMs;
  const defaultChain = !route.workload && !awsIdentityIsExplicit(ctx.env, route.aws);
  // The default chain on a machine with nothing to try (no keys, no shared files, no metadata
  // service accepting connections): "no identity" at once, without loading the SDK.
  ctx.log.debug(
    `aws: ${route.host}: identity sources: ${summarizePlan(awsIdentityPlan(ctx.env, route.aws, route.workload))}`,
  );
  let imds = true;
  if (defaultChain) {
    const facts = await defaultChainFacts(ctx.env, ctx.home);
    ctx.log.debug(
      `aws: ${route.host}: shared config files ${facts.sharedFiles ? "present" : "absent"}, instance metadata ${facts.imds ? "reachable" : "disabled or not accepting connections"}`,
    );
    if (nothingToTry(ctx.env, facts)) throw awsNoIdentity(route.host);
    imds = facts.imds;
  }
  try {
    const { agent } = await network(ctx.env, ctx.log);
    const fetchWith = (mfa: Mfa) =>
      withDeadline(
        route.provider === "ecr"
          ? fetchPrivate(route, ctx, agent, imds, mfa)
          : fetchPublic(route, ctx, agent, imds, mfa),
        budgetMs,
        () =>
          new ProviderError(
            `${what} did not finish within ${budgetMs / 1000} s with ${route.identity.label}; check credential_process, network and proxy settings`,
          ),
      );
    // A profile with mfa_serial (mfa.ts): the code is asked for before the deadline starts (typing
    // it is not the network's time), only when no session is cached and the caller allows a prompt.
    const mfaProfile = mfaProfileFor(route, ctx.env);
    if (!mfaProfile) return await fetchWith(undefined);
    const { withMfa } = await import("./mfa.ts");
    return await withMfa(
      mfaProfile,
      { env: ctx.env, home: ctx.home, log: ctx.log, now: ctx.now, interaction: ctx.interaction ?? NO_PROMPT },
      (setup) => fetchWith(setup ? { setup, log: ctx.log } : undefined),
    );
  } catch (e) {
    if (e instanceof ProviderError) throw e;
    throw classifyAwsError(e, what, route.identity.label, defaultChain, route.host);
  }
};
