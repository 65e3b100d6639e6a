// The AWS identity plan: which credential sources ECR requests use, in the AWS SDK's precedence
// order, and which one applies, from configuration and environment only (no SDK, no network, no
// file reads). Pure and exported so that the operator verbs (`doctor`, `explain`) show exactly the
// order the provider walks; credentials.ts builds the SDK providers from the same decision.
//
// Order (fromNodeProviderChain, with our config rule on top):
//   kubelet   kubelet service-account token → STS AssumeRoleWithWebIdentity for the role the
//             annotation or AWS_ECR_ROLE_ARN names (kubelet mode only; then nothing else is
//             considered); without a role the token is ignored and the node's chain below applies
//   profile   the rule's aws.profile, else AWS_PROFILE: that profile alone (SSO, keys, role chain,
//             credential_process, web identity in ~/.aws/config)
//   env       AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (skipped by the SDK when a profile is named)
//   shared    the default profile of ~/.aws/config and ~/.aws/credentials (SSO, ini, process)
//   web       AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (IRSA)
//   container AWS_CONTAINER_CREDENTIALS_FULL_URI / _RELATIVE_URI (ECS, EKS Pod Identity)
//   imds      the EC2 instance metadata service (unless AWS_EC2_METADATA_DISABLED=true)
// then the rule's aws.roleArn is assumed with the credentials found.

import type { AwsIdentity } from "../../config.ts";
import type { Env } from "../../env.ts";
import { awsWorkloadRole, ECR_ROLE_ANNOTATION } from "../../identity/aws.ts";
import type { Workload } from "../../resolver.ts";
import type { IdentityPlan, IdentitySource } from "../types.ts";

/** Kubelet mode: the service-account annotation that names the ECR role (the one upstream reads). */
export const WORKLOAD_ROLE_ANNOTATION = ECR_ROLE_ANNOTATION;
/**
 * EKS's IRSA annotation, for the pod's containers. Not read by the kubelet plugin (as upstream's
 * ecr-credential-provider does not); kept so that the verbs can say so when it is the only one set.
 */
export const IRSA_ROLE_ANNOTATION = "eks.amazonaws.com/role-arn";

/**
 * The role a kubelet service-account token is exchanged for (identity/aws.ts awsWorkloadRole):
 * the ECR role annotation, else AWS_ECR_ROLE_ARN in the plugin's env; undefined when neither names
 * one — then the node's own credentials serve the request, as upstream's do.
 */
export const workloadRoleArn = (workload: Workload, env: Env): string | undefined => awsWorkloadRole(workload, env);

/** Kubelet mode, a token but no role named: what happens, in the words the verbs use. */
export const NO_ROLE_FALLBACK = `no role named (no ${WORKLOAD_ROLE_ANNOTATION} annotation, no AWS_ECR_ROLE_ARN) → node credentials, as upstream ecr-credential-provider`;

const mark = (sources: IdentitySource[]): IdentitySource[] => {
  let chosen = false;
  return sources.map((s) => {
    if (s.status === "unavailable") return s;
    if (chosen) return s.status === "probe" ? s : { ...s, status: "available" };
    if (s.status === "available") {
      chosen = true;
      return { ...s, status: "selected" };
    }
    return s;
  });
};

/** The sources for a route's identity, in precedence order; the first "selected" one is used. */
export const awsIdentityPlan = (env: Env, rule: AwsIdentity = {}, workload?: Workload): IdentityPlan => {
  const then = rule.roleArn ? `assume ${rule.roleArn}` : undefined;
  if (workload) {
    const role = workloadRoleArn(workload, env);
    if (role) {
      return {
        cloud: "aws",
        origin: "kubelet service-account token",
        sources: [
          { kind: "kubelet", label: `service-account token → AssumeRoleWithWebIdentity ${role}`, status: "selected" },
        ],
      };
    }
    // No role named: the token is not used and the node's own chain serves the request.
    const node = awsIdentityPlan(env, rule);
    return {
      ...node,
      sources: [
        {
          kind: "kubelet",
          label: "service-account token → AssumeRoleWithWebIdentity",
          status: "unavailable",
          reason: NO_ROLE_FALLBACK,
        },
        ...node.sources,
      ],
    };
  }
  const origin = "default chain";
  const profile = rule.profile ?? env.AWS_PROFILE;
  if (profile) {
    return {
      cloud: "aws",
      origin: rule.profile ? "config aws.profile" : "AWS_PROFILE",
      sources: [{ kind: "profile", label: `profile ${profile}`, status: "selected" }],
      ...(then ? { afterwards: then } : {}),
    };
  }
  const set = (v: string | undefined) => Boolean(v && v !== "");
  const imdsOff = (env.AWS_EC2_METADATA_DISABLED ?? "").toLowerCase() === "true";
  const sources: IdentitySource[] = [
    set(env.AWS_ACCESS_KEY_ID) && set(env.AWS_SECRET_ACCESS_KEY)
      ? { kind: "env", label: "environment access key", status: "available" }
      : {
          kind: "env",
          label: "environment access key",
          status: "unavailable",
          reason: "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY unset",
        },
    {
      kind: "shared",
      label: "default profile of the shared config files",
      status: "probe",
      reason: "read from ~/.aws/config and ~/.aws/credentials at fetch time",
    },
    set(env.AWS_WEB_IDENTITY_TOKEN_FILE) && set(env.AWS_ROLE_ARN)
      ? { kind: "web", label: `web identity ${env.AWS_ROLE_ARN}`, status: "available" }
      : {
          kind: "web",
          label: "web identity",
          status: "unavailable",
          reason: "AWS_WEB_IDENTITY_TOKEN_FILE/AWS_ROLE_ARN unset",
        },
    set(env.AWS_CONTAINER_CREDENTIALS_FULL_URI) || set(env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)
      ? { kind: "container", label: "container credentials endpoint", status: "available" }
      : {
          kind: "container",
          label: "container credentials endpoint",
          status: "unavailable",
          reason: "AWS_CONTAINER_CREDENTIALS_FULL_URI/_RELATIVE_URI unset",
        },
    imdsOff
      ? {
          kind: "imds",
          label: "EC2 instance metadata",
          status: "unavailable",
          reason: "AWS_EC2_METADATA_DISABLED=true",
        }
      : {
          kind: "imds",
          label: `EC2 instance metadata (${env.AWS_EC2_METADATA_SERVICE_ENDPOINT || "169.254.169.254"})`,
          status: "probe",
        },
  ];
  // The shared files are read before web identity and containers: a "probe" ahead of an
  // available source means the SDK may still pick the shared profile, so nothing after it is
  // "selected" for certain unless env keys come first.
  const first = sources.findIndex((s) => s.status !== "unavailable");
  const decided = sources[first]?.status === "available" ? mark(sources) : sources;
  return { cloud: "aws", origin, sources: decided, ...(then ? { afterwards: then } : {}) };
};
