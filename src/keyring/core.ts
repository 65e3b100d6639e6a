// The keyring's way into the credential core, for everything it answers in process: our built-in
// cloud fetchers, and a Docker helper or kubelet provider that is this program (self.ts). One
// Settings per environment overlay (a provider's DOCKER_CREDENTIAL_CLOUD_* env), read once; the
// answers come from credentialsFor, the one core entry the CLI adapters use too, and never as
// protocol text parsed back.

import { fs, path } from "../builtins.ts";
import { noCache, type TokenCache } from "../cache/cache.ts";
import { EXPIRY_MARGIN_MS } from "../cache/entry.ts";
import { type Answer, type CredentialDeps, credentialsFor } from "../credentials.ts";
import type { Env } from "../env.ts";
import { NotFoundError, oneLine } from "../errors.ts";
import type { Logger } from "../log.ts";
import { parseServerUrl } from "../registry/hosts.ts";
import type { Workload } from "../resolver.ts";
import type { Settings } from "../settings.ts";
import type { CredentialStore } from "../store/store.ts";
import { credentialDeps, edgeSettings, staticStore } from "../wiring.ts";
import { IDENTITY_TOKEN_USERNAME } from "./helper.ts";
import type { Credential } from "./match.ts";

/** The shared token cache's file name in the cache directory (src/cache/cache.ts). */
const TOKEN_CACHE_FILE = "tokens.json";

/** The token cache file's identity and version (inode, size, mtime), or null when it is not there. */
const cacheFileSignature = (dir: string): string | null => {
  try {
    const st = fs.statSync(path.join(dir, TOKEN_CACHE_FILE), { bigint: true });
    return `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    return null;
  }
};

/** Settles with `p`, or rejects once `ms` have passed (for in-process answers, which cannot be killed). */
export const bounded = <T>(p: Promise<T>, ms: number): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within the ${ms / 1000}s timeout`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
};

export class Core {
  readonly #env: Env;
  readonly #home: string;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #settings = new Map<string, Promise<Settings | null>>();
  readonly #deps = new WeakMap<Settings, { deps: CredentialDeps; store: CredentialStore }>();
  readonly #memo = new WeakMap<Settings, Map<string, { answer: Answer; sig: string; until: number }>>();

  constructor(env: Env, home: string, log: Logger, now: () => number) {
    this.#env = env;
    this.#home = home;
    this.#log = log;
    this.#now = now;
  }

  /** Our settings under `overlay` (read once per overlay); null when they cannot be read (logged). */
  settings(overlay: Readonly<Record<string, string>> = {}): Promise<Settings | null> {
    const key = JSON.stringify(Object.entries(overlay).sort());
    let p = this.#settings.get(key);
    if (!p) {
      const env = Object.keys(overlay).length ? { ...this.#env, ...overlay } : this.#env;
      p = edgeSettings(env, this.#home).catch((e) => {
        this.#log.error(`the built-in fetchers and the shared token cache are off: ${oneLine(e)}`);
        return null;
      });
      this.#settings.set(key, p);
    }
    return p;
  }

  /**
   * The shared file token cache our settings name (kubelet plugin answers are kept there too); the
   * no-op cache when the cache is off or our settings cannot be read.
   */
  async tokenCache(): Promise<TokenCache> {
    const settings = await this.settings();
    return settings ? this.#depsFor(settings).deps.cache : noCache;
  }

  #depsFor(settings: Settings): { deps: CredentialDeps; store: CredentialStore } {
    let d = this.#deps.get(settings);
    if (!d) {
      d = { deps: credentialDeps(settings, this.#log, this.#now), store: staticStore(settings, this.#log, this.#now) };
      this.#deps.set(settings, d);
    }
    return d;
  }

  /**
   * Credentials for a registry host (the core entry); a NotFoundError when no cloud serves it.
   * A long-running keyring asks the core again only when the shared token cache file changed
   * (one stat) or the answer is past half its remaining life (when the core would refresh it): a
   * cached token then costs no read, parse or lock. Workload answers are not kept here.
   */
  async credentials(host: string, settings: Settings, workload?: Workload): Promise<Answer> {
    const deps = this.#depsFor(settings).deps;
    if (workload || settings.cacheDir === null) return credentialsFor(host, workload ? { workload } : {}, deps);
    let memo = this.#memo.get(settings);
    if (!memo) {
      memo = new Map();
      this.#memo.set(settings, memo);
    }
    const sig = cacheFileSignature(settings.cacheDir);
    const now = this.#now();
    const hit = memo.get(host);
    if (hit && sig !== null && hit.sig === sig && now < hit.until) return hit.answer;
    const answer = await credentialsFor(host, {}, deps);
    const after = cacheFileSignature(settings.cacheDir);
    if (after !== null && answer.expiresAt !== undefined) {
      const until = Math.min(now + (answer.expiresAt - now) / 2, answer.expiresAt - EXPIRY_MARGIN_MS);
      memo.set(host, { answer, sig: after, until });
    } else memo.delete(host);
    return answer;
  }

  /**
   * What `docker-credential-cloud get SERVER` answers, without the protocol: credentials stored by
   * `docker login` first, then the cloud route; null for "credentials not found".
   */
  async helperGet(server: string, settings: Settings): Promise<Credential | null> {
    const ref = parseServerUrl(server);
    if (!ref) return null;
    const { store } = this.#depsFor(settings);
    const stored = await store.get(ref);
    if (stored) {
      if (stored.username === "" && stored.secret === "") return null;
      if (stored.username === IDENTITY_TOKEN_USERNAME) return stored.secret ? { identityToken: stored.secret } : null;
      return { username: stored.username, password: stored.secret };
    }
    try {
      const c = await this.credentials(ref.host, settings);
      return { username: c.username, password: c.secret };
    } catch (e) {
      if (e instanceof NotFoundError) return null;
      throw e;
    }
  }
}
