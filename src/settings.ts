// Everything the program reads from the environment and the config file, read once at the edge
// and passed down frozen. Nothing below the entry point looks at process.env.

import { fs, path } from "./builtins.ts";
import { type Config, EMPTY_CONFIG, parseConfig } from "./config.ts";
import type { Env } from "./env.ts";
import { ConfigError } from "./errors.ts";
import { excerpt, LEVELS, type Level, parseLevel } from "./log.ts";

export type { Env } from "./env.ts";

/** Turns a config file's text into a Config; the edge may pass one that caches (cache/compiled-config.ts). */
export type ConfigParser = (text: string, file: string) => Promise<Config>;
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

// The values of DOCKER_CREDENTIAL_CLOUD_CACHE that turn the token cache off.
const OFF = ["off", "0", "false", "no"];

/** The token cache's directory unless the config file names another: $…_CACHE_DIR, else XDG. */
const defaultCacheDir = (env: Env, home: string): string =>
  env[ENV.cacheDir] || path.join(env.XDG_CACHE_HOME || path.join(home, ".cache"), "docker-credential-cloud");

/**
 * Where the edge keeps the compiled copy of the config file (null: caching turned off by the
 * environment). The config's own cache.dir is not known before the config is read.
 */
export const compiledConfigDir = (env: Env, home: string): string | null =>
  OFF.includes((env[ENV.cache] ?? "").toLowerCase()) ? null : defaultCacheDir(env, home);

const DEFAULT_NEGATIVE_TTL_S = 900;
const DEFAULT_TIMEOUT_S = 10;
// Larger values overflow Node's timers (they then fire at once) and make no sense for a pull.
const MAX_SECONDS = 86_400;

const seconds = (raw: string | undefined, name: string): number | undefined => {
  if (raw === undefined || raw.trim() === "") return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || n > MAX_SECONDS) {
    throw new ConfigError(`${name}: expected a number of seconds from 0 to ${MAX_SECONDS}, got ${excerpt(raw)}`);
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

/** The config file: $DOCKER_CREDENTIAL_CLOUD_CONFIG, else the XDG location, else /etc. */
const loadConfig = async (
  env: Env,
  home: string,
  parse: ConfigParser,
): Promise<{ config: Config; file: string | null }> => {
  const explicit = env[ENV.config];
  if (explicit) {
    const text = readIfExists(explicit);
    if (text === null) throw new ConfigError(`${explicit}: config file not found (from ${ENV.config})`);
    return { config: await parse(text, explicit), file: explicit };
  }
  const xdg = env.XDG_CONFIG_HOME || path.join(home, ".config");
  for (const file of [
    path.join(xdg, "docker-credential-cloud", "config.yaml"),
    "/etc/docker-credential-cloud/config.yaml",
  ]) {
    const text = readIfExists(file);
    if (text !== null) return { config: await parse(text, file), file };
  }
  return { config: EMPTY_CONFIG, file: null };
};

/**
 * Reads the environment and the config file; writes nothing. `parseConfig` is the one cache step
 * the edge may add (wiring.ts edgeSettings passes the compiled-config cache).
 */
export const loadSettings = async (
  env: Env,
  home: string,
  opts: { parseConfig?: ConfigParser } = {},
): Promise<Settings> => {
  const { config, file } = await loadConfig(env, home, opts.parseConfig ?? parseConfig);
  const cacheSwitch = (env[ENV.cache] ?? "").toLowerCase();
  const cacheEnabled = cacheSwitch === "" ? config.cache.enabled !== false : !OFF.includes(cacheSwitch);
  const cacheDir = env[ENV.cacheDir] || config.cache.dir || defaultCacheDir(env, home);
  const dataDir =
    env[ENV.dataDir] || path.join(env.XDG_DATA_HOME || path.join(home, ".local", "share"), "docker-credential-cloud");
  const store = (env[ENV.store] ?? "auto").toLowerCase();
  if (!["auto", "keyring", "file"].includes(store)) {
    throw new ConfigError(`${ENV.store}: must be auto, keyring or file, got ${excerpt(store)}`);
  }
  // Like the other settings, a misspelt level is an error (it used to fall back to warn silently).
  const level = (env[ENV.log] ?? "").trim().toLowerCase();
  if (level !== "" && !(LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError(`${ENV.log}: must be ${LEVELS.join(", ")}, got ${excerpt(level)}`);
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
