// Docker client configuration: ~/.docker/config.json ({"auths", "credHelpers", "credsStore"}) and
// the legacy ~/.dockercfg (the `auths` map alone at the top level), plus Kubernetes pull secrets,
// which carry one of the two forms. Read the way the Docker CLI reads them:
// - an `auths` entry's `auth` is base64 "username:password" (split at the first colon) and wins
//   over `username`/`password`; `identitytoken` and `registrytoken` are kept;
// - an entry with no credential in it is a placeholder written by `docker login` when a
//   credsStore holds the secret: it stands for "ask the helper", never for "anonymous";
// - the helper for a registry is credHelpers[<registry>], else credsStore; Docker Hub is asked
//   as "https://index.docker.io/v1/" (what `docker login` stores it under), any other registry as
//   host[:port].
// Files are re-read only when they change (mtime, size, inode), so a long-running process sees
// `docker login` without paying a parse per lookup.

import { fs, path } from "../builtins.ts";
import { DOCKER_HUB_DOMAIN, DOCKER_HUB_SERVER } from "../registry/dockerhub.ts";
import { parseServerUrl, storeKey } from "../registry/hosts.ts";
import type { Credential } from "./match.ts";

export { DOCKER_HUB_SERVER };

export interface AuthsEntry {
  /** The key as written (a server URL or a kubelet-style glob). */
  key: string;
  credential: Credential;
}

