// Everything the program reads from the environment and the config file, read once at the edge
// and passed down frozen. Nothing below the entry point looks at process.env.

import { fs, path } from "./builtins.ts";
import { type Config, EMPTY_CONFIG, parseConfig } from "./config.ts";
import type { Env } from "./env.ts";
import { ConfigError } from "./errors.ts";
import { ensurePrivateDir, readOwnFile, writeOwnFile } from "./fsafe.ts";
import { digest } from "./hash.ts";
import { type Level, parseLevel } from "./log.ts";

export type { Env } from "./env.ts";
export type StoreBackend = "auto" | "keyring" | "file";

export interface Settings {
  /** The process environment, for the cloud SDKs' own conventions (AWS_*, GOOGLE_*, AZURE_*). */
  readonly env: Env;
  readonly home: string;
  readonly config: Config;
  readonly configFile: string | null;
  /** null when the token cache is disabled. */
  readonly cacheDir: string | null;
  /** Where static credentials live when no OS keyring is used. */
  readonly dataDir: string;
  readonly storeBackend: StoreBackend;
  readonly negativeTtlMs: number;
  readonly requestTimeoutMs: number;
  readonly logLevel: Level;
}

export const ENV = {
  config: "DOCKER_CREDENTIAL_CLOUD_CONFIG",
  log: "DOCKER_CREDENTIAL_CLOUD_LOG",
  cache: "DOCKER_CREDENTIAL_CLOUD_CACHE",
  cacheDir: "DOCKER_CREDENTIAL_CLOUD_CACHE_DIR",
  dataDir: "DOCKER_CREDENTIAL_CLOUD_DATA_DIR",
  store: "DOCKER_CREDENTIAL_CLOUD_STORE",
  negativeTtl: "DOCKER_CREDENTIAL_CLOUD_NEGATIVE_TTL",
  timeout: "DOCKER_CREDENTIAL_CLOUD_TIMEOUT",
} as const;

const DEFAULT_NEGATIVE_TTL_S = 60;
const DEFAULT_TIMEOUT_S = 10;
// Larger values overflow Node's timers (they then fire at once) and make no sense for a pull.
const MAX_SECONDS = 86_400;

const seconds = (raw: string | undefined, name: string): number | undefined => {
  if (raw === undefined || raw.trim() === "") return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || n > MAX_SECONDS) {
    throw new ConfigError(`${name}: expected a number of seconds from 0 to ${MAX_SECONDS}, got "${raw}"`);
  }
  return n;
};

const readIfExists = (file: string): string | null => {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw new ConfigError(`${file}: cannot read: ${code ?? (e as Error).message}`);
  }
};

/**
 * A YAML config is parsed once and kept as validated JSON in the cache directory, keyed by a hash
 * of the YAML text, so later pulls do not load the YAML library (≈ 40 ms and 70 modules on every
 * `get`). The copy is trusted only if it is a regular file owned by us and writable by no one else;
 * anything else is ignored and the YAML is parsed again. JSON configs skip all this.
 */
const parseConfigCached = async (text: string, file: string, compiledDir: string | null): Promise<Config> => {
  if (compiledDir === null || text.trimStart().startsWith("{")) return parseConfig(text, file);
  const hash = digest(file, text);
  const compiled = path.join(compiledDir, `config-${digest(file)}.json`);
  try {
    const own = readOwnFile(compiled); // null when absent; throws for a symlink or another user's file
    if (own && (own.mode & 0o022) === 0) {
      const copy = JSON.parse(own.text) as { version?: number; hash?: string; config?: unknown };
      if (copy.version === 1 && copy.hash === hash) return await parseConfig(JSON.stringify(copy.config), file);
    }
  } catch {
    // no usable copy: parse the YAML below
  }
  const config = await parseConfig(text, file);
  try {
    if (ensurePrivateDir(compiledDir) === null) {
      await writeOwnFile(compiled, JSON.stringify({ version: 1, hash, config }));
    }
  } catch {
    // best effort: the next run parses the YAML again
  }
  return config;
};

/** The config file: $DOCKER_CREDENTIAL_CLOUD_CONFIG, else the XDG location, else /etc. */
const loadConfig = async (env: Env, home: string): Promise<{ config: Config; file: string | null }> => {
  // The compiled copy lives in the default (or environment-chosen) cache directory: the config's
  // own cache.dir is not known before the config is read.
  const compiledDir = ["off", "0", "false", "no"].includes((env[ENV.cache] ?? "").toLowerCase())
    ? null
    : env[ENV.cacheDir] || path.join(env.XDG_CACHE_HOME || path.join(home, ".cache"), "docker-credential-cloud");
  const explicit = env[ENV.config];
  if (explicit) {
    const text = readIfExists(explicit);
    if (text === null) throw new ConfigError(`${explicit}: config file not found (from ${ENV.config})`);
    return { config: await parseConfigCached(text, explicit, compiledDir), file: explicit };
  }
  const xdg = env.XDG_CONFIG_HOME || path.join(home, ".config");
  for (const file of [
    path.join(xdg, "docker-credential-cloud", "config.yaml"),
    "/etc/docker-credential-cloud/config.yaml",
  ]) {
    const text = readIfExists(file);
    if (text !== null) return { config: await parseConfigCached(text, file, compiledDir), file };
  }
  return { config: EMPTY_CONFIG, file: null };
};

export const loadSettings = async (env: Env, home: string): Promise<Settings> => {
  const { config, file } = await loadConfig(env, home);
  const cacheSwitch = (env[ENV.cache] ?? "").toLowerCase();
  const cacheEnabled =
    cacheSwitch === "" ? config.cache.enabled !== false : !["off", "0", "false", "no"].includes(cacheSwitch);
  const cacheDir =
    env[ENV.cacheDir] ||
    config.cache.dir ||
    path.join(env.XDG_CACHE_HOME || path.join(home, ".cache"), "docker-credential-cloud");
  const dataDir =
    env[ENV.dataDir] || path.join(env.XDG_DATA_HOME || path.join(home, ".local", "share"), "docker-credential-cloud");
  const store = (env[ENV.store] ?? "auto").toLowerCase();
  if (!["auto", "keyring", "file"].includes(store)) {
    throw new ConfigError(`${ENV.store}: must be auto, keyring or file, got "${store}"`);
  }
  const negative =
    seconds(env[ENV.negativeTtl], ENV.negativeTtl) ??
    seconds(config.cache.negativeTtlSeconds?.toString(), `${file}: cache.negativeTtlSeconds`) ??
    DEFAULT_NEGATIVE_TTL_S;
  const timeout =
    seconds(env[ENV.timeout], ENV.timeout) ??
    seconds(config.timeouts.requestSeconds?.toString(), `${file}: timeouts.requestSeconds`) ??
    DEFAULT_TIMEOUT_S;
  return Object.freeze({
    env: Object.freeze({ ...env }),
    home,
    config,
    configFile: file,
    cacheDir: cacheEnabled ? cacheDir : null,
    dataDir,
    storeBackend: store as StoreBackend,
    negativeTtlMs: negative * 1000,
    requestTimeoutMs: Math.max(1, timeout) * 1000,
    logLevel: parseLevel(env[ENV.log]),
  });
};
