// AWS who-am-i for the operator verbs: the route's identity plan (providers/aws/plan.ts, the one
// source of truth for the order) carried out one source at a time with the real SDK, so the report
// can say which source answered and why the others did not, then STS GetCallerIdentity for the
// principal (and for the base identity, when a role is assumed on top of it).
//
// The sources are built here from the plan instead of through fromNodeProviderChain because the
// SDK's chain reads process.env, and `explain --as kubelet` must answer for the kubelet's
// environment, not this shell's. Every source the plan can mark available in a kubelet
// environment takes its inputs as parameters; the env-reading ones (fromEnv, fromTokenFile,
// fromHttp) are only built when the plan found their variables in the environment given.

import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@aws-sdk/types";
import { path } from "../../builtins.ts";
import type { Env } from "../../env.ts";
import { oneLine } from "../../errors.ts";
import { type Logger, scrub } from "../../log.ts";
import {
  DEFAULT_SESSION_NAME,
  defaultChainFacts,
  imdsAddress,
  mfaOptions,
  WORKLOAD_SESSION_NAME,
} from "../../providers/aws/credentials.ts";
import {
  awsIdentityPlan,
  NO_ROLE_FALLBACK,
  WORKLOAD_ROLE_ANNOTATION,
  workloadRoleArn,
} from "../../providers/aws/plan.ts";
import type { IdentitySource } from "../../providers/types.ts";
import type { EcrPublicRoute, EcrRoute, Workload } from "../../resolver.ts";
import type { ChainStep, WhoAmI } from "./types.ts";

export interface AwsWhoAmI extends WhoAmI {
  /** The credentials that answered (after any assumed role), for a token fetch with them. */
  credentials?: AwsCredentialIdentityProvider;
}

