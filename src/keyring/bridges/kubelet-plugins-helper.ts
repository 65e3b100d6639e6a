// Kubelet plugins → Docker clients: with `kubelet: {providerConfig, binDir}` in our config file,
// `get HOST` also asks the node's kubelet credential providers (ecr-credential-provider, any
// third-party plugin) whose matchImages match the registry, run exactly as the keyring runs them,
// and answers in Docker shape. Asked only when stored credentials and our own cloud routes have
// nothing, so `docker login` and the built-in clouds keep their place. The first credential the
// kubelet would try wins. Each `get` is a fresh process: plugin answers are kept in the shared
// file token cache (shared-plugin-cache.ts) under the kubelet's cache rules, so a second `get`
// within the answer's cacheDuration runs no plugin and loads no SDK.

import type { Env } from "../../env.ts";
import type { Logger } from "../../log.ts";
import { parseServerUrl } from "../../registry/hosts.ts";
import { normalizeImage } from "../../registry/image.ts";
import { Core } from "../core.ts";
import { Runner } from "../exec.ts";
import { KeyIndex } from "../match.ts";
import { discoverProviders, pluginCredentials } from "../sources/plugins.ts";

export interface KubeletBridge {
  providerConfig: string;
  binDir: string;
}

/** `{"ServerURL","Username","Secret"}` for `input`, or null when no plugin has credentials for it. */
export const getThroughKubeletPlugins = async (
  input: string,
  bridge: KubeletBridge,
  env: Env,
  home: string,
  log: Logger,
): Promise<string | null> => {
  const serverURL = input.trim();
  const ref = parseServerUrl(input);
  if (!ref) return null;
  // The registry as an image name the kubelet would match: the host, Docker Hub spelled docker.io.
  let image: ReturnType<typeof normalizeImage>;
  try {
    image = normalizeImage(`${ref.host}/x`);
  } catch {
    return null;
  }
  const registryOnly = { ...image, repository: image.registry, path: "" };
  const runner = new Runner();
  const deps = {
    env,
    log,
    core: new Core(env, home, log, Date.now),
    runner,
    builtins: false,
    timeoutMs: 60_000,
    now: Date.now,
  };
  try {
    const runtimes = await discoverProviders(deps, bridge.providerConfig, bridge.binDir);
    const found = await pluginCredentials(deps, runtimes, registryOnly, undefined);
    const index = new KeyIndex();
    for (const [key, f] of found) index.add(key, f);
    const first = index.lookup(registryOnly.repository)[0];
    if (!first) return null;
    log.debug(`answering ${serverURL} with ${first.source}`);
    const c = first.credential;
    return `${JSON.stringify({ ServerURL: serverURL, Username: c.username ?? "", Secret: c.password ?? "" })}\n`;
  } finally {
    runner.killAll();
  }
};
