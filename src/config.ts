// The optional configuration file: YAML or JSON. JSON (or YAML that is valid JSON) is parsed
// without loading the YAML library, so a config file costs the cache-hit path almost nothing.
// Validation is strict: an unknown or mistyped key is an error naming the file and the key,
// because a typo in an identity setting would otherwise silently use the wrong identity.

import { ConfigError } from "./errors.ts";
import { parseAcrHost } from "./registry/hosts.ts";

export type ProviderName = "ecr" | "ecr-public" | "google" | "acr";
export const PROVIDER_NAMES: readonly ProviderName[] = ["ecr", "ecr-public", "google", "acr"];

export interface AwsIdentity {
  profile?: string;
  roleArn?: string;
  externalId?: string;
  roleSessionName?: string;
  /** For custom hosts (pull-through caches, private DNS): the ECR region and registry id. */
  region?: string;
  registryId?: string;
}

export interface GoogleIdentity {
  /** A credentials JSON file of any ADC type, used instead of application default credentials. */
  credentialsFile?: string;
  /** A service account to impersonate with the base identity (IAM generateAccessToken). */
  impersonateServiceAccount?: string;
  /**
   * Kubelet service-account token mode: the workload identity pool provider the pod's token is
   * exchanged at (STS audience), "//iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/providers/X".
   */
  workloadIdentityProvider?: string;
}

export type AzureCredentialKind = "default" | "environment" | "workload" | "managed" | "cli";

export interface AzureIdentity {
  tenantId?: string;
  clientId?: string;
  credential?: AzureCredentialKind;
  scope?: string;
  authorityHost?: string;
  /**
   * A mirror or custom host served with another registry's token: the Azure Container Registry
   * login server ("myacr.azurecr.io") whose token `match` gets (e.g. mcr.microsoft.com mirrored
   * into an ACR, as acr-credential-provider's --registry-mirror). Literal `match` only.
   */
  loginServer?: string;
}

export interface RegistryRule {
  /** A host glob with kubelet semantics ("*" within one label), e.g. "*.dkr.ecr.*.amazonaws.com". */
  match: string;
  /** Required for hosts that are not a cloud's own (custom mapping); "none" refuses the host. */
  provider?: ProviderName | "none";
  aws?: AwsIdentity;
  google?: GoogleIdentity;
  azure?: AzureIdentity;
}

export interface Config {
  registries: readonly RegistryRule[];
  azure: { extraSuffixes: readonly string[] };
  cache: { dir?: string; enabled?: boolean; negativeTtlSeconds?: number };
  timeouts: { requestSeconds?: number };
  /** Kubelet plugins → Docker clients: `get` also asks these providers (both or neither). */
  kubelet: { providerConfig?: string; binDir?: string };
}

export const EMPTY_CONFIG: Config = Object.freeze({
  registries: [],
  azure: { extraSuffixes: [] },
  cache: {},
  timeouts: {},
  kubelet: {},
});

// A tiny schema: leaf type names, nested objects, or arrays of one of those.
type Schema = "string" | "number" | "boolean" | readonly string[] | { [k: string]: Schema } | [Schema];

const AWS: Schema = {
  profile: "string",
  roleArn: "string",
  externalId: "string",
  roleSessionName: "string",
  region: "string",
  registryId: "string",
};
const GOOGLE: Schema = {
  credentialsFile: "string",
  impersonateServiceAccount: "string",
  workloadIdentityProvider: "string",
};
const AZURE: Schema = {
  tenantId: "string",
  clientId: "string",
  credential: ["default", "environment", "workload", "managed", "cli"],
  scope: "string",
  authorityHost: "string",
  loginServer: "string",
};
const SCHEMA: Schema = {
  version: "number",
  registries: [
    {
      match: "string",
      provider: [...PROVIDER_NAMES, "none"],
      aws: AWS,
      google: GOOGLE,
      azure: AZURE,
    },
  ],
  azure: { extraSuffixes: ["string"] },
  cache: { dir: "string", enabled: "boolean", negativeTtlSeconds: "number" },
  timeouts: { requestSeconds: "number" },
  kubelet: { providerConfig: "string", binDir: "string" },
};