export interface DockerConfig {
  file: string;
  auths: AuthsEntry[];
  credHelpers: Readonly<Record<string, string>>;
  credsStore: string | undefined;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const text = (v: unknown): string => (typeof v === "string" ? v : "");

// Padded or not: the kubelet decodes both (an unpadded `auth` is what some tools write).
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

/** One `auths` entry as a credential; null for a placeholder; a string explains a broken entry. */
export const decodeAuthsEntry = (v: unknown): Credential | null | string => {
  if (!isObj(v)) return "not an object";
  let username = text(v.username);
  let password = text(v.password);
  const auth = text(v.auth);
  if (auth !== "") {
    if (!BASE64_RE.test(auth)) return "its auth field is not base64";
    const decoded = Buffer.from(auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) return 'its auth field does not decode to "username:password"';
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  const identityToken = text(v.identitytoken);
  const registryToken = text(v.registrytoken);
  if (username === "" && password === "" && identityToken === "" && registryToken === "") return null;
  const c: Credential = {};
  if (username !== "" || password !== "") {
    c.username = username;
    c.password = password;
  }
  if (identityToken !== "") c.identityToken = identityToken;
  if (registryToken !== "") c.registryToken = registryToken;
  return c;
};

/**
 * Parses a config.json, a .dockercfg or a pull secret's content. `warn` hears about entries that
 * are skipped (never their content: it holds secrets).
 */
export const parseDockerConfig = (raw: unknown, file: string, warn: (m: string) => void): DockerConfig => {
  const out: DockerConfig = { file, auths: [], credHelpers: {}, credsStore: undefined };
  if (!isObj(raw)) {
    warn(`${file}: not a JSON object; ignored`);
    return out;
  }
  const modern = "auths" in raw || "credHelpers" in raw || "credsStore" in raw;
  const auths = modern ? raw.auths : raw;
  if (isObj(auths)) {
    for (const [key, entry] of Object.entries(auths)) {
      if (modern && !isObj(entry)) {
        warn(`${file}: the auths entry for ${JSON.stringify(key)} is not an object; skipped`);
        continue;
      }
      if (!modern && !isObj(entry)) continue; // some other top-level setting, not a registry
      const c = decodeAuthsEntry(entry);
      if (typeof c === "string") warn(`${file}: the auths entry for ${JSON.stringify(key)} is skipped: ${c}`);
      else if (c !== null) out.auths.push({ key, credential: c });
    }
  } else if (auths !== undefined && auths !== null) {
    warn(`${file}: "auths" is not an object; ignored`);
  }
  if (modern) {
    if (isObj(raw.credHelpers)) {
      const helpers: Record<string, string> = {};
      for (const [k, v] of Object.entries(raw.credHelpers)) if (typeof v === "string" && v !== "") helpers[k] = v;
      out.credHelpers = helpers;
    }
    if (typeof raw.credsStore === "string" && raw.credsStore !== "") out.credsStore = raw.credsStore;
  }
  return out;
};

/** Parses text (JSON); a string explains why it could not be read. */
export const parseDockerConfigText = (
  content: string,
  file: string,
  warn: (m: string) => void,
): DockerConfig | string => {
  let raw: unknown;
  try {
    raw = JSON.parse(content);
  } catch (e) {
    // Only the position: the parser's message quotes the text, which holds secrets.
    const at = /position \d+/.exec((e as Error).message)?.[0];
    return `not valid JSON${at ? ` (at ${at})` : ""}`;
  }
  return parseDockerConfig(raw, file, warn);
};

/** Where the kubelet looks first (its root directory, --root-dir, is its preferred Docker config path). */
export const KUBELET_DOCKER_CONFIG = "/var/lib/kubelet/config.json";

/**
 * The default files: the kubelet's /var/lib/kubelet/config.json, then $DOCKER_CONFIG/config.json
 * (else ~/.docker/config.json), then ~/.dockercfg. Missing files are skipped.
 */
export const defaultDockerConfigPaths = (env: Readonly<Record<string, string | undefined>>, home: string): string[] => [
  KUBELET_DOCKER_CONFIG,
  env.DOCKER_CONFIG ? path.join(env.DOCKER_CONFIG, "config.json") : path.join(home, ".docker", "config.json"),
  path.join(home, ".dockercfg"),
];

/** What a credential helper is asked for an image on `registry` (host[:port] as in the image). */
export const helperServerUrl = (registry: string): string =>
  registry === DOCKER_HUB_DOMAIN ? DOCKER_HUB_SERVER : registry;

/** A registry as credHelpers keys name it: scheme, :443 and a trailing path never matter; any Hub alias is Hub. */
const helperKey = (s: string): string | null => {
  const ref = parseServerUrl(s);
  return ref ? storeKey(ref) : null;
};

/** The helper Docker would use for `registry`: credHelpers (exact key first), else credsStore. */
export const helperFor = (cfg: DockerConfig, registry: string): string | undefined => {
  const server = helperServerUrl(registry);
  const exact = cfg.credHelpers[server] ?? cfg.credHelpers[registry];
  if (exact !== undefined) return exact;
  const want = helperKey(server);
  if (want !== null) {
    for (const [k, v] of Object.entries(cfg.credHelpers)) if (helperKey(k) === want) return v;
  }
  return cfg.credsStore;
};

interface Cached {
  stamp: string;
  config: DockerConfig | null;
}

/** Reads the files again only when they change. Missing files are simply absent. */
export class DockerConfigReader {
  readonly #files: readonly string[];
  readonly #warn: (m: string) => void;
  readonly #cache = new Map<string, Cached>();

  constructor(files: readonly string[], warn: (m: string) => void) {
    this.#files = files;
    this.#warn = warn;
  }

  read(): DockerConfig[] {
    const out: DockerConfig[] = [];
    for (const file of this.#files) {
      const c = this.#readOne(file);
      if (c) out.push(c);
    }
    return out;
  }

  #readOne(file: string): DockerConfig | null {
    let stamp: string;
    try {
      const st = fs.statSync(file);
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") this.#warnOnce(file, `${code}`, `${file}: cannot read: ${code}`);
      return null;
    }
    const hit = this.#cache.get(file);
    if (hit?.stamp === stamp) return hit.config;
    let config: DockerConfig | null = null;
    try {
      const parsed = parseDockerConfigText(fs.readFileSync(file, "utf8"), file, this.#warn);
      if (typeof parsed === "string") this.#warn(`${file}: ${parsed}; ignored`);
      else config = parsed;
    } catch (e) {
      this.#warn(`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    this.#cache.set(file, { stamp, config });
    return config;
  }

  #warnOnce(file: string, stamp: string, msg: string): void {
    if (this.#cache.get(file)?.stamp === stamp) return;
    this.#cache.set(file, { stamp, config: null });
    this.#warn(msg);
  }
}
