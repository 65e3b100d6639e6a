// The pull-secrets config file (YAML or JSON), validated into plain values with one-line errors.
import type { AwsIdentity, AzureIdentity, GoogleIdentity } from "../config.ts";
import { ConfigError } from "../errors.ts";
import { providerForHost } from "../resolver.ts";
import { parseYaml } from "../yaml.ts";

/**
 * A registry's own identity, on top of the controller's (its pod's) identity: the same settings a
 * rule in the helper's config file takes (docs/configuration.md), the identity ones only.
 */
export interface RegistryIdentity {
  aws?: Pick<AwsIdentity, "profile" | "roleArn" | "externalId" | "roleSessionName">;
  google?: Pick<GoogleIdentity, "credentialsFile" | "impersonateServiceAccount">;
  azure?: Pick<AzureIdentity, "clientId" | "tenantId" | "credential">;
}

export interface PullSecretsConfig {
  /** Registry hosts, in the config's order. */
  registries: string[];
  /** Hosts that carry their own identity. */
  identities: ReadonlyMap<string, RegistryIdentity>;
  secretName: string;
  namespaces: { include: string[]; exclude: string[]; labelSelector: string | undefined };
  serviceAccounts: string[];
  lease: { namespace: string; name: string };
  /** Port of /healthz and /metrics in the long-running mode; 0 turns the server off. */
  metricsPort: number;
}

const DNS1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const HOST = /^[A-Za-z0-9.-]+(:[0-9]{1,5})?$/;

const strings = (v: unknown, what: string, dflt: string[]): string[] => {
  if (v === undefined) return dflt;
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string" || x === ""))
    throw new ConfigError(`${what} must be a list of non-empty strings`);
  return v as string[];
};

export const parseConfig = (text: string, file: string): PullSecretsConfig => {
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: false });
  } catch (e) {
    throw new ConfigError(`${file}: not valid YAML or JSON (${String((e as Error).message).split("\n")[0]})`);
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc))
    throw new ConfigError(`${file}: expected a mapping`);
  const d = doc as Record<string, unknown>;
  const known = ["registries", "secretName", "namespaces", "serviceAccounts", "lease", "metricsPort"];
  for (const key of Object.keys(d))
    if (!known.includes(key)) throw new ConfigError(`${file}: unknown key "${key.slice(0, 40)}"`);
  const { registries, identities } = parseRegistries(d.registries, file);
  const secretName = d.secretName ?? "cloud-registry-credentials";
  if (typeof secretName !== "string" || secretName.length > 253 || !DNS1123.test(secretName))
    throw new ConfigError(`${file}: secretName must be a DNS subdomain name (lower-case letters, digits, '-', '.')`);
  const ns = (d.namespaces ?? {}) as Record<string, unknown>;
  if (typeof ns !== "object" || Array.isArray(ns)) throw new ConfigError(`${file}: namespaces must be a mapping`);
  for (const key of Object.keys(ns))
    if (!["include", "exclude", "labelSelector"].includes(key))
      throw new ConfigError(`${file}: unknown key "namespaces.${key.slice(0, 40)}"`);
  const labelSelector = ns.labelSelector;
  if (labelSelector !== undefined && typeof labelSelector !== "string")
    throw new ConfigError(`${file}: namespaces.labelSelector must be a string such as "team=a,env!=dev"`);
  if (labelSelector) parseSelector(labelSelector);
  const lease = (d.lease ?? {}) as Record<string, unknown>;
  const metricsPort = d.metricsPort ?? 8080;
  if (typeof metricsPort !== "number" || !Number.isInteger(metricsPort) || metricsPort < 0 || metricsPort > 65535)
    throw new ConfigError(`${file}: metricsPort must be a port number (0 turns the server off)`);
  return {
    registries,
    identities,
    secretName,
    namespaces: {
      include: strings(ns.include, `${file}: namespaces.include`, ["*"]),
      exclude: strings(ns.exclude, `${file}: namespaces.exclude`, []),
      labelSelector: labelSelector || undefined,
    },
    serviceAccounts: strings(d.serviceAccounts, `${file}: serviceAccounts`, ["default"]),
    lease: {
      namespace: typeof lease.namespace === "string" ? lease.namespace : "kube-system",
      name: typeof lease.name === "string" ? lease.name : "docker-credential-cloud-pull-secrets",
    },
    metricsPort,
  };
};

