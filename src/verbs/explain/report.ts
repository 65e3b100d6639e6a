// explain, part 1: the report's schema and exit codes, the reference as parsed, and the route with its reason.
import { oneLine } from "../../errors.ts";
import { parseAcrHost, parseEcrHost, parseServerUrl } from "../../registry/hosts.ts";
import { normalizeImage } from "../../registry/image.ts";
import { findRule, providerForHost } from "../../resolver.ts";
import type { Settings } from "../../settings.ts";
import type { ChainStep } from "../whoami/types.ts";
import type { Probe } from "./probe.ts";

export const EXPLAIN_SCHEMA = "docker-credential-cloud.explain/v1";
export const EXIT = { ok: 0, usage: 1, notOurs: 2, identity: 3, token: 4, registry: 5 } as const;

export interface Reference {
  input: string;
  kind: "image" | "host";
  host: string;
  repository?: string;
  path?: string;
  tag?: string;
  digest?: string;
}

export interface ExplainReport {
  schema: typeof EXPLAIN_SCHEMA;
  input: string;
  as: "docker" | "kubelet";
  reference: Reference | null;
  route: { matched: boolean; provider?: string; reason: string; rule?: { match: string; provider?: string } };
  identity?: {
    label: string;
    mode: "node" | "service-account-token" | "this-environment";
    steps: ChainStep[];
    principal?: string;
    basePrincipal?: string;
    /** How the principal was established: "STS GetCallerIdentity", "tokeninfo", "the Entra token's claims …". */
    via?: string;
    /** What the cloud says about the principal (Azure: tenant, objectId, appId, user, type); never a secret. */
    facts?: Record<string, string>;
    notes: string[];
    error?: string;
  };
  token?: { source: "cache" | "fresh"; username: string; expiresAt: string } | { error: string };
  probe?: Probe;
  verdict: { ok: boolean; code: number; problem?: string; next: string };
}

export const parseReference = (input: string): Reference | { error: string } => {
  const s = input.trim();
  // A HOST is what a server URL looks like: a scheme, or a single name with a dot, colon or localhost.
  const hostLike = /^https?:\/\//i.test(s) || (!s.includes("/") && (/[.:]/.test(s) || s === "localhost"));
  if (hostLike) {
    const ref = parseServerUrl(s);
    if (!ref) return { error: `"${s.slice(0, 200)}" is not a registry host or image reference` };
    return { input, kind: "host", host: ref.host };
  }
  try {
    const img = normalizeImage(s);
    const host = parseServerUrl(img.registry)?.host ?? img.registry;
    return {
      input,
      kind: "image",
      host,
      repository: img.repository,
      path: img.path,
      ...(img.tag ? { tag: img.tag } : {}),
      ...(img.digest ? { digest: img.digest } : {}),
    };
  } catch (e) {
    return { error: oneLine(e) };
  }
};

export const LOOKALIKE: [RegExp, string][] = [
  [/amazonaws|dkr\.ecr|ecr\.aws/, "ECR"],
  [/gcr\.io|pkg\.dev|cloud\.google/, "Google"],
  [/azurecr/, "ACR"],
];

export const routeReason = (host: string, settings: Settings): ExplainReport["route"] => {
  const rule = findRule(host, settings.config.registries);
  const ruleOut = rule ? { match: rule.match, ...(rule.provider ? { provider: rule.provider } : {}) } : undefined;
  const shape = providerForHost(host, settings.config.azure.extraSuffixes);
  if (rule?.provider === "none") {
    return {
      matched: false,
      reason: `config rule "${rule.match}" refuses it (provider: none)`,
      ...(ruleOut ? { rule: ruleOut } : {}),
    };
  }
  if (rule?.provider && !rule.match.includes("*")) {
    return {
      matched: true,
      provider: rule.provider,
      reason: `config rule "${rule.match}" maps this host to ${rule.provider}`,
      rule: ruleOut ?? { match: rule.match },
    };
  }
  if (shape) {
    const how =
      shape === "ecr"
        ? (() => {
            const e = parseEcrHost(host);
            return `ECR host pattern <account>.dkr.ecr.<region>.<suffix>: account ${e?.account}, region ${e?.region}${e?.fips ? ", FIPS" : ""}${e?.dualStack ? ", dual-stack" : ""}`;
          })()
        : shape === "ecr-public"
          ? "ECR Public host"
          : shape === "google"
            ? "Google host pattern (gcr.io, <location>-docker.pkg.dev, docker.<location>.rep.pkg.dev)"
            : `ACR host pattern <name>.azurecr.<suffix>: registry ${parseAcrHost(host, settings.config.azure.extraSuffixes)?.registry}`;
    if (rule?.provider && rule.provider !== shape) {
      return {
        matched: false,
        reason: `config rule "${rule.match}" names ${rule.provider}, but the host is ${shape}'s`,
        rule: ruleOut ?? { match: rule.match },
      };
    }
    return {
      matched: true,
      provider: shape,
      reason: rule ? `${how}; settings from config rule "${rule.match}"` : how,
      ...(ruleOut ? { rule: ruleOut } : {}),
    };
  }
  if (rule?.provider) {
    return {
      matched: false,
      reason: `config rule "${rule.match}" names ${rule.provider} but is a wildcard, and wildcard rules apply only to ${rule.provider}'s own hosts; map this exact host to send it credentials`,
      rule: ruleOut ?? { match: rule.match },
    };
  }
  const look = LOOKALIKE.find(([re]) => re.test(host))?.[1];
  if (look) {
    return {
      matched: false,
      reason: `looks like ${look} but does not match its anchored host pattern (a look-alike, a suffix after the cloud's domain or a typo): no token is ever sent to it, clients pull anonymously`,
    };
  }
  return {
    matched: false,
    reason:
      "not a cloud registry host, and no config rule maps it: clients pull anonymously (or with stored `docker login` credentials)",
  };
};

/** The environment the kubelet's plugin would see here, and what was taken away. */
