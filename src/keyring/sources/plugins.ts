// The kubelet's credential provider plugins as a source: the CredentialProviderConfig read once
// (as the kubelet reads it at start), each matching provider run the way the kubelet runs it
// (plugin.ts), its answers kept under its cacheKeyType — in memory, and in the shared file token
// cache (shared-plugin-cache.ts) so that other processes get them too. A provider that is this
// program is answered by the credential core in process, with the provider's
// DOCKER_CREDENTIAL_CLOUD_* env.
//
// Providers with tokenAttributes get the pod's service-account token and annotations when the
// lookup passes them; without them such a provider is skipped when it requires a service account
// (the kubelet skips it for a pod without one) and asked without a token otherwise.

import { createHash } from "node:crypto";
import { fs, path } from "../../builtins.ts";
import type { Env } from "../../env.ts";
import { NotFoundError, oneLine } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { parseServerUrl } from "../../registry/hosts.ts";
import type { ImageRef } from "../../registry/image.ts";
import type { Workload } from "../../resolver.ts";
import { bounded, type Core } from "../core.ts";
import { type Runner, type RunResult, SingleFlight } from "../exec.ts";
import { type CredentialProvider, loadCredentialProviderConfig, providerMatchesImage } from "../kubelet-config.ts";
import type { Found } from "../match.ts";
import { encodePluginRequest, interpretPluginRun, PluginCache, type PluginResponse } from "../plugin.ts";
import { isSelfProgram, SELF_PROGRAM, selfPluginEnv } from "../self.ts";
import { providerCacheId, SharedPluginAnswers } from "../shared-plugin-cache.ts";

export interface ProviderRuntime {
  provider: CredentialProvider;
  file: string;
  /** The settings overlay when this provider is us and is answered in process. */
  selfEnv: Record<string, string> | null;
  /** Answers per service-account scope ("" without one), each kept like the kubelet keeps them. */
  caches: Map<string, PluginCache>;
  /**
   * The provider's key in the shared file cache (shared-plugin-cache.ts); null for a provider
   * answered in process (its tokens are in that cache already) or a program that cannot be stat'ed.
   */
  sharedId: string | null;
  flight: SingleFlight<PluginResponse>;
}

const cacheFor = (rt: ProviderRuntime, scope: string, now: () => number): PluginCache => {
  let c = rt.caches.get(scope);
  if (!c) {
    c = new PluginCache(now);
    rt.caches.set(scope, c);
  }
  return c;
};

export interface PluginSourceDeps {
  env: Env;
  log: Logger;
  core: Core;
  runner: Runner;
  builtins: boolean;
  timeoutMs: number;
  now: () => number;
}

/** The configured providers whose binaries exist (a missing one is skipped with a warning). */
export const discoverProviders = async (
  d: PluginSourceDeps,
  config: string,
  binDir: string,
): Promise<ProviderRuntime[]> => {
  let providers: CredentialProvider[];
  try {
    providers = (await loadCredentialProviderConfig(config)).providers;
  } catch (e) {
    d.log.error(`kubelet credential providers are off: ${oneLine(e)}`);
    return [];
  }
  const out: ProviderRuntime[] = [];
  for (const p of providers) {
    const file = path.join(binDir, p.name);
    const exists = fs.existsSync(file);
    const selfEnv = d.builtins && isSelfProgram(p.name, exists ? file : null) ? selfPluginEnv(p) : null;
    if (selfEnv === null) {
      try {
        fs.accessSync(file, fs.constants.X_OK);
      } catch {
        d.log.warn(`kubelet provider ${p.name}: plugin binary executable ${file} did not exist; skipped`);
        continue;
      }
    }
    if (selfEnv) d.log.debug(`kubelet provider ${p.name} is ${SELF_PROGRAM}: answered in process`);
    const sharedId = selfEnv ? null : providerCacheId(config, p, file);
    out.push({ provider: p, file, selfEnv, caches: new Map(), sharedId, flight: new SingleFlight() });
  }
  return out;
};

/** Whole seconds, half the token's remaining life (what our plugin mode answers). */
const cacheMsFor = (expiresAt: number | undefined, now: number): number =>
  expiresAt === undefined ? 0 : Math.max(0, Math.floor((expiresAt - now) / 2000)) * 1000;

/** Our own plugin answer, from the core: the registry's credential, or an empty answer. */
const answerInProcess = async (
  d: PluginSourceDeps,
  rt: ProviderRuntime,
  image: string,
  workload: Workload | undefined,
): Promise<PluginResponse> => {
  const registry = image.split("/")[0] ?? "";
  const empty: PluginResponse = { cacheKeyType: "Registry", cacheDurationMs: 0, auth: [] };
  const settings = await d.core.settings(rt.selfEnv ?? {});
  if (!settings) throw new Error("our own settings could not be read (logged above)");
  const ref = parseServerUrl(registry);
  if (!ref) return empty;
  let creds: Awaited<ReturnType<Core["credentials"]>>;
  try {
    creds = await d.core.credentials(ref.host, settings, workload);
  } catch (e) {
    if (e instanceof NotFoundError) return empty;
    throw e;
  }
  if (workload && creds.secret === workload.token) {
    throw new Error(
      `the ${creds.route.provider} provider returned the service-account token as the password; refusing`,
    );
  }
  return {
    cacheKeyType: "Registry",
    cacheDurationMs: cacheMsFor(creds.expiresAt, d.now()),
    auth: [[registry, { username: creds.username, password: creds.secret }]],
  };
};

