// Kubelet plugin answers in the shared file token cache (src/cache/), so the kubelet's cache rules
// hold across processes: every `docker pull` through the bridge (bridges/kubelet-plugins-helper.ts)
// and every `lookup --json` is a fresh process, and each would otherwise run the plugin again. The
// library shares the same entries (a keyring's memory comes first, this file second).
//
// Key: `kubelet-plugin:<provider>:<scope>:<kubelet key>`.
// - provider: a digest of the CredentialProviderConfig path, the provider's whole decoded entry
//   (name, matchImages, defaultCacheDuration, apiVersion, args, env, tokenAttributes), the program's
//   path and its file identity (device, inode, size, mtime, ctime). Another config, other args or
//   env, a replaced or upgraded binary: another provider, nothing shared.
// - scope: the service-account digest the plugin source computes ("-" without one).
// - kubelet key: `image:<image>`, `registry:<host>` or `global`, as the answer's cacheKeyType says;
//   lookups try them in the kubelet's order (image, registry, global).
// The caller's own environment is not part of the key: the kubelet's is fixed for its life, and a
// shell's changing variables would defeat the cache. A hit is one read of the cache file: no
// program runs, no lock is taken, nothing is written. A miss takes a per-request lock, so
// concurrent processes asking the same image run the plugin once.

import { fs, path } from "../builtins.ts";
import { LockUnavailableError, type TokenCache } from "../cache/cache.ts";
import type { PluginEntry } from "../cache/entry.ts";
import { oneLine } from "../errors.ts";
import { secretDigest } from "../hash.ts";
import { CACHE_KEY_TYPES, type CacheKeyType, imageRegistry } from "../kubelet/types.ts";
import type { Logger } from "../log.ts";
import type { CredentialProvider } from "./kubelet-config.ts";
import type { PluginResponse } from "./plugin.ts";

const PREFIX = "kubelet-plugin:";

/**
 * The provider's identity for cache keys, or null when its program cannot be stat'ed (it is then
 * not cached across processes). The env values may be secrets: only a SHA-256 digest is kept.
 */
export const providerCacheId = (configPath: string, provider: CredentialProvider, file: string): string | null => {
  let sig: string;
  try {
    const st = fs.statSync(file, { bigint: true });
    sig = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    return null;
  }
  return secretDigest(JSON.stringify([1, path.resolve(configPath), provider, path.resolve(file), sig]));
};

const kubeletKey = (image: string, type: CacheKeyType): string =>
  type === "Image" ? `image:${image}` : type === "Registry" ? `registry:${imageRegistry(image)}` : "global";

const keyOf = (id: string, scope: string, kubelet: string): string => `${PREFIX}${id}:${scope || "-"}:${kubelet}`;

export interface SharedHit {
  response: PluginResponse;
  expiresAt: number;
}

export class SharedPluginAnswers {
  readonly #cache: TokenCache;
  readonly #now: () => number;
  readonly #log: Logger;

  constructor(cache: TokenCache, now: () => number, log: Logger) {
    this.#cache = cache;
    this.#now = now;
    this.#log = log;
  }

  /** A live answer for `image`: the image's entry, else its registry's, else the global one. */
  async get(id: string, scope: string, image: string): Promise<SharedHit | undefined> {
    const all = await this.#cache.readAll();
    const now = this.#now();
    for (const type of CACHE_KEY_TYPES) {
      const e = all[keyOf(id, scope, kubeletKey(image, type))];
      if (e?.kind !== "plugin" || e.cacheKeyType !== type || now > e.expiresAt) continue;
      return {
        response: { cacheKeyType: type, cacheDurationMs: e.expiresAt - now, auth: e.auth },
        expiresAt: e.expiresAt,
      };
    }
    return undefined;
  }

  /** Keeps an answer until `expiresAt` (a failure to write is a warning: the answer still serves). */
  async put(
    id: string,
    scope: string,
    image: string,
    provider: string,
    response: PluginResponse,
    expiresAt: number,
  ): Promise<void> {
    const entry: PluginEntry = {
      kind: "plugin",
      fetchedAt: this.#now(),
      expiresAt,
      provider,
      cacheKeyType: response.cacheKeyType,
      auth: response.auth,
    };
    try {
      await this.#cache.put(keyOf(id, scope, kubeletKey(image, response.cacheKeyType)), entry);
    } catch (e) {
      this.#log.warn(`could not keep the ${provider} plugin's answer in the token cache: ${oneLine(e)}`);
    }
  }

  /** Runs `fn` holding the cross-process lock for this request (without it when it cannot be had). */
  async withRunLock<T>(id: string, scope: string, image: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await this.#cache.withLock(keyOf(id, scope, `run:${image}`), fn);
    } catch (e) {
      if (!(e instanceof LockUnavailableError)) throw e;
      this.#log.warn(`token cache lock unavailable (${oneLine(e)}); running the plugin without it`);
      return fn();
    }
  }
}
