// createKeyring's options: checked once, then resolved against the environment into what the
// sources use. Nothing here reads a file or runs a program.

import { os } from "../builtins.ts";
import type { Env } from "../env.ts";
import { createLogger, LEVELS, type Level, type Logger, parseLevel, scrub } from "../log.ts";
import { defaultDockerConfigPaths } from "./docker-config.ts";
import type { KeyringLogger, KeyringOptions } from "./types.ts";

export const DEFAULT_TIMEOUT_MS = 60_000;

/** The options with every default applied. */
export interface Resolved {
  env: Env;
  home: string;
  log: Logger;
  timeoutMs: number;
  builtins: boolean;
  dockerFiles: string[];
  kubelet: { config: string; binDir: string } | null;
  serverAddress: "registry" | "none";
  now: () => number;
}

export const checkOptions = (o: KeyringOptions): void => {
  if (typeof o !== "object" || o === null) throw new TypeError("createKeyring: options must be an object");
  const str = (v: unknown, name: string) => {
    if (v !== undefined && (typeof v !== "string" || v === "")) {
      throw new TypeError(`createKeyring: ${name} must be a non-empty string`);
    }
  };
  str(o.home, "home");
  str(o.kubeletConfig, "kubeletConfig");
  str(o.kubeletBinDir, "kubeletBinDir");
  if (o.kubeletConfig !== undefined && o.kubeletBinDir === undefined) {
    throw new TypeError(
      "createKeyring: kubeletBinDir is required with kubeletConfig (the kubelet's --image-credential-provider-bin-dir)",
    );
  }
  const dc = o.dockerConfig;
  if (
    dc !== undefined &&
    dc !== false &&
    typeof dc !== "string" &&
    !(Array.isArray(dc) && dc.every((f) => typeof f === "string"))
  ) {
    throw new TypeError("createKeyring: dockerConfig must be a path, a list of paths, or false");
  }
  if (o.timeoutMs !== undefined && !(Number.isFinite(o.timeoutMs) && o.timeoutMs > 0)) {
    throw new TypeError("createKeyring: timeoutMs must be a positive number of milliseconds");
  }
  if (o.logLevel !== undefined && !(LEVELS as readonly string[]).includes(o.logLevel)) {
    throw new TypeError(`createKeyring: logLevel must be one of ${LEVELS.join(", ")}`);
  }
  if (o.serverAddress !== undefined && o.serverAddress !== "registry" && o.serverAddress !== "none") {
    throw new TypeError('createKeyring: serverAddress must be "registry" or "none"');
  }
};

/** A logger that forwards to the user's object, filtered by `level`, every message scrubbed. */
const userLogger = (user: KeyringLogger, level: Level): Logger => {
  const rank = LEVELS.indexOf(level);
  const at =
    (l: Exclude<Level, "silent">) =>
    (msg: string): void => {
      if (LEVELS.indexOf(l) <= rank) user[l]?.call(user, `docker-credential-cloud: ${scrub(msg)}`);
    };
  return { level, error: at("error"), warn: at("warn"), info: at("info"), debug: at("debug") };
};

export const resolveOptions = (options: KeyringOptions): Resolved => {
  checkOptions(options);
  const env: Env = Object.freeze({ ...(options.env ?? process.env) });
  const home = options.home ?? (env.HOME || os.homedir());
  const level = options.logLevel ?? parseLevel(env.DOCKER_CREDENTIAL_CLOUD_LOG);
  const log = options.logger
    ? userLogger(options.logger, level)
    : createLogger(level, (line) => process.stderr.write(line));
  const dockerFiles =
    options.dockerConfig === false
      ? []
      : typeof options.dockerConfig === "string"
        ? [options.dockerConfig]
        : [...(options.dockerConfig ?? defaultDockerConfigPaths(env, home))];
  return {
    env,
    home,
    log,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    builtins: options.builtins ?? true,
    dockerFiles,
    kubelet:
      options.kubeletConfig === undefined
        ? null
        : { config: options.kubeletConfig, binDir: options.kubeletBinDir as string },
    serverAddress: options.serverAddress ?? "registry",
    now: () => Date.now(),
  };
};
