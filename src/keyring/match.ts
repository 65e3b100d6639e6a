// The kubelet's BasicDockerKeyring (pkg/credentialprovider/keyring.go): credentials filed under
// match keys, and the order in which they come back for an image.
//
// - A key is normalized when it is added: an http:// or https:// scheme is dropped, a path
//   starting with /v1/ or /v2/ loses that prefix (Docker's registry API versions name the
//   registry, not a repository), and a path of "" or "/" leaves the host alone. Keys that do not
//   parse as a URL are dropped.
// - Lookup visits the keys in reverse byte order, so "reg.io/team" comes before "reg.io" and a
//   "*" key after any name (0x2A sorts below digits and letters), and returns the credentials of
//   every key that matches the image under the kubelet's glob rules (glob.ts); within one key, in
//   the order they were added (the order of the sources).
// - When no key matched and the image is on Docker Hub, the credentials under "index.docker.io"
//   (where "https://index.docker.io/v1/" lands) are used.

import { DOCKER_HUB_LEGACY_DOMAIN } from "../registry/dockerhub.ts";
import { parseSchemelessUrl, urlsMatchStr } from "../registry/glob.ts";
import { isDockerHubImage } from "../registry/image.ts";
import { schemelessUrlError } from "../registry/url.ts";

/** One credential as the sources produce it (the CRI AuthConfig without server_address). */
export interface Credential {
  username?: string;
  password?: string;
  auth?: string;
  identityToken?: string;
  registryToken?: string;
}

/** A credential and where it came from (for logs; never part of the answer). */
export interface Found {
  credential: Credential;
  source: string;
}

export const DOCKER_HUB_KEY = DOCKER_HUB_LEGACY_DOMAIN;

/** The kubelet's key normalization; null for a key it would drop. */
export const normalizeKey = (raw: string): string | null => {
  let v = raw;
  if (v.startsWith("https://")) v = v.slice("https://".length);
  else if (v.startsWith("http://")) v = v.slice("http://".length);
  if (schemelessUrlError(v) !== null) return null;
  const u = parseSchemelessUrl(v);
  if (u === null) return null;
  let path = u.path;
  if (path.startsWith("/v2/") || path.startsWith("/v1/")) path = path.slice(3);
  const host = u.port === "" ? u.host : `${u.host}:${u.port}`;
  return path.length > 0 && path !== "/" ? host + path : host;
};

/** Go's sort.Reverse(sort.StringSlice): byte order, descending. */
const reverseByteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(b), Buffer.from(a));

export class KeyIndex {
  readonly #creds = new Map<string, Found[]>();

  /** Files `found` under `rawKey`; false when the key does not parse (it is dropped, as the kubelet does). */
  add(rawKey: string, found: Found): boolean {
    const key = normalizeKey(rawKey);
    if (key === null) return false;
    const list = this.#creds.get(key);
    if (list) list.push(found);
    else this.#creds.set(key, [found]);
    return true;
  }

  /** The normalized keys, in lookup order. */
  keys(): string[] {
    return [...this.#creds.keys()].sort(reverseByteOrder);
  }

  /** Every credential whose key matches `image` (a normalized repository), in the kubelet's order. */
  lookup(image: string): Found[] {
    const out: Found[] = [];
    for (const key of this.keys()) {
      if (urlsMatchStr(key, image)) out.push(...(this.#creds.get(key) ?? []));
    }
    if (out.length > 0) return out;
    if (isDockerHubImage(image)) return [...(this.#creds.get(DOCKER_HUB_KEY) ?? [])];
    return [];
  }
}