export interface AwsWhoOptions {
  /** The environment to answer for (this process's, or the kubelet's for `--as kubelet`). */
  env: Env;
  /**
   * The service-account token of the request (`explain --as kubelet --service-account-token`),
   * also when it names no role: the resolver then leaves it off the route, and the plan says the
   * node's credentials serve the request.
   */
  workload?: Workload;
  home: string;
  timeoutMs: number;
  now: () => number;
  log: Logger;
}

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
export const describeProfile = (name: string, p: Record<string, string | undefined>): string => {
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

const requestHandler = (timeoutMs: number) => ({
  connectionTimeout: timeoutMs,
  requestTimeout: timeoutMs,
  throwOnRequestTimeout: true,
});

/** "Not here, try the next source" in the SDK's taxonomy (CredentialsProviderError.tryNextLink). */
const tryNext = (e: unknown): boolean => (e as { tryNextLink?: boolean }).tryNextLink === true;

const regionOf = (route: EcrRoute | EcrPublicRoute, env: Env) =>
  route.provider === "ecr" ? route.region : env.AWS_REGION || "us-east-1";

/** How each kind of source is named in a report (the plan's label goes into the detail). */
const SOURCE_NAME: Record<string, string> = {
  kubelet: "kubelet service-account token",
  profile: "profile",
  env: "environment keys",
  shared: "shared config files",
  web: "web identity token file",
  container: "container credentials endpoint",
  imds: "instance metadata",
};

const fixed =
  (c: AwsCredentialIdentity): AwsCredentialIdentityProvider =>
  async () =>
    c;

export const whoAws = async (route: EcrRoute | EcrPublicRoute, o: AwsWhoOptions): Promise<AwsWhoAmI> => {
  const { env } = o;
  const rule = route.aws;
  const plan = awsIdentityPlan(env, rule, route.workload ?? o.workload);
  const steps: ChainStep[] = [];
  const region = regionOf(route, env);
  const clientConfig = { region, requestHandler: requestHandler(o.timeoutMs) };
  const cp = await import("@aws-sdk/credential-providers");
  const defaultChain = plan.sources.some((s) => s.kind === "shared");
  const facts = defaultChain ? await defaultChainFacts(env, o.home) : { sharedFiles: true, imds: true };
  let profiles: Profiles = {};
  if (plan.sources.some((s) => s.kind === "shared" || s.kind === "profile")) {
    try {
      profiles = await loadProfiles(env, o.home);
    } catch (e) {
      steps.push({ source: "shared config files", state: "failed", detail: scrub(oneLine(e)) });
    }
  }
  const profileName = rule.profile ?? env.AWS_PROFILE ?? "default";

  /**
   * fromIni for a profile; with mfa_serial on its chain (mfa.ts), the sessions `get` cached as the
   * AWS CLI does, never a prompt (a report asks nothing): without one, why not.
   */
  const ini = async (name: string): Promise<AwsCredentialIdentityProvider | { failed: string }> => {
    const { cachedMfa, noCachedSession } = await import("../../providers/aws/mfa.ts");
    const mfa = await cachedMfa(name, o);
    if (!mfa) return cp.fromIni({ profile: name, clientConfig });
    if (mfa.missing) return { failed: noCachedSession(mfa.missing) };
    if (mfa.setup.cached) return fixed(mfa.setup.cached);
    return cp.fromIni({
      profile: name,
      clientConfig,
      ...(await mfaOptions({ setup: mfa.setup, log: o.log }, clientConfig)),
    });
  };

  /**
   * The SDK provider for one source of the plan, or why it does not apply here (`failed`: why it
   * fails without trying it).
   */
  const build = async (
    s: IdentitySource,
  ): Promise<{ provider: AwsCredentialIdentityProvider; detail: string } | { failed: string } | string> => {
    switch (s.kind) {
      case "kubelet": {
        // The plan selects the token only when a role is named, and then the resolver keeps the
        // token on the route; without one the source is "unavailable" and never built.
        const roleArn = route.workload ? workloadRoleArn(route.workload, env) : undefined;
        if (!route.workload || !roleArn) return NO_ROLE_FALLBACK;
        // awsWorkloadRole: the annotation when the kubelet sent that key, else AWS_ECR_ROLE_ARN.
        const from = Object.hasOwn(route.workload.annotations, WORKLOAD_ROLE_ANNOTATION)
          ? `annotation ${WORKLOAD_ROLE_ANNOTATION}`
          : "AWS_ECR_ROLE_ARN";
        const session = rule.roleSessionName ?? WORKLOAD_SESSION_NAME;
        return {
          provider: cp.fromWebToken({
            roleArn,
            webIdentityToken: route.workload.token,
            roleSessionName: session,
            clientConfig,
          }),
          detail: `AssumeRoleWithWebIdentity ${roleArn} (from ${from}), session name ${session}; the node's own identity is not used`,
        };
      }
      case "profile": {
        const p = profiles[profileName];
        if (!p) return `profile ${profileName} is not in the shared config or credentials file`;
        const provider = await ini(profileName);
        return "failed" in provider ? provider : { provider, detail: describeProfile(profileName, p) };
      }
      case "env":
        return {
          provider: cp.fromEnv(),
          detail: `AWS_ACCESS_KEY_ID${env.AWS_SESSION_TOKEN ? " with AWS_SESSION_TOKEN" : ""}`,
        };
      case "shared": {
        if (!facts.sharedFiles) return "no shared config or credentials file";
        const p = profiles.default;
        if (!p) return "no default profile in the shared files";
        const provider = await ini("default");
        return "failed" in provider ? provider : { provider, detail: describeProfile("default", p) };
      }
      case "web":
        return {
          provider: cp.fromTokenFile({ clientConfig }),
          detail: `AssumeRoleWithWebIdentity ${env.AWS_ROLE_ARN} with ${env.AWS_WEB_IDENTITY_TOKEN_FILE}, session name ${env.AWS_ROLE_SESSION_NAME ?? "(SDK-generated)"}`,
        };
      case "container": {
        const http = cp.fromHttp({ timeout: o.timeoutMs, maxRetries: 1 });
        const ecs = cp.fromContainerMetadata({ timeout: o.timeoutMs, maxRetries: 1 });
        return {
          provider: async () => {
            try {
              return await http();
            } catch {
              return ecs();
            }
          },
          detail: env.AWS_CONTAINER_CREDENTIALS_FULL_URI || env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI || "",
        };
      }
      case "imds": {
        const { host, port } = imdsAddress(env);
        if (!facts.imds) return `no instance metadata service at ${host}:${port} (no connection)`;
        return {
          provider: cp.fromInstanceMetadata({ timeout: o.timeoutMs, maxRetries: 1 }),
          detail: `the instance profile from ${env.AWS_EC2_METADATA_SERVICE_ENDPOINT || `http://${host}`}`,
        };
      }
      default:
        return `unknown source ${s.kind}`;
    }
  };

  let base: AwsCredentialIdentityProvider | undefined;
  let error: string | undefined;
  for (const s of plan.sources) {
    const name = SOURCE_NAME[s.kind] ?? s.label;
    if (base || error) {
      steps.push({
        source: name,
        state: s.status === "unavailable" ? "absent" : "skipped",
        detail:
          s.status === "unavailable" ? (s.reason ?? s.label) : `${s.label}: not reached, a source before it answered`,
      });
      continue;
    }
    if (s.status === "unavailable") {
      steps.push({ source: name, state: "absent", detail: s.reason ?? "not configured" });
      continue;
    }
    const b = await build(s);
    if (typeof b !== "string" && "failed" in b) {
      steps.push({ source: name, state: "failed", detail: b.failed });
      error = b.failed;
      continue;
    }
    if (typeof b === "string") {
      // A source the plan selected outright (a named profile, the kubelet's token) does not hand over.
      const decisive = s.kind === "profile" || s.kind === "kubelet";
      steps.push({ source: name, state: decisive ? "failed" : "absent", detail: b });
      if (decisive) error = b;
      continue;
    }
    try {
      const c = await b.provider();
      base = fixed(c);
      steps.push({ source: name, state: "used", detail: b.detail });
    } catch (e) {
      const why = scrub(oneLine(e));
      if (tryNext(e) && s.kind !== "profile" && s.kind !== "kubelet") {
        steps.push({ source: name, state: "absent", detail: why });
        continue;
      }
      steps.push({ source: name, state: "failed", detail: why });
      error = `${s.label}: ${why}`;
    }
  }
  if (error) return { plan, steps, error };
  if (!base) return { plan, steps, none: true, error: "no AWS identity: none of the sources above is present" };
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
  const callerArn = async (c: AwsCredentialIdentityProvider): Promise<string> => {
    const sts = new STSClient({ region, credentials: c, requestHandler: requestHandler(o.timeoutMs), maxAttempts: 1 });
    const out = await sts.send(new GetCallerIdentityCommand({}));
    return out.Arn ?? "(STS returned no ARN)";
  };
  const out: AwsWhoAmI = { plan, steps, credentials: creds, via: "STS GetCallerIdentity" };
  try {
    if (rule.roleArn) out.basePrincipal = await callerArn(base);
    out.principal = await callerArn(creds);
  } catch (e) {
    out.error = `STS GetCallerIdentity failed: ${scrub(oneLine(e))}`;
  }
  return out;
};
