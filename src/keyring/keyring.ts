// The in-process keyring: for an image, every credential the node's Docker configuration, its
// kubelet credential providers and our own cloud fetchers hold, in the order the kubelet would
// try them, as CRI AuthConfigs.
//
// Sources, in this order (the order within one match key):
//   0. pull secrets passed to lookup() — a keyring of their own, ahead of everything (the
//      kubelet's union of a pod's imagePullSecrets and the node keyring);
//   1. the Docker credential helper Docker would use for the registry (credHelpers, else credsStore);
//   2. the Docker config's `auths` entries (config.json, then the legacy .dockercfg);
//   3. the kubelet CredentialProviderConfig's providers whose matchImages match, in config order;
//   4. our built-in fetchers (ECR, ECR Public, Google, ACR), for genuine cloud hosts only.
// Sources 1–4 feed one BasicDockerKeyring (match.ts): the most specific match key first, "*"
// last, then source order; identical credentials are returned once.
//
// A source that fails is logged and contributes nothing; the others still answer. All sources
// are asked at the same time, so a slow one costs its own time, not the sum.

import { fs, os, path } from "../builtins.ts";
import type { CredentialDeps } from "../credentials.ts";
import { routeToken } from "../credentials.ts";
import { NoIdentityError, NotFoundError, oneLine } from "../errors.ts";
import { createLogger, LEVELS, type Level, type Logger, parseLevel, scrub } from "../log.ts";
import { parseServerUrl } from "../registry/hosts.ts";
import { DOCKER_HUB_DOMAIN, type ImageRef, normalizeImage } from "../registry/image.ts";
import { resolveRoute } from "../resolver.ts";
import { type Env, loadSettings, type Settings } from "../settings.ts";
import type { CredentialStore } from "../store/store.ts";
import { VERSION } from "../version.ts";
import { credentialDeps, staticStore } from "../wiring.ts";
import {
  type DockerConfig,
  DockerConfigReader,
  defaultDockerConfigPaths,
  helperFor,
  helperServerUrl,
  parseDockerConfig,
  parseDockerConfigText,
} from "./docker-config.ts";
import { Runner, type RunResult, SingleFlight } from "./exec.ts";
import { findOnPath, HELPER_PREFIX, interpretHelperRun, validHelperName } from "./helper.ts";
import { type CredentialProvider, loadCredentialProviderConfig, providerMatchesImage } from "./kubelet-config.ts";
import { type Credential, type Found, KeyIndex } from "./match.ts";
import { encodePluginRequest, interpretPluginRun, PluginCache, type PluginResponse } from "./plugin.ts";
import { isSelfProgram, SELF_HELPER, SELF_PROGRAM, selfPluginEnv } from "./self.ts";
import type { AuthConfig, Keyring, KeyringLogger, KeyringOptions, LookupOptions } from "./types.ts";

export const DEFAULT_TIMEOUT_MS = 60_000;
/** The host containerd contacts for docker.io, and so the server_address it accepts for Hub credentials. */
export const DOCKER_HUB_REGISTRY_HOST = "registry-1.docker.io";

/** The image's registry as an https:// URL whose host is the one containerd will compare. */
export const serverAddressFor = (ref: ImageRef): string =>
  `https://${ref.registry === DOCKER_HUB_DOMAIN ? DOCKER_HUB_REGISTRY_HOST : ref.registry}`;

const credentialId = (c: Credential): string =>
  JSON.stringify([c.username ?? "", c.password ?? "", c.auth ?? "", c.identityToken ?? "", c.registryToken ?? ""]);

/** Found credentials → CRI AuthConfigs, the first of identical ones kept. */
export const toAuthConfigs = (found: readonly Found[], serverAddress: string): AuthConfig[] => {
  const seen = new Set<string>();
  const out: AuthConfig[] = [];
  for (const { credential: c } of found) {
    const id = credentialId(c);
    if (seen.has(id)) continue;
    seen.add(id);
    const a: AuthConfig = { serverAddress };
    if (c.username !== undefined) a.username = c.username;
    if (c.password !== undefined) a.password = c.password;
    if (c.auth !== undefined) a.auth = c.auth;
    if (c.identityToken !== undefined) a.identityToken = c.identityToken;
    if (c.registryToken !== undefined) a.registryToken = c.registryToken;
    out.push(a);
  }
  return out;
};

