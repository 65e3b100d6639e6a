// The AWS identity chain as `explain` walks it: which sources exist, in the SDK's precedence order,
// which one is used, then live STS GetCallerIdentity calls (base identity, then any assumed role)
// with the real SDK. Also the ECR token fetch for `--as kubelet`, whose environment is not this
// process's (the SDK's own chain reads process.env, so the kubelet's chain is built explicitly).
// Loaded only by the human verbs.

import type { AwsCredentialIdentityProvider } from "@aws-sdk/types";
import { path } from "../../builtins.ts";
import { oneLine } from "../../errors.ts";
import { scrub } from "../../log.ts";
import { decodeAuthorizationToken, WORKLOAD_ROLE_ANNOTATION, workloadRoleArn } from "../../providers/aws/ecr.ts";
import type { EcrPublicRoute, EcrRoute } from "../../resolver.ts";
import type { Env } from "../../settings.ts";
import type { State } from "./output.ts";

// The session names the ECR provider uses (src/providers/ecr.ts).
const DEFAULT_SESSION_NAME = "docker-credential-cloud";
const WORKLOAD_SESSION_NAME = "ecr-credential-provider";

export interface ChainStep {
  source: string;
  state: State;
  detail: string;
}

export interface AwsWalk {
  steps: ChainStep[];
  /** The principal ARN the registry will see (after any assumed role). */
  principal?: string;
  /** The base identity, when a role is assumed on top of it. */
  basePrincipal?: string;
  error?: string;
  /** The credentials walked, for the kubelet-mode token fetch. */
  credentials?: AwsCredentialIdentityProvider;
}

type Pick = "env" | "profile" | "web-identity" | "container" | "imds" | "none";

type Profiles = Record<string, Record<string, string | undefined>>;

const loadProfiles = async (env: Env, home: string): Promise<Profiles> => {
  const { loadSharedConfigFiles } = await import("@smithy/core/config");
  const files = await loadSharedConfigFiles({
    filepath: env.AWS_SHARED_CREDENTIALS_FILE || path.join(home, ".aws", "credentials"),
    configFilepath: env.AWS_CONFIG_FILE || path.join(home, ".aws", "config"),
    ignoreCache: true,
  });
  const out: Profiles = {};
  for (const src of [files.configFile, files.credentialsFile]) {
    for (const [name, data] of Object.entries(src ?? {})) out[name] = { ...out[name], ...data };
  }
  return out;
};

/** A profile described without its secrets (keys are named, never shown). */
const describeProfile = (name: string, p: Record<string, string | undefined>): string => {
  const parts: string[] = [];
  if (p.role_arn) {
    parts.push(`assume ${p.role_arn}`);
    if (p.source_profile) parts.push(`from source_profile ${p.source_profile}`);
    if (p.credential_source) parts.push(`from credential_source ${p.credential_source}`);
    if (p.web_identity_token_file) parts.push(`with web identity token file ${p.web_identity_token_file}`);
    parts.push(`external id ${p.external_id ?? "(none)"}`);
    parts.push(`session name ${p.role_session_name ?? "(SDK-generated)"}`);
  } else if (p.sso_session || p.sso_start_url) {
    parts.push(
      `SSO ${p.sso_session ? `session ${p.sso_session}` : p.sso_start_url}, account ${p.sso_account_id ?? "?"}, role ${p.sso_role_name ?? "?"}`,
    );
  } else if (p.credential_process) {
    parts.push("credential_process (a command that prints keys)");
  } else if (p.aws_access_key_id) {
    parts.push("static keys in the shared files");
  } else parts.push("no credentials in it");
  return `profile ${name}: ${parts.join(", ")}`;
};

const profileHasCredentials = (p: Record<string, string | undefined> | undefined): boolean =>
  Boolean(p && (p.role_arn || p.sso_session || p.sso_start_url || p.credential_process || p.aws_access_key_id));

const requestHandler = (timeoutMs: number) => ({
  connectionTimeout: timeoutMs,
  requestTimeout: timeoutMs,
  throwOnRequestTimeout: true,
});

