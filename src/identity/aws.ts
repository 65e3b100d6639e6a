// Which AWS identity a route uses, computed from configuration and environment only (no
// network, no SDK): the cache key, a human label, and the files whose change matters.

import { path } from "../builtins.ts";
import type { AwsIdentity } from "../config.ts";
import type { Env } from "../env.ts";
import { digest } from "../hash.ts";

export interface IdentityInfo {
  /** Stable across processes; changes whenever a different identity or endpoint would be used. */
  key: string;
  /** For logs, `list` and diagnosis; never contains a secret. */
  label: string;
  /** Files whose modification may create or change the identity (invalidates a negative entry). */
  watch: string[];
}

// Variables that select the identity or the endpoints it talks to.
const AWS_KEY_VARS = [
  "AWS_PROFILE",
  "AWS_CONFIG_FILE",
  "AWS_SHARED_CREDENTIALS_FILE",
  "AWS_ROLE_ARN",
  "AWS_ROLE_SESSION_NAME",
  "AWS_ECR_ROLE_ARN",
  "AWS_WEB_IDENTITY_TOKEN_FILE",
  "AWS_CONTAINER_CREDENTIALS_FULL_URI",
  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
  "AWS_EC2_METADATA_SERVICE_ENDPOINT",
  "AWS_EC2_METADATA_DISABLED",
  "AWS_ENDPOINT_URL",
  "AWS_ENDPOINT_URL_ECR",
  "AWS_ENDPOINT_URL_ECR_PUBLIC",
  "AWS_ENDPOINT_URL_STS",
  "AWS_USE_FIPS_ENDPOINT",
  "AWS_USE_DUALSTACK_ENDPOINT",
] as const;

/** Kubelet service-account token mode: the service-account annotation that names the ECR role. */
export const ECR_ROLE_ANNOTATION = "eks.amazonaws.com/ecr-role-arn";

/**
 * The role a kubelet service-account token is exchanged for, as cloud-provider-aws's
 * ecr-credential-provider picks it: the annotation eks.amazonaws.com/ecr-role-arn when the kubelet
 * sent that key (even empty), else AWS_ECR_ROLE_ARN in the plugin's env. Undefined when that is
 * empty: then the request is served with the node's own credentials (upstream #1281) — the IRSA
 * annotation eks.amazonaws.com/role-arn is not read (upstream #1265 is not merged).
 */
export const awsWorkloadRole = (
  workload: { annotations: Readonly<Record<string, string>> },
  env: Env,
): string | undefined =>
  (Object.hasOwn(workload.annotations, ECR_ROLE_ANNOTATION)
    ? workload.annotations[ECR_ROLE_ANNOTATION]
    : env.AWS_ECR_ROLE_ARN) || undefined;

/**
 * Whether the identity was chosen explicitly (config rule, AWS_PROFILE, IRSA variables). Then a
 * failure to load credentials is a broken setup to report, not "no AWS identity on this machine".
 */
export const awsIdentityIsExplicit = (env: Env, rule: AwsIdentity = {}): boolean =>
  Boolean(rule.profile || rule.roleArn || env.AWS_PROFILE || (env.AWS_ROLE_ARN && env.AWS_WEB_IDENTITY_TOKEN_FILE));

export const awsIdentity = (env: Env, home: string, rule: AwsIdentity = {}): IdentityInfo => {
  // The JS SDK's chain: a profile named by AWS_PROFILE wins over environment keys (the SDK warns
  // when both are set); AWS_DEFAULT_PROFILE is not read by it.
  const profile = rule.profile ?? env.AWS_PROFILE;
  const accessKey = env.AWS_ACCESS_KEY_ID;
  let base: string;
  if (profile) base = `profile ${profile}`;
  else if (accessKey) base = `environment access key #${digest(accessKey).slice(0, 8)}`;
  else if (env.AWS_WEB_IDENTITY_TOKEN_FILE && env.AWS_ROLE_ARN) base = `web identity ${env.AWS_ROLE_ARN}`;
  else if (env.AWS_CONTAINER_CREDENTIALS_FULL_URI || env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)
    base = "container credentials endpoint";
  else base = "default credential chain";
  const label = rule.roleArn ? `${base} → assume ${rule.roleArn}` : base;
  const key = digest(
    ...AWS_KEY_VARS.map((v) => `${v}=${env[v] ?? ""}`),
    `key=${accessKey ? digest(accessKey) : ""}`,
    JSON.stringify(rule),
  );
  const watch = [
    env.AWS_CONFIG_FILE || path.join(home, ".aws", "config"),
    env.AWS_SHARED_CREDENTIALS_FILE || path.join(home, ".aws", "credentials"),
    path.join(home, ".aws", "sso", "cache"),
  ];
  if (env.AWS_WEB_IDENTITY_TOKEN_FILE) watch.push(env.AWS_WEB_IDENTITY_TOKEN_FILE);
  return { key, label, watch };
};
