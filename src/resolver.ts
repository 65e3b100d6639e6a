// host → route. Explicit configuration first (a rule whose `match` glob matches the host), then
// the anchored cloud host patterns. Hosts that match neither get no route: "credentials not
// found". Pure: no I/O, no network.

import type { AwsIdentity, AzureIdentity, GoogleIdentity, ProviderName, RegistryRule } from "./config.ts";
import { ConfigError } from "./errors.ts";
import { digest, secretDigest } from "./hash.ts";
import { awsIdentity, awsWorkloadRole, type IdentityInfo } from "./identity/aws.ts";
import { azureIdentity } from "./identity/azure.ts";
import { googleIdentity } from "./identity/google.ts";
import { urlsMatchStr } from "./registry/glob.ts";
import { type AzureCloud, isEcrPublicHost, isGoogleHost, parseAcrHost, parseEcrHost } from "./registry/hosts.ts";
import type { Settings } from "./settings.ts";

/**
 * Kubelet service-account token mode (KEP-4412): the pod's own projected token and its service
 * account's annotations. When present, providers act as the pod's identity instead of the node's.
 */
export interface Workload {
  token: string;
  annotations: Readonly<Record<string, string>>;
}

interface RouteBase {
  /** The registry host this route answers for. */
  host: string;
  /** Token cache key: provider, registry and a digest of the identity; never a secret. */
  cacheKey: string;
  /** Negative-cache key: provider and identity only (absence of identity is not per host). */
  negativeKey: string;
  identity: IdentityInfo;
  workload?: Workload;
}

export interface EcrRoute extends RouteBase {
  provider: "ecr";
  region: string;
  registryId: string | undefined;
  fips: boolean;
  dualStack: boolean;
  aws: AwsIdentity;
}
export interface EcrPublicRoute extends RouteBase {
  provider: "ecr-public";
  aws: AwsIdentity;
}
export interface GoogleRoute extends RouteBase {
  provider: "google";
  google: GoogleIdentity;
}
export interface AcrRoute extends RouteBase {
  provider: "acr";
  /** The ACR whose token `host` gets: `host` itself, or the rule's azure.loginServer (a mirror). */
  loginServer: string;
  cloud: AzureCloud;
  azure: AzureIdentity;
}
export type Route = EcrRoute | EcrPublicRoute | GoogleRoute | AcrRoute;

/** The provider a cloud-owned host belongs to by its shape alone. */
export const providerForHost = (host: string, extraAcrSuffixes: readonly string[] = []): ProviderName | null => {
  if (parseEcrHost(host)) return "ecr";
  if (isEcrPublicHost(host)) return "ecr-public";
  if (isGoogleHost(host)) return "google";
  if (parseAcrHost(host, extraAcrSuffixes)) return "acr";
  return null;
};

export const findRule = (host: string, rules: readonly RegistryRule[]): RegistryRule | undefined =>
  rules.find((r) => urlsMatchStr(r.match, host));

const keys = (provider: ProviderName, host: string, base: IdentityInfo, workload?: Workload) => {
  // In workload mode the identity is the pod's token (and the annotations that pick roles).
  const identity: IdentityInfo = workload
    ? {
        key: digest(
          base.key,
          secretDigest(workload.token),
          JSON.stringify(Object.entries(workload.annotations).sort()),
        ),
        label: `kubelet service-account token #${secretDigest(workload.token).slice(0, 8)}`,
        watch: [],
      }
    : base;
  return {
    cacheKey: `${provider}|${host}|${identity.key}`,
    negativeKey: `none|${provider}|${identity.key}`,
    identity,
    ...(workload ? { workload } : {}),
  };
};

export const resolveRoute = (host: string, settings: Settings, workload?: Workload): Route | null => {
  const { env, home, config } = settings;
  const rule = findRule(host, config.registries);
  if (rule?.provider === "none") return null;
  const shape = providerForHost(host, config.azure.extraSuffixes);
  // Only a literal host can be mapped to a cloud by configuration. A wildcard rule that names a
  // provider applies to that cloud's own hosts only: "*.azurecr.*" with provider acr must not send
  // an Entra token to "x.azurecr.attacker".
  const mapsCustomHost = rule?.provider !== undefined && !rule.match.includes("*");
  const provider = mapsCustomHost ? rule.provider : shape;
  if (!provider || (rule?.provider !== undefined && rule.provider !== provider)) return null;
  // AWS, as upstream's ecr-credential-provider: a service-account token whose annotations (and
  // the plugin's AWS_ECR_ROLE_ARN) name no role is not used; the node's identity serves the
  // request, with the node's cache entry.
  const awsWorkload = workload && awsWorkloadRole(workload, env) ? workload : undefined;
  switch (provider) {
    case "ecr": {
      const aws = rule?.aws ?? {};
      const parsed = parseEcrHost(host);
      const region = aws.region ?? parsed?.region;
      if (!region) throw new ConfigError(`registry ${host} is mapped to ecr but its rule sets no aws.region`);
      return {
        provider,
        host,
        region,
        registryId: aws.registryId ?? parsed?.account,
        fips: parsed?.fips ?? false,
        dualStack: parsed?.dualStack ?? false,
        aws,
        ...keys(provider, host, awsIdentity(env, home, aws), awsWorkload),
      };
    }
    case "ecr-public": {
      const aws = rule?.aws ?? {};
      return { provider, host, aws, ...keys(provider, host, awsIdentity(env, home, aws), awsWorkload) };
    }
    case "google": {
      const google = rule?.google ?? {};
      return { provider, host, google, ...keys(provider, host, googleIdentity(env, home, google), workload) };
    }
    case "acr": {
      const azure = rule?.azure ?? {};
      // A mirror (config.ts checked that loginServer is a genuine ACR host and the match literal).
      const loginServer = azure.loginServer ?? host;
      const cloud = parseAcrHost(loginServer, config.azure.extraSuffixes)?.cloud ?? "Custom";
      return {
        provider,
        host,
        loginServer,
        cloud,
        azure,
        ...keys(provider, host, azureIdentity(env, home, azure), workload),
      };
    }
  }
};
