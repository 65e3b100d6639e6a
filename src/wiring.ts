// How the edges (the CLI and the library) assemble the credential service from Settings: the one
// place that decides how the token cache and the static store are opened.

import { fileCache, noCache } from "./cache/cache.ts";
import { compiledConfigParser } from "./cache/compiled-config.ts";
import type { CredentialDeps } from "./credentials.ts";
import type { Env } from "./env.ts";
import type { Logger } from "./log.ts";
import { loadProvider } from "./providers/index.ts";
import { compiledConfigDir, loadSettings, type Settings } from "./settings.ts";
import { type CredentialStore, openStore } from "./store/store.ts";

/** Settings as the edges load them: with the compiled-config cache step (cache/compiled-config.ts). */
export const edgeSettings = (env: Env, home: string): Promise<Settings> =>
  loadSettings(env, home, { parseConfig: compiledConfigParser(compiledConfigDir(env, home)) });

/** The cache (a waiter may wait out a few slow fetches), the clock and the real providers. */
export const credentialDeps = (settings: Settings, log: Logger, now: () => number): CredentialDeps => ({
  settings,
  log,
  now,
  loadProvider,
  cache: settings.cacheDir
    ? fileCache(settings.cacheDir, {
        now,
        lockWaitMs: settings.requestTimeoutMs * 4 + 10_000,
        onWarning: (m) => log.warn(m),
      })
    : noCache,
});

/** The static-credential store (`docker login`), backend chosen by settings. */
export const staticStore = (settings: Settings, log: Logger, now: () => number): CredentialStore =>
  openStore({
    dataDir: settings.dataDir,
    mode: settings.storeBackend,
    env: settings.env,
    platform: process.platform,
    log,
    now,
  });
