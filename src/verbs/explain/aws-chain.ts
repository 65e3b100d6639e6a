// AWS pieces of `explain`: the ECR token fetch for `--as kubelet`, with the credentials the
// who-am-i walk (../whoami/aws.ts, the identity plan carried out) found in the kubelet's
// environment (the SDK's own chain reads process.env, which is this shell's, not the kubelet's);
// and the role behind an assumed-role session ARN. Loaded only by the human verbs.

import type { AwsCredentialIdentityProvider } from "@aws-sdk/types";
import { decodeAuthorizationToken } from "../../providers/aws/ecr.ts";
import type { EcrPublicRoute, EcrRoute } from "../../resolver.ts";

const requestHandler = (timeoutMs: number) => ({
  connectionTimeout: timeoutMs,
  requestTimeout: timeoutMs,
  throwOnRequestTimeout: true,
});

/** ECR GetAuthorizationToken with walked credentials (`--as kubelet`): user, secret, expiry. */
export const ecrTokenWith = async (
  route: EcrRoute | EcrPublicRoute,
  creds: AwsCredentialIdentityProvider,
  timeoutMs: number,
  now: number,
): Promise<{ username: string; secret: string; expiresAt: number }> => {
  const rh = requestHandler(timeoutMs);
  if (route.provider === "ecr") {
    const { ECRClient, GetAuthorizationTokenCommand } = await import("@aws-sdk/client-ecr");
    const client = new ECRClient({ region: route.region, credentials: creds, requestHandler: rh, maxAttempts: 1 });
    const r = await client.send(
      new GetAuthorizationTokenCommand(route.registryId ? { registryIds: [route.registryId] } : {}),
    );
    const d = r.authorizationData?.[0];
    if (!d?.authorizationToken) throw new Error(`ECR returned no authorization data for ${route.host}`);
    return {
      ...decodeAuthorizationToken(d.authorizationToken),
      expiresAt: d.expiresAt?.getTime() ?? now + 12 * 3600_000,
    };
  }
  const { ECRPUBLICClient, GetAuthorizationTokenCommand } = await import("@aws-sdk/client-ecr-public");
  const client = new ECRPUBLICClient({ region: "us-east-1", credentials: creds, requestHandler: rh, maxAttempts: 1 });
  const r = await client.send(new GetAuthorizationTokenCommand({}));
  const d = r.authorizationData;
  if (!d?.authorizationToken) throw new Error("ECR Public returned no authorization data");
  return {
    ...decodeAuthorizationToken(d.authorizationToken),
    expiresAt: d.expiresAt?.getTime() ?? now + 12 * 3600_000,
  };
};

/** arn:aws:sts::A:assumed-role/N/S → arn:aws:iam::A:role/N (the role's path is not in the session ARN). */
export const roleOfSession = (arn: string): string | undefined => {
  const m = /^arn:([^:]+):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(arn);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : undefined;
};