const IDENTITY_KEYS = {
  aws: ["profile", "roleArn", "externalId", "roleSessionName"],
  google: ["credentialsFile", "impersonateServiceAccount"],
  azure: ["clientId", "tenantId", "credential"],
} as const;
type Cloud = keyof typeof IDENTITY_KEYS;
const CLOUD_OF = { ecr: "aws", "ecr-public": "aws", google: "google", acr: "azure" } as const;
const NAMED = { ecr: "an ECR", "ecr-public": "an ECR Public", google: "a Google", acr: "an Azure Container Registry" };
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;
const SA_EMAIL = /^[^@\s]+@[^@\s]+\.gserviceaccount\.com$/;
const AZURE_KINDS = ["default", "environment", "workload", "managed", "cli"];
const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** `registries`: host strings, or { host, aws | google | azure } with that registry's identity. */
const parseRegistries = (
  raw: unknown,
  file: string,
): { registries: string[]; identities: Map<string, RegistryIdentity> } => {
  if (raw === undefined) throw new ConfigError(`${file}: registries must list at least one registry host`);
  if (!Array.isArray(raw))
    throw new ConfigError(`${file}: registries must be a list of hosts or { host, ... } entries`);
  if (raw.length === 0) throw new ConfigError(`${file}: registries must list at least one registry host`);
  const registries: string[] = [];
  const identities = new Map<string, RegistryIdentity>();
  for (const [i, entry] of raw.entries()) {
    const at = `${file}: registries[${i}]`;
    let host: unknown = entry;
    let id: RegistryIdentity | undefined;
    if (isMap(entry)) {
      host = entry.host;
      const clouds: Cloud[] = [];
      for (const key of Object.keys(entry)) {
        if (key === "host") continue;
        if (!Object.hasOwn(IDENTITY_KEYS, key))
          throw new ConfigError(`${at}.${key.slice(0, 40)}: unknown key (expected host, aws, google or azure)`);
        clouds.push(key as Cloud);
      }
      if (typeof host !== "string" || host === "") throw new ConfigError(`${at}.host: required (a registry host)`);
      if (clouds.length > 1) throw new ConfigError(`${at}: one identity per registry, got ${clouds.join(" and ")}`);
      const cloud = clouds[0];
      if (cloud) id = { [cloud]: parseIdentity(cloud, entry[cloud], `${at}.${cloud}`) };
    }
    if (typeof host !== "string" || host === "")
      throw new ConfigError(`${at}: expected a registry host or a mapping with host and an identity`);
    if (!HOST.test(host)) throw new ConfigError(`${at}: "${host.slice(0, 80)}" is not a registry host`);
    if (registries.includes(host)) throw new ConfigError(`${at}: ${host} is listed twice`);
    const provider = providerForHost(host);
    const cloud = id && (Object.keys(id)[0] as Cloud);
    if (provider && cloud && CLOUD_OF[provider] !== cloud)
      throw new ConfigError(
        `${at}.${cloud}: ${host} is ${NAMED[provider]} registry; its identity goes under "${CLOUD_OF[provider]}"`,
      );
    registries.push(host);
    if (id) identities.set(host, id);
  }
  return { registries, identities };
};

const parseIdentity = (cloud: Cloud, raw: unknown, at: string): Record<string, string> => {
  if (!isMap(raw)) throw new ConfigError(`${at}: expected a mapping such as { ${IDENTITY_KEYS[cloud][0]}: ... }`);
  const known: readonly string[] = IDENTITY_KEYS[cloud];
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(raw)) {
    if (!known.includes(key))
      throw new ConfigError(`${at}.${key.slice(0, 40)}: unknown key (expected one of ${known.join(", ")})`);
    if (typeof v !== "string" || v.trim() === "") throw new ConfigError(`${at}.${key}: expected a non-empty string`);
    out[key] = v;
  }
  if (Object.keys(out).length === 0) throw new ConfigError(`${at}: empty (expected one of ${known.join(", ")})`);
  if (cloud === "aws") {
    if (out.roleArn && !ROLE_ARN.test(out.roleArn))
      throw new ConfigError(`${at}.roleArn: expected an IAM role ARN (arn:aws:iam::123456789012:role/NAME)`);
    for (const k of ["externalId", "roleSessionName"])
      if (out[k] && !out.roleArn)
        throw new ConfigError(`${at}.${k}: needs roleArn (it is sent when assuming the role)`);
    if (out.roleSessionName && !/^[\w+=,.@-]{2,64}$/.test(out.roleSessionName))
      throw new ConfigError(`${at}.roleSessionName: 2 to 64 letters, digits or +=,.@_-`);
  }
  if (cloud === "google" && out.impersonateServiceAccount && !SA_EMAIL.test(out.impersonateServiceAccount))
    throw new ConfigError(
      `${at}.impersonateServiceAccount: expected a service account email (NAME@PROJECT.iam.gserviceaccount.com)`,
    );
  if (cloud === "azure" && out.credential && !AZURE_KINDS.includes(out.credential))
    throw new ConfigError(`${at}.credential: must be one of ${AZURE_KINDS.join(", ")}`);
  return out;
};

export type Requirement = { key: string; op: "=" | "!=" | "exists" | "!exists" | "in" | "notin"; values: string[] };

/** Equality- and set-based label selectors: a=b, a==b, a!=b, a, !a, a in (x,y), a notin (x). */
export const parseSelector = (s: string): Requirement[] => {
  const parts = s.match(/[^,(]+(\([^)]*\))?/g) ?? [];
  return parts.map((raw) => {
    const p = raw.trim();
    let m = /^([A-Za-z0-9./_-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(p);
    if (m) return { key: m[1] ?? "", op: m[2] as "in" | "notin", values: (m[3] ?? "").split(",").map((v) => v.trim()) };
    m = /^([A-Za-z0-9./_-]+)\s*(==|=|!=)\s*([A-Za-z0-9._-]*)$/.exec(p);
    if (m) return { key: m[1] ?? "", op: m[2] === "!=" ? "!=" : "=", values: [m[3] ?? ""] };
    m = /^(!?)([A-Za-z0-9./_-]+)$/.exec(p);
    if (m) return { key: m[2] ?? "", op: m[1] ? "!exists" : "exists", values: [] };
    throw new ConfigError(`label selector: cannot parse "${p.slice(0, 60)}"`);
  });
};