const check = (value: unknown, schema: Schema, at: string): string | null => {
  if (typeof schema === "string") {
    return typeof value === schema ? null : `${at}: expected a ${schema}`;
  }
  if (Array.isArray(schema) && schema.length === 1 && typeof schema[0] !== "string") {
    if (!Array.isArray(value)) return `${at}: expected a list`;
    for (const [i, v] of value.entries()) {
      const err = check(v, schema[0] as Schema, `${at}[${i}]`);
      if (err) return err;
    }
    return null;
  }
  if (Array.isArray(schema) && schema.length === 1 && schema[0] === "string") {
    if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) return `${at}: expected a list of strings`;
    return null;
  }
  if (Array.isArray(schema)) {
    return (schema as readonly string[]).includes(value as string)
      ? null
      : `${at}: must be one of ${schema.join(", ")}`;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return `${at}: expected a mapping`;
  for (const [k, v] of Object.entries(value)) {
    // Own keys only: a key named "constructor" or "toString" is unknown, not Object.prototype's.
    const sub = Object.hasOwn(schema, k) ? (schema as Record<string, Schema>)[k] : undefined;
    const path = at ? `${at}.${k}` : k;
    if (sub === undefined) return `${path}: unknown key`;
    if (v === null || v === undefined) continue;
    const err = check(v, sub, path);
    if (err) return err;
  }
  return null;
};

/** Parses and validates config text. `file` is only used in messages. */
export const parseConfig = async (text: string, file: string): Promise<Config> => {
  let raw: unknown;
  const trimmed = text.trim();
  if (trimmed === "") return EMPTY_CONFIG;
  try {
    if (trimmed.startsWith("{")) {
      raw = JSON.parse(trimmed);
    } else {
      const { parseYaml } = await import("./yaml.ts");
      raw = parseYaml(text);
    }
  } catch (e) {
    const msg = e instanceof Error ? (e.message.split("\n")[0] ?? "") : String(e);
    throw new ConfigError(`${file}: not valid YAML or JSON: ${msg}`);
  }
  if (raw === null || raw === undefined) return EMPTY_CONFIG;
  const err = check(raw, SCHEMA, "");
  if (err) throw new ConfigError(`${file}: ${err}`);
  const r = raw as Partial<Config> & { version?: number };
  if (r.version !== undefined && r.version !== 1) throw new ConfigError(`${file}: version: only version 1 is known`);
  for (const [i, rule] of (r.registries ?? []).entries()) {
    if (typeof rule.match !== "string" || rule.match === "") {
      throw new ConfigError(`${file}: registries[${i}].match: required`);
    }
  }
  for (const [i, rule] of (r.registries ?? []).entries()) {
    const target = rule.azure?.loginServer;
    if (target === undefined) continue;
    const at = `${file}: registries[${i}].azure.loginServer`;
    if (rule.match.includes("*"))
      throw new ConfigError(`${at}: only for a literal match (one mirror host), not ${rule.match}`);
    if (rule.provider !== undefined && rule.provider !== "acr") throw new ConfigError(`${at}: needs provider acr`);
    if (!parseAcrHost(target, r.azure?.extraSuffixes ?? [])) {
      throw new ConfigError(
        `${at}: ${JSON.stringify(target.slice(0, 80))} is not an Azure container registry login server (<name>.azurecr.io, .azurecr.cn, .azurecr.us or a suffix in azure.extraSuffixes)`,
      );
    }
  }
  if ((r.kubelet?.providerConfig === undefined) !== (r.kubelet?.binDir === undefined)) {
    throw new ConfigError(`${file}: kubelet: providerConfig and binDir go together`);
  }
  return Object.freeze({
    registries: r.registries ?? [],
    azure: { extraSuffixes: r.azure?.extraSuffixes ?? [] },
    cache: r.cache ?? {},
    timeouts: r.timeouts ?? {},
    kubelet: r.kubelet ?? {},
  });
};