const userLogger = (user: KeyringLogger, level: Level): Logger => {
  const rank = LEVELS.indexOf(level);
  const at =
    (l: Exclude<Level, "silent">) =>
    (msg: string): void => {
      if (LEVELS.indexOf(l) <= rank) user[l]?.call(user, `docker-credential-cloud: ${scrub(msg)}`);
    };
  return { level, error: at("error"), warn: at("warn"), info: at("info"), debug: at("debug") };
};

/** Settles with `p`, or rejects once `ms` have passed (for in-process answers, which cannot be killed). */
const bounded = <T>(p: Promise<T>, ms: number): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within the ${ms / 1000}s timeout`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
};

interface ProviderRuntime {
  provider: CredentialProvider;
  file: string;
  /** The settings overlay when this provider is us and is answered in process. */
  selfEnv: Record<string, string> | null;
  cache: PluginCache;
  flight: SingleFlight<PluginResponse>;
}

const checkOptions = (o: KeyringOptions): void => {
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

/** Creates a keyring. Nothing is read or run until the first lookup. */
export const createKeyring = (options: KeyringOptions = {}): Keyring => {
  checkOptions(options);
  const env: Env = Object.freeze({ ...(options.env ?? process.env) });
  const home = options.home ?? (env.HOME || os.homedir());
  const level = options.logLevel ?? parseLevel(env.DOCKER_CREDENTIAL_CLOUD_LOG);
  const log = options.logger
    ? userLogger(options.logger, level)
    : createLogger(level, (line) => process.stderr.write(line));
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const builtins = options.builtins ?? true;
  const now = () => Date.now();
  const dockerFiles =
    options.dockerConfig === false
      ? []
      : typeof options.dockerConfig === "string"
        ? [options.dockerConfig]
        : [...(options.dockerConfig ?? defaultDockerConfigPaths(env, home))];
  const docker = new DockerConfigReader(dockerFiles, (m) => log.warn(m));
  const runner = new Runner();
  const helperFlight = new SingleFlight<Credential | null>();
  const builtinFlight = new SingleFlight<Credential | null>();
  let closed = false;

  // ---- Settings (the environment and our config file, read once) and what hangs off them.
  const settingsByOverlay = new Map<string, Promise<Settings | null>>();
  const settingsFor = (overlay: Record<string, string> = {}): Promise<Settings | null> => {
    const key = JSON.stringify(Object.entries(overlay).sort());
    let p = settingsByOverlay.get(key);
    if (!p) {
      p = loadSettings(Object.keys(overlay).length ? { ...env, ...overlay } : env, home).catch((e) => {
        log.error(`the built-in fetchers are off: ${oneLine(e)}`);
        return null;
      });
      settingsByOverlay.set(key, p);
    }
    return p;
  };
  const depsBySettings = new WeakMap<Settings, { deps: CredentialDeps; store: CredentialStore }>();
  const depsFor = (settings: Settings) => {
    let d = depsBySettings.get(settings);
    if (!d) {
      const deps = credentialDeps(settings, log, now);
      const store = staticStore(settings, log, now);
      d = { deps, store };
      depsBySettings.set(settings, d);
    }
    return d;
  };

  // ---- The kubelet's providers (the config is read once, like the kubelet reads it at start).
  let providersP: Promise<ProviderRuntime[]> | undefined;
  const providers = (): Promise<ProviderRuntime[]> => {
    if (options.kubeletConfig === undefined) return Promise.resolve([]);
    providersP ??= (async () => {
      const binDir = options.kubeletBinDir as string;
      let providers: CredentialProvider[];
      try {
        providers = (await loadCredentialProviderConfig(options.kubeletConfig as string)).providers;
      } catch (e) {
        log.error(`kubelet credential providers are off: ${oneLine(e)}`);
        return [];
      }
      const out: ProviderRuntime[] = [];
      for (const p of providers) {
        const ta = p.tokenAttributes;
        if (ta && ta.requireServiceAccount !== false) {
          // The kubelet skips such a provider for a pod without a service account; a library lookup has none.
          log.info(`kubelet provider ${p.name} needs a pod's service-account token; skipped`);
          continue;
        }
        const file = path.join(binDir, p.name);
        const exists = fs.existsSync(file);
        const selfEnv = builtins && isSelfProgram(p.name, exists ? file : null) ? selfPluginEnv(p) : null;
        if (selfEnv === null) {
          try {
            fs.accessSync(file, fs.constants.X_OK);
          } catch {
            log.warn(`kubelet provider ${p.name}: plugin binary executable ${file} did not exist; skipped`);
            continue;
          }
        }
        if (selfEnv) log.debug(`kubelet provider ${p.name} is ${SELF_PROGRAM}: answered in process`);
        out.push({ provider: p, file, selfEnv, cache: new PluginCache(now), flight: new SingleFlight() });
      }
      return out;
    })();
    return providersP;
  };

  // ---- Source 1: Docker credential helpers.
  const askHelper = async (name: string, registry: string): Promise<Credential | null> => {
    const server = helperServerUrl(registry);
    const program = `${HELPER_PREFIX}${name}`;
    const file = findOnPath(program, env);
    const self = builtins && (name === SELF_HELPER || isSelfProgram(program, file));
    if (!self && file === null) throw new Error(`${program} is not on PATH`);
    const key = `${self ? "self" : file}\u0000${server}`;
    return helperFlight.do(
      key,
      async () => {
        let r: RunResult;
        if (self) {
          const settings = await settingsFor();
          if (!settings) return null;
          const { deps, store } = depsFor(settings);
          const { handleDockerAction } = await import("../adapters/docker-helper.ts");
          r = { ...(await bounded(handleDockerAction("get", server, deps, VERSION, store), timeoutMs)), stderr: "" };
        } else {
          r = await runner.run(file as string, ["get"], { env, input: server, timeoutMs });
        }
        return interpretHelperRun(r);
      },
      () => log.debug(`waiting for the running ${program} get for ${server}`),
    );
  };

  const helperSource = async (ref: ImageRef, configs: readonly DockerConfig[]): Promise<Found[]> => {
    const names: string[] = [];
    for (const c of configs) {
      const name = helperFor(c, ref.registry);
      if (name === undefined || names.includes(name)) continue;
      if (!validHelperName(name)) {
        log.warn(`${c.file}: credential helper name ${JSON.stringify(name)} is not a program name; skipped`);
        continue;
      }
      names.push(name);
    }
    const answers = await Promise.all(
      names.map(async (name): Promise<Found | null> => {
        try {
          const c = await askHelper(name, ref.registry);
          log.debug(`${HELPER_PREFIX}${name} for ${ref.registry}: ${c ? "credentials" : "none"}`);
          return c ? { credential: c, source: `${HELPER_PREFIX}${name}` } : null;
        } catch (e) {
          log.warn(`${HELPER_PREFIX}${name} get ${helperServerUrl(ref.registry)}: ${oneLine(e)}; skipped`);
          return null;
        }
      }),
    );
    return answers.filter((f): f is Found => f !== null);
  };

  // ---- Source 3: kubelet providers.
  const runProvider = async (rt: ProviderRuntime, image: string): Promise<PluginResponse> => {
    const { provider: p } = rt;
    const input = encodePluginRequest(p.apiVersion, image);
    let r: RunResult;
    if (rt.selfEnv) {
      const settings = await settingsFor(rt.selfEnv);
      if (!settings) throw new Error("our own settings could not be read (logged above)");
      const { handleKubeletRequest } = await import("../adapters/kubelet-plugin.ts");
      r = await bounded(handleKubeletRequest(input, depsFor(settings).deps), timeoutMs);
    } else {
      const procEnv: Record<string, string | undefined> = { ...env };
      for (const { name, value } of p.env) procEnv[name] = value;
      r = await runner.run(rt.file, p.args, { env: procEnv, input, timeoutMs });
    }
    const response = interpretPluginRun(r, p.name, image, p.apiVersion);
    rt.cache.put(image, response, p.defaultCacheDurationMs ?? 0);
    return response;
  };

  const kubeletSource = async (ref: ImageRef): Promise<[string, Found][]> => {
    const image = ref.repository;
    const matching = (await providers()).filter((rt) => providerMatchesImage(rt.provider, image));
    const answers = await Promise.all(
      matching.map(async (rt): Promise<[string, Found][]> => {
        const name = rt.provider.name;
        try {
          const cached = rt.cache.get(image);
          const response =
            cached ??
            (await rt.flight.do(
              image,
              () => runProvider(rt, image),
              () => log.debug(`waiting for the running ${name} plugin for ${image}`),
            ));
          log.debug(
            `kubelet provider ${name} for ${image}: ${response.auth.length} key(s)${cached ? " (cached)" : ""}`,
          );
          return response.auth.map(([key, a]) => [
            key,
            { credential: { username: a.username, password: a.password }, source: `kubelet provider ${name}` },
          ]);
        } catch (e) {
          log.warn(`kubelet provider ${name}: ${oneLine(e)}; skipped`);
          return [];
        }
      }),
    );
    return answers.flat();
  };

  // ---- Source 4: our own fetchers for cloud hosts.
  const builtinSource = async (ref: ImageRef): Promise<Found[]> => {
    if (!builtins) return [];
    const host = parseServerUrl(ref.registry)?.host;
    if (host === undefined) return [];
    const settings = await settingsFor();
    if (!settings) return [];
    try {
      const route = resolveRoute(host, settings);
      if (!route) return [];
      const c = await builtinFlight.do(route.cacheKey, async () => {
        const creds = await bounded(routeToken(route, depsFor(settings).deps), timeoutMs);
        return { username: creds.username, password: creds.secret };
      });
      return c ? [{ credential: c, source: `built-in ${route.provider} (${route.identity.label})` }] : [];
    } catch (e) {
      if (e instanceof NotFoundError) log.debug(`built-in fetcher for ${host}: ${oneLine(e)}`);
      else if (e instanceof NoIdentityError) log.info(`built-in fetcher for ${host}: ${oneLine(e)}`);
      else log.warn(`built-in fetcher for ${host}: ${oneLine(e)}; skipped`);
      return [];
    }
  };

  const secretsKeyring = (secrets: readonly (string | object)[] | undefined): KeyIndex => {
    const index = new KeyIndex();
    for (const [i, s] of (secrets ?? []).entries()) {
      const where = `pullSecrets[${i}]`;
      const warn = (m: string) => log.warn(m);
      const cfg = typeof s === "string" ? parseDockerConfigText(s, where, warn) : parseDockerConfig(s, where, warn);
      if (typeof cfg === "string") {
        warn(`${where}: ${cfg}; ignored`);
        continue;
      }
      for (const a of cfg.auths) {
        if (!index.add(a.key, { credential: a.credential, source: `${where} ${a.key}` })) {
          log.debug(`${where}: key ${JSON.stringify(a.key)} does not parse; dropped`);
        }
      }
    }
    return index;
  };

  const lookup = async (image: string, opts: LookupOptions = {}): Promise<AuthConfig[]> => {
    if (closed) throw new Error("docker-credential-cloud: this keyring is closed");
    const ref = normalizeImage(image);
    let configs: DockerConfig[] = [];
    try {
      configs = docker.read();
    } catch (e) {
      log.warn(`Docker config: ${oneLine(e)}; skipped`);
    }
    const [helpers, kubelet, builtin] = await Promise.all([
      helperSource(ref, configs),
      kubeletSource(ref),
      builtinSource(ref),
    ]);
    const node = new KeyIndex();
    for (const f of helpers) node.add(ref.registry, f);
    for (const c of configs) {
      for (const a of c.auths) {
        if (!node.add(a.key, { credential: a.credential, source: `${c.file} auths` })) {
          log.debug(`${c.file}: auths key ${JSON.stringify(a.key)} does not parse; dropped`);
        }
      }
    }
    for (const [key, f] of kubelet) {
      if (!node.add(key, f)) log.debug(`${f.source}: auth key ${JSON.stringify(key)} does not parse; dropped`);
    }
    for (const f of builtin) node.add(ref.registry, f);
    const found = [...secretsKeyring(opts.pullSecrets).lookup(ref.repository), ...node.lookup(ref.repository)];
    const address = options.serverAddress === "none" ? "" : serverAddressFor(ref);
    const result = toAuthConfigs(found, address);
    log.debug(
      `lookup ${ref.repository}: ${result.length} credential(s)${found.length ? ` from ${[...new Set(found.map((f) => f.source))].join(", ")}` : ""}`,
    );
    return result;
  };

  return {
    lookup,
    close: async () => {
      closed = true;
      runner.killAll();
      for (const rt of providersP ? await providersP : []) rt.cache.clear();
    },
  };
};