export interface WalkOptions {
  env: Env;
  home: string;
  timeoutMs: number;
  /** True for `--as kubelet`: env is the kubelet's, and the chain is built from it explicitly. */
  kubelet: boolean;
}

const regionOf = (route: EcrRoute | EcrPublicRoute) => (route.provider === "ecr" ? route.region : "us-east-1");

export const walkAws = async (route: EcrRoute | EcrPublicRoute, o: WalkOptions): Promise<AwsWalk> => {
  const { env } = o;
  const steps: ChainStep[] = [];
  const rule = route.aws;
  const region = regionOf(route);
  const clientConfig = { region, requestHandler: requestHandler(o.timeoutMs) };
  const cp = await import("@aws-sdk/credential-providers");
  let base: AwsCredentialIdentityProvider | undefined;
  let pick: Pick = "none";

  if (route.workload) {
    // Kubelet service-account token mode: the pod's token, exchanged for the annotated role.
    const roleArn = workloadRoleArn(route.workload, env);
    if (!roleArn) {
      const why = `the kubelet sent a service-account token but no role to assume: annotate the service account with ${WORKLOAD_ROLE_ANNOTATION}=<role ARN>, or set AWS_ECR_ROLE_ARN in the provider's env`;
      steps.push({ source: "kubelet service-account token", state: "failed", detail: why });
      return { steps, error: why };
    }
    const from = route.workload.annotations[WORKLOAD_ROLE_ANNOTATION]
      ? `annotation ${WORKLOAD_ROLE_ANNOTATION}`
      : "AWS_ECR_ROLE_ARN";
    const session = rule.roleSessionName ?? WORKLOAD_SESSION_NAME;
    steps.push({
      source: "kubelet service-account token",
      state: "used",
      detail: `AssumeRoleWithWebIdentity ${roleArn} (from ${from}), session name ${session}; the node's own identity is not used`,
    });
    base = cp.fromWebToken({ roleArn, webIdentityToken: route.workload.token, roleSessionName: session, clientConfig });
    pick = "web-identity";
  } else {
    let profiles: Profiles = {};
    try {
      profiles = await loadProfiles(env, o.home);
    } catch (e) {
      steps.push({ source: "shared config files", state: "failed", detail: scrub(oneLine(e)) });
    }
    const explicit = rule.profile ?? env.AWS_PROFILE;
    const profileName = explicit ?? "default";
    // 1. environment keys
    if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
      if (explicit) {
        steps.push({
          source: "environment keys",
          state: "skipped",
          detail: `AWS_ACCESS_KEY_ID is set, but ${rule.profile ? "the config rule's profile" : "AWS_PROFILE"} ${explicit} wins`,
        });
      } else {
        steps.push({
          source: "environment keys",
          state: "used",
          detail: `AWS_ACCESS_KEY_ID${env.AWS_SESSION_TOKEN ? " with AWS_SESSION_TOKEN" : ""}`,
        });
        pick = "env";
      }
    } else steps.push({ source: "environment keys", state: "absent", detail: "AWS_ACCESS_KEY_ID not set" });
    // 2. the profile (ini, SSO, credential_process, assume-role profiles)
    const p = profiles[profileName];
    if (explicit && !p) {
      steps.push({
        source: "profile",
        state: "failed",
        detail: `profile ${explicit} is not in the shared config or credentials file`,
      });
      return { steps, error: `AWS profile ${explicit} not found` };
    }
    if (explicit || (pick === "none" && profileHasCredentials(p))) {
      steps.push({
        source: "profile",
        state: pick === "none" ? "used" : "skipped",
        detail: describeProfile(profileName, p ?? {}),
      });
      if (pick === "none") pick = "profile";
    } else {
      steps.push({
        source: "profile",
        state: profileHasCredentials(p) ? "skipped" : "absent",
        detail: p ? describeProfile(profileName, p) : "no default profile with credentials",
      });
    }
    // 3. web identity token file (IRSA)
    if (env.AWS_WEB_IDENTITY_TOKEN_FILE && env.AWS_ROLE_ARN) {
      steps.push({
        source: "web identity token file",
        state: pick === "none" ? "used" : "skipped",
        detail: `AssumeRoleWithWebIdentity ${env.AWS_ROLE_ARN} with ${env.AWS_WEB_IDENTITY_TOKEN_FILE}, session name ${env.AWS_ROLE_SESSION_NAME ?? "(SDK-generated)"}`,
      });
      if (pick === "none") pick = "web-identity";
    } else
      steps.push({
        source: "web identity token file",
        state: "absent",
        detail: "AWS_ROLE_ARN / AWS_WEB_IDENTITY_TOKEN_FILE not set",
      });
    // 4. container credentials endpoint (ECS, EKS Pod Identity)
    const ctr = env.AWS_CONTAINER_CREDENTIALS_FULL_URI || env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI;
    if (ctr) {
      steps.push({
        source: "container credentials endpoint",
        state: pick === "none" ? "used" : "skipped",
        detail: ctr,
      });
      if (pick === "none") pick = "container";
    } else
      steps.push({
        source: "container credentials endpoint",
        state: "absent",
        detail: "AWS_CONTAINER_CREDENTIALS_* not set",
      });
    // 5. instance metadata (the node's instance profile)
    const imdsOff = (env.AWS_EC2_METADATA_DISABLED ?? "").toLowerCase() === "true";
    if (imdsOff) steps.push({ source: "instance metadata", state: "absent", detail: "AWS_EC2_METADATA_DISABLED=true" });
    else {
      steps.push({
        source: "instance metadata",
        state: pick === "none" ? "used" : "skipped",
        detail: `instance profile from ${env.AWS_EC2_METADATA_SERVICE_ENDPOINT || "http://169.254.169.254"}`,
      });
      if (pick === "none") pick = "imds";
    }
    if (!o.kubelet) {
      // Exactly what the ECR provider builds, so the principal shown is the one it uses.
      base = explicit ? cp.fromIni({ profile: explicit, clientConfig }) : cp.fromNodeProviderChain({ clientConfig });
    } else if (pick === "profile") base = cp.fromIni({ profile: profileName, clientConfig });
    else if (pick === "imds") base = cp.fromInstanceMetadata({ timeout: o.timeoutMs, maxRetries: 1 });
    else if (pick === "container") base = cp.fromContainerMetadata({ timeout: o.timeoutMs, maxRetries: 1 });
    if (pick === "none" || !base) {
      return { steps, error: "no AWS identity: none of the sources above is present" };
    }
  }
  let creds = base;
  if (rule.roleArn) {
    const session = rule.roleSessionName ?? DEFAULT_SESSION_NAME;
    steps.push({
      source: "assumed role (config rule)",
      state: "used",
      detail: `AssumeRole ${rule.roleArn}, external id ${rule.externalId ?? "(none)"}, session name ${session}`,
    });
    creds = cp.fromTemporaryCredentials({
      masterCredentials: base,
      params: {
        RoleArn: rule.roleArn,
        RoleSessionName: session,
        ...(rule.externalId ? { ExternalId: rule.externalId } : {}),
      },
      clientConfig,
    });
  }
  const { STSClient, GetCallerIdentityCommand } = await import("@aws-sdk/client-sts");
  const whoami = async (c: AwsCredentialIdentityProvider): Promise<string> => {
    const sts = new STSClient({ region, credentials: c, requestHandler: requestHandler(o.timeoutMs), maxAttempts: 1 });
    const out = await sts.send(new GetCallerIdentityCommand({}));
    return out.Arn ?? "(STS returned no ARN)";
  };
  const out: AwsWalk = { steps, credentials: creds };
  try {
    if (rule.roleArn) out.basePrincipal = await whoami(base);
    out.principal = await whoami(creds);
  } catch (e) {
    out.error = `STS GetCallerIdentity failed: ${scrub(oneLine(e))}`;
  }
  return out;
};

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
