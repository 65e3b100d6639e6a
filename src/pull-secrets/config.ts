// The pull-secrets config file (YAML or JSON), validated into plain values with one-line errors.
import { parse } from "yaml";
import { ConfigError } from "../errors.ts";

export interface PullSecretsConfig {
  registries: string[];
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
    doc = parse(text, { prettyErrors: false });
  } catch (e) {
    throw new ConfigError(`${file}: not valid YAML or JSON (${String((e as Error).message).split("\n")[0]})`);
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc))
    throw new ConfigError(`${file}: expected a mapping`);
  const d = doc as Record<string, unknown>;
  const known = ["registries", "secretName", "namespaces", "serviceAccounts", "lease", "metricsPort"];
  for (const key of Object.keys(d))
    if (!known.includes(key)) throw new ConfigError(`${file}: unknown key "${key.slice(0, 40)}"`);
  const registries = strings(d.registries, `${file}: registries`, []);
  if (registries.length === 0) throw new ConfigError(`${file}: registries must list at least one registry host`);
  for (const r of registries)
    if (!HOST.test(r)) throw new ConfigError(`${file}: "${r.slice(0, 80)}" is not a registry host`);
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
