// The in-process keyring: for an image, every credential that pull secrets, the node's Docker
// configuration, its kubelet credential providers and our own cloud fetchers hold, in the order
// the kubelet would try them (merge.ts), as CRI AuthConfigs.
//
// options.ts checks and resolves the options; sources/ produce credentials (docker.ts: helpers and
// `auths`; plugins.ts: kubelet providers; builtin.ts: our fetchers; pull-secrets.ts); core.ts is
// the way into the credential core for everything answered in process; merge.ts orders the answer.
// A source that fails is logged and contributes nothing; the others still answer. All sources are
// asked at the same time, so a slow one costs its own time, not the sum.

import { oneLine } from "../errors.ts";
import { normalizeImage } from "../registry/image.ts";
import { Core } from "./core.ts";
import { type DockerConfig, DockerConfigReader } from "./docker-config.ts";
import { Runner, SingleFlight } from "./exec.ts";
import { type Credential, type Found, KeyIndex } from "./match.ts";
import { serverAddressFor, toAuthConfigs, unionLookup } from "./merge.ts";
import { resolveOptions } from "./options.ts";
import { builtinCredentials } from "./sources/builtin.ts";
import { dockerKeyring } from "./sources/docker.ts";
import { discoverProviders, type ProviderRuntime, pluginCredentials } from "./sources/plugins.ts";
import { secretKeyrings } from "./sources/pull-secrets.ts";
import type { AuthConfig, Keyring, KeyringOptions, LookupOptions } from "./types.ts";

export { DOCKER_HUB_REGISTRY_HOST, serverAddressFor, toAuthConfigs } from "./merge.ts";
export { DEFAULT_TIMEOUT_MS } from "./options.ts";

const checkLookupOptions = (o: LookupOptions): void => {
  if (typeof o !== "object" || o === null) throw new TypeError("lookup: options must be an object");
  const t = o.serviceAccountToken;
  if (t !== undefined && (typeof t !== "string" || t === "")) {
    throw new TypeError("lookup: serviceAccountToken must be a non-empty string");
  }
  const a = o.serviceAccountAnnotations;
  if (a !== undefined && (typeof a !== "object" || a === null || Object.values(a).some((v) => typeof v !== "string"))) {
    throw new TypeError("lookup: serviceAccountAnnotations must map names to strings");
  }
};

/** Creates a keyring. Nothing is read or run until the first lookup. */
export const createKeyring = (options: KeyringOptions = {}): Keyring => {
  const o = resolveOptions(options);
  const { log } = o;
  const core = new Core(o.env, o.home, log, o.now);
  const docker = new DockerConfigReader(o.dockerFiles, (m) => log.warn(m));
  const runner = new Runner();
  const helperFlight = new SingleFlight<Credential | null>();
  const builtinFlight = new SingleFlight<Found>();
  const deps = { env: o.env, log, core, runner, builtins: o.builtins, timeoutMs: o.timeoutMs, now: o.now };
  let closed = false;

  // The kubelet's providers: the config is read once, like the kubelet reads it at start.
  let providersP: Promise<ProviderRuntime[]> | undefined;
  const providers = (): Promise<ProviderRuntime[]> => {
    if (o.kubelet === null) return Promise.resolve([]);
    providersP ??= discoverProviders(deps, o.kubelet.config, o.kubelet.binDir);
    return providersP;
  };

  const lookup = async (image: string, opts: LookupOptions = {}): Promise<AuthConfig[]> => {
    if (closed) throw new Error("docker-credential-cloud: this keyring is closed");
    const ref = normalizeImage(image);
    checkLookupOptions(opts);
    const secrets = secretKeyrings(opts.pullSecrets, log);
    const sa =
      opts.serviceAccountToken === undefined
        ? undefined
        : { token: opts.serviceAccountToken, annotations: opts.serviceAccountAnnotations ?? {} };
    let configs: DockerConfig[] = [];
    try {
      configs = docker.read();
    } catch (e) {
      log.warn(`Docker config: ${oneLine(e)}; skipped`);
    }
    const [node, fromPlugins, builtin] = await Promise.all([
      dockerKeyring({ ...deps, flight: helperFlight }, ref, configs),
      providers().then((rts) => pluginCredentials(deps, rts, ref, sa)),
      o.builtins ? builtinCredentials({ ...deps, flight: builtinFlight }, ref) : [],
    ]);
    const plugins = new KeyIndex();
    for (const [key, f] of fromPlugins) {
      if (!plugins.add(key, f)) log.debug(`${f.source}: auth key ${JSON.stringify(key)} does not parse; dropped`);
    }
    for (const f of builtin) plugins.add(ref.registry, f);
    const found = unionLookup([...secrets, node, plugins], ref.repository);
    const result = toAuthConfigs(found, o.serverAddress === "none" ? "" : serverAddressFor(ref));
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
      for (const rt of providersP ? await providersP : []) for (const c of rt.caches.values()) c.clear();
    },
  };
};
