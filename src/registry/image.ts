// Image references as the kubelet reads them before asking for credentials: parsers.ParseImageName
// (docker/distribution's reference.ParseNormalizedNamed), whose `repoToPull` is the repository
// without tag or digest, with Docker Hub spelled out: "nginx:1.25" → "docker.io/library/nginx",
// "reg:5000/a/b@sha256:…" → "reg:5000/a/b". That string is what the kubelet matches credential
// keys against and sends to plugins, so the keyring uses exactly the same one.

import { clipLine, UsageError } from "../errors.ts";
import { DOCKER_HUB_DOMAIN, DOCKER_HUB_LEGACY_DOMAIN } from "./dockerhub.ts";

/** The image string cannot be pulled at all: the one error `lookup` throws. */
export class InvalidImageError extends UsageError {
  override name = "InvalidImageError";
}

export interface ImageRef {
  /** repoToPull: "docker.io/library/nginx", "reg:5000/a/b". */
  repository: string;
  /** The registry part (domain and port) exactly as the repository spells it: "docker.io", "reg:5000". */
  registry: string;
  /** The repository path inside the registry: "library/nginx". */
  path: string;
  tag: string | undefined;
  digest: string | undefined;
}

export { DOCKER_HUB_DOMAIN };

const LEGACY_HUB_DOMAIN = DOCKER_HUB_LEGACY_DOMAIN;
const NAME_TOTAL_LENGTH_MAX = 255;

// The grammar of docker/distribution reference/regexp.go.
const ALNUM = "[a-z0-9]+";
const SEPARATOR = "(?:[._]|__|[-]+)";
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const IPV6 = "\\[(?:[a-fA-F0-9:]+)\\]";
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|${IPV6})(?::[0-9]+)?`;
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const TAG = "[\\w][\\w.-]{0,127}";
const DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
const REFERENCE_RE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const ANCHORED_IDENTIFIER_RE = /^[a-f0-9]{64}$/;
// go-digest's registered algorithms and their hex lengths.
const DIGEST_HEX: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };

/** reference.Parse's checks after the grammar: total name length and the digest. Returns an error text. */
const parseError = (s: string): string | null => {
  const m = REFERENCE_RE.exec(s);
  if (!m) {
    if (s === "") return "repository name must have at least one component";
    if (REFERENCE_RE.test(s.toLowerCase())) return "invalid reference format: repository name must be lowercase";
    return "invalid reference format";
  }
  if ((m[1] ?? "").length > NAME_TOTAL_LENGTH_MAX) {
    return `repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`;
  }
  const digest = m[3];
  if (digest !== undefined) {
    const i = digest.indexOf(":");
    const want = DIGEST_HEX[digest.slice(0, i)];
    if (want === undefined) return "unsupported digest algorithm";
    const hex = digest.slice(i + 1);
    if (hex.length !== want) return "invalid checksum digest length";
    if (!/^[a-f0-9]+$/.test(hex)) return "invalid checksum digest format";
  }
  return null;
};

/** splitDockerDomain: a first segment is a registry only if it has "." or ":", is localhost, or has capitals. */
const splitDomain = (name: string): { domain: string; remainder: string } => {
  const i = name.indexOf("/");
  let domain: string;
  let remainder: string;
  const first = i === -1 ? "" : name.slice(0, i);
  if (i === -1 || (!/[.:]/.test(first) && first !== "localhost" && first.toLowerCase() === first)) {
    domain = DOCKER_HUB_DOMAIN;
    remainder = name;
  } else {
    domain = first;
    remainder = name.slice(i + 1);
  }
  if (domain === LEGACY_HUB_DOMAIN) domain = DOCKER_HUB_DOMAIN;
  if (domain === DOCKER_HUB_DOMAIN && !remainder.includes("/")) remainder = `library/${remainder}`;
  return { domain, remainder };
};

/**
 * Parses an image reference like the kubelet (ParseImageName) and returns its repoToPull and parts.
 * Throws InvalidImageError with the kubelet's wording for references it would refuse.
 */
export const normalizeImage = (image: string): ImageRef => {
  const fail = (why: string): never => {
    throw new InvalidImageError(clipLine(`couldn't parse image name ${JSON.stringify(image)}: ${why}`));
  };
  if (typeof image !== "string") return fail("not a string");
  if (ANCHORED_IDENTIFIER_RE.test(image)) {
    return fail(`invalid repository name (${image}), cannot specify 64-byte hexadecimal strings`);
  }
  const { domain, remainder } = splitDomain(image);
  const colon = remainder.indexOf(":");
  const remoteName = colon === -1 ? remainder : remainder.slice(0, colon);
  if (remoteName.toLowerCase() !== remoteName) {
    return fail(`invalid reference format: repository name (${remoteName}) must be lowercase`);
  }
  const full = `${domain}/${remainder}`;
  const err = parseError(full);
  if (err) return fail(err);
  const m = REFERENCE_RE.exec(full) as RegExpExecArray;
  const repository = m[1] as string;
  return {
    repository,
    registry: domain,
    path: repository.slice(domain.length + 1),
    tag: m[2],
    digest: m[3],
  };
};

/**
 * The kubelet's isDefaultRegistryMatch: is this (normalized) image on Docker Hub? Credentials
 * stored under "index.docker.io" apply to such images when no other key matched.
 */
export const isDockerHubImage = (image: string): boolean => {
  const slash = image.indexOf("/");
  const first = slash === -1 ? image : image.slice(0, slash);
  if (first === "") return false;
  if (slash === -1) return true;
  if (first === DOCKER_HUB_DOMAIN || first === LEGACY_HUB_DOMAIN) return true;
  return !/[.:]/.test(first);
};