/** The annotations a provider is sent: its required keys (all must be there) and optional ones present. */
const annotationsFor = (p: CredentialProvider, all: Readonly<Record<string, string>>): Record<string, string> => {
  const ta = p.tokenAttributes;
  const out: Record<string, string> = {};
  if (!ta) return out;
  for (const k of ta.requiredServiceAccountAnnotationKeys) {
    const v = all[k];
    if (v === undefined) throw new Error(`required service account annotation ${k} is missing`);
    out[k] = v;
  }
  for (const k of ta.optionalServiceAccountAnnotationKeys) {
    const v = all[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
};

const runProvider = async (
  d: PluginSourceDeps,
  rt: ProviderRuntime,
  image: string,
  workload: Workload | undefined,
): Promise<PluginResponse> => {
  const { provider: p } = rt;
  let response: PluginResponse;
  if (rt.selfEnv) {
    response = await bounded(answerInProcess(d, rt, image, workload), d.timeoutMs);
  } else {
    const input = encodePluginRequest(p.apiVersion, image, workload);
    const procEnv: Record<string, string | undefined> = { ...d.env };
    for (const { name, value } of p.env) procEnv[name] = value;
    const r: RunResult = await d.runner.run(rt.file, p.args, { env: procEnv, input, timeoutMs: d.timeoutMs });
    response = interpretPluginRun(r, p.name, image, p.apiVersion);
    if (workload && response.auth.some(([, a]) => a.password === workload.token)) {
      throw new Error(`credential provider plugin ${p.name} returned the service account token as the password`);
    }
  }
  return response;
};

/**
 * A provider's answer on a miss in memory: from the shared file cache when another process (or
 * another keyring) has it, else from a run, kept in memory and in the file for its duration.
 */
const answer = async (
  d: PluginSourceDeps,
  rt: ProviderRuntime,
  image: string,
  scope: string,
  workload: Workload | undefined,
): Promise<PluginResponse> => {
  const memory = cacheFor(rt, scope, d.now);
  const defaultMs = rt.provider.defaultCacheDurationMs ?? 0;
  const id = rt.sharedId;
  if (id === null) {
    const response = await runProvider(d, rt, image, workload);
    memory.put(image, response, defaultMs);
    return response;
  }
  const shared = new SharedPluginAnswers(await d.core.tokenCache(), d.now, d.log);
  const fromFile = async (): Promise<PluginResponse | undefined> => {
    const hit = await shared.get(id, scope, image);
    if (!hit) return undefined;
    d.log.debug(`kubelet provider ${rt.provider.name} for ${image}: answered from the token cache`);
    memory.keepUntil(image, hit.response, hit.expiresAt);
    return hit.response;
  };
  return (
    (await fromFile()) ??
    shared.withRunLock(id, scope, image, async () => {
      // Another process may have run it while we waited for the lock.
      const again = await fromFile();
      if (again) return again;
      const response = await runProvider(d, rt, image, workload);
      const until = memory.put(image, response, defaultMs);
      if (until !== null) await shared.put(id, scope, image, rt.provider.name, response, until);
      return response;
    })
  );
};

export interface ServiceAccount {
  token: string;
  annotations: Readonly<Record<string, string>>;
}

const digest = (s: string): string => createHash("sha256").update(s).digest("hex").slice(0, 32);

/** Every matching provider's keys for one image, in config order: [match key, credential]. */
export const pluginCredentials = async (
  d: PluginSourceDeps,
  runtimes: readonly ProviderRuntime[],
  ref: ImageRef,
  sa: ServiceAccount | undefined,
): Promise<[string, Found][]> => {
  const image = ref.repository;
  const matching = runtimes.filter((rt) => providerMatchesImage(rt.provider, image));
  const answers = await Promise.all(
    matching.map(async (rt): Promise<[string, Found][]> => {
      const name = rt.provider.name;
      try {
        const ta = rt.provider.tokenAttributes;
        let workload: Workload | undefined;
        // The kubelet keeps service-account answers apart per token (cacheType Token) or per
        // service account and annotations (ServiceAccount); a prefix of the digest does both here.
        let scope = "";
        if (ta) {
          if (!sa) {
            if (ta.requireServiceAccount !== false) {
              d.log.info(`kubelet provider ${name} needs a pod's service-account token; skipped`);
              return [];
            }
          } else {
            workload = { token: sa.token, annotations: annotationsFor(rt.provider, sa.annotations) };
            scope = digest(`${sa.token}\u0000${JSON.stringify(Object.entries(workload.annotations).sort())}`);
          }
        }
        const cached = cacheFor(rt, scope, d.now).get(image);
        const response =
          cached ??
          (await rt.flight.do(
            `${scope}\u0000${image}`,
            () => answer(d, rt, image, scope, workload),
            () => d.log.debug(`waiting for the running ${name} plugin for ${image}`),
          ));
        d.log.debug(
          `kubelet provider ${name} for ${image}: ${response.auth.length} key(s)${cached ? " (cached)" : ""}`,
        );
        return response.auth.map(([key, a]) => [
          key,
          { credential: { username: a.username, password: a.password }, source: `kubelet provider ${name}` },
        ]);
      } catch (e) {
        d.log.warn(`kubelet provider ${name}: ${oneLine(e)}; skipped`);
        return [];
      }
    }),
  );
  return answers.flat();
};
