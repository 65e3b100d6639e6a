// Registry host parsing. Every cloud pattern is anchored at both ends and applied to the
// normalized host only (never to a path), so look-alikes such as
// "x.azurecr.io.evil.com" or "evil.com/123456789012.dkr.ecr..." never match.

import { DOCKER_HUB_HOSTS, DOCKER_HUB_SERVER } from "./dockerhub.ts";

/** What a client sent as a server URL, reduced to the registry host. */
export interface ServerRef {
  /** Lower-case host, with ":port" unless the port is 443 (the default for registries). */
  host: string;
  /** The path as sent (e.g. "/v1/" for Docker Hub). */
  path: string;
}

// Never part of a registry server URL: non-ASCII (toLowerCase would fold U+212A KELVIN SIGN into
// "k"), control characters and inner whitespace, userinfo ("@"), query ("?"), fragment ("#") and
// backslashes (which WHATWG URL parsers treat as "/"). Refusing them outright means no parser
// downstream can read the value differently from how it was matched here.
const NOT_ASCII = /[\u0080-\uffff]/;
const FORBIDDEN = /[^\x21-\x7e]|[@?#\\]/;

const HOST_RE = /^(?:[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?)*\.?$/;
const IPV6_RE = /^\[[0-9a-f:.]+\]$/;

/**
 * Accepts what real clients send: "host", "https://host", "host:443", "https://host/v2/",
 * surrounding whitespace, upper case. Returns null for anything that is not a plausible host, and
 * for any input holding a character that has no place in a server URL (see FORBIDDEN).
 */
export const parseServerUrl = (input: string): ServerRef | null => {
  if (NOT_ASCII.test(input)) return null; // before trim(), which also strips Unicode spaces
  let s = input.trim();
  if (s === "" || FORBIDDEN.test(s)) return null;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(s);
  if (scheme) {
    if (!/^https?$/i.test(scheme[1] ?? "")) return null;
    s = s.slice(scheme[0].length);
  }
  const cut = s.indexOf("/");
  const authority = cut === -1 ? s : s.slice(0, cut);
  const path = cut === -1 ? "" : s.slice(cut);
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d{1,5}))?$/.exec(authority.toLowerCase());
  if (!m) return null;
  let name = m[1] ?? "";
  const port = m[2];
  if (name.endsWith(".")) name = name.slice(0, -1);
  if (!(HOST_RE.test(name) || IPV6_RE.test(name))) return null;
  // DNS limits (RFC 1035): no client can reach a longer name, so it is not a registry host.
  if (name.length > 253 || name.split(".").some((label) => label.length > 63)) return null;
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return null;
  const host = port === undefined || port === "443" ? name : `${name}:${port}`;
  return { host, path };
};

// ---------------------------------------------------------------------------------------------
// Docker Hub: the CLI sends "https://index.docker.io/v1/"; images say "docker.io".
export const DOCKER_HUB = DOCKER_HUB_SERVER;
const HUB_HOSTS = DOCKER_HUB_HOSTS;

/** The key under which stored credentials for a server URL are kept (one per registry). */
export const storeKey = (ref: ServerRef): string => (HUB_HOSTS.has(ref.host) ? DOCKER_HUB : ref.host);

// ---------------------------------------------------------------------------------------------
// AWS ECR. Private registries: <account>.dkr.ecr[-fips].<region>.<partition suffix>, and the
// dual-stack form <account>.dkr-ecr[-fips].<region>.on.aws. The pattern follows the kubelet's
// ecr-credential-provider and amazon-ecr-credential-helper (ISO partitions included).
const ECR_RE =
  /^(\d{12})\.dkr([.-])ecr(-fips)?\.([a-z0-9][a-z0-9_-]*)\.(amazonaws\.com|amazonaws\.com\.cn|amazonaws\.eu|on\.aws|on\.amazonwebservices\.com\.cn|sc2s\.sgov\.gov|c2s\.ic\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)$/;

export interface EcrHost {
  host: string;
  account: string;
  region: string;
  fips: boolean;
  dualStack: boolean;
}

export const parseEcrHost = (host: string): EcrHost | null => {
  const m = ECR_RE.exec(host);
  if (!m) return null;
  const [, account = "", sep, fips, region = "", suffix = ""] = m;
  return { host, account, region, fips: fips !== undefined, dualStack: sep === "-" || suffix.startsWith("on.") };
};

/** ECR Public is a single global registry whose token API lives in us-east-1. */
export const isEcrPublicHost = (host: string): boolean => host === "public.ecr.aws" || host === "ecr-public.aws.com";

// ---------------------------------------------------------------------------------------------
// Google: Container Registry (gcr.io, <region>.gcr.io), Artifact Registry (<location>-docker.pkg.dev),
// Artifact Registry regional endpoints (docker.<location>.rep.pkg.dev), and GKE's
// container.cloud.google.com. Matched by shape, not by a list of regions.
const GOOGLE_RE =
  /^(?:(?:[a-z0-9]+(?:-[a-z0-9]+)*\.)?gcr\.io|[a-z0-9]+(?:-[a-z0-9]+)*-docker\.pkg\.dev|docker\.[a-z0-9]+(?:-[a-z0-9]+)*\.rep\.pkg\.dev|container\.cloud\.google\.com)$/;

export const isGoogleHost = (host: string): boolean => GOOGLE_RE.test(host);

// ---------------------------------------------------------------------------------------------
// Azure Container Registry login servers: <name>.azurecr.<cloud suffix>. Registry names are
// 5–50 alphanumerics; a domain-name-label scope adds "-<hash>". Extra suffixes (air-gapped
// clouds) come only from explicit configuration.
export type AzureCloud = "AzurePublicCloud" | "AzureChinaCloud" | "AzureUSGovernment" | "Custom";

export const ACR_SUFFIXES: Readonly<Record<string, AzureCloud>> = {
  "azurecr.io": "AzurePublicCloud",
  "azurecr.cn": "AzureChinaCloud",
  "azurecr.us": "AzureUSGovernment",
};

export interface AcrHost {
  host: string;
  registry: string;
  suffix: string;
  cloud: AzureCloud;
}

const ACR_NAME_RE = /^([a-z0-9]{5,50})(-[a-z0-9]{1,16})?$/;

/** A configured extra suffix as hosts are compared: lower case, no leading or trailing dot. */
export const normalizeAcrSuffix = (s: string): string =>
  s
    .trim()
    .toLowerCase()
    .replace(/^\.+|\.+$/g, "");

export const parseAcrHost = (host: string, extraSuffixes: readonly string[] = []): AcrHost | null => {
  const dot = host.indexOf(".");
  if (dot < 0) return null;
  const name = host.slice(0, dot);
  const suffix = host.slice(dot + 1);
  if (!ACR_NAME_RE.test(name)) return null;
  // Own keys only: "name.constructor" must not find Object.prototype.constructor. Extra suffixes
  // need two labels at least, so a slip like "com" cannot send Entra tokens to any *.com host.
  const cloud = Object.hasOwn(ACR_SUFFIXES, suffix)
    ? ACR_SUFFIXES[suffix]
    : suffix.includes(".") && extraSuffixes.some((s) => normalizeAcrSuffix(s) === suffix)
      ? "Custom"
      : undefined;
  if (!cloud) return null;
  return { host, registry: name, suffix, cloud };
};
