// The node's Docker configuration as the kubelet's first keyring: the credential helper Docker
// would use for the registry (credHelpers, else credsStore), then the `auths` entries of each
// config file in order. A helper that is this program is answered by the core in process.

import type { Env } from "../../env.ts";
import { oneLine } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import type { ImageRef } from "../../registry/image.ts";
import { bounded, type Core } from "../core.ts";
import { type DockerConfig, helperFor, helperServerUrl } from "../docker-config.ts";
import type { Runner, SingleFlight } from "../exec.ts";
import { findOnPath, HELPER_PREFIX, interpretHelperRun, validHelperName } from "../helper.ts";
import { type Credential, type Found, KeyIndex } from "../match.ts";
import { isSelfProgram } from "../self.ts";

export interface DockerSourceDeps {
  env: Env;
  log: Logger;
  core: Core;
  runner: Runner;
  flight: SingleFlight<Credential | null>;
  builtins: boolean;
  timeoutMs: number;
}

const askHelper = async (d: DockerSourceDeps, name: string, registry: string): Promise<Credential | null> => {
  const server = helperServerUrl(registry);
  const program = `${HELPER_PREFIX}${name}`;
  const file = findOnPath(program, d.env);
  // In process when the program on PATH is this one, or when it is named docker-credential-cloud
  // and is not on PATH; a different program of that name on PATH is run.
  const self = d.builtins && isSelfProgram(program, file);
  if (!self && file === null) throw new Error(`${program} is not on PATH`);
  const key = `${self ? "self" : file}\u0000${server}`;
  return d.flight.do(
    key,
    async () => {
      if (self) {
        const settings = await d.core.settings();
        return settings ? bounded(d.core.helperGet(server, settings), d.timeoutMs) : null;
      }
      return interpretHelperRun(
        await d.runner.run(file as string, ["get"], { env: d.env, input: server, timeoutMs: d.timeoutMs }),
      );
    },
    () => d.log.debug(`waiting for the running ${program} get for ${server}`),
  );
};

const helperCredentials = async (d: DockerSourceDeps, ref: ImageRef, configs: readonly DockerConfig[]) => {
  const names: string[] = [];
  for (const c of configs) {
    const name = helperFor(c, ref.registry);
    if (name === undefined || names.includes(name)) continue;
    if (!validHelperName(name)) {
      d.log.warn(`${c.file}: credential helper name ${JSON.stringify(name)} is not a program name; skipped`);
      continue;
    }
    names.push(name);
  }
  const answers = await Promise.all(
    names.map(async (name): Promise<Found | null> => {
      try {
        const c = await askHelper(d, name, ref.registry);
        d.log.debug(`${HELPER_PREFIX}${name} for ${ref.registry}: ${c ? "credentials" : "none"}`);
        return c ? { credential: c, source: `${HELPER_PREFIX}${name}` } : null;
      } catch (e) {
        d.log.warn(`${HELPER_PREFIX}${name} get ${helperServerUrl(ref.registry)}: ${oneLine(e)}; skipped`);
        return null;
      }
    }),
  );
  return answers.filter((f): f is Found => f !== null);
};

/** The Docker-config keyring for one image: helper answers under the registry, then every `auths` entry. */
export const dockerKeyring = async (
  d: DockerSourceDeps,
  ref: ImageRef,
  configs: readonly DockerConfig[],
): Promise<KeyIndex> => {
  const index = new KeyIndex();
  for (const f of await helperCredentials(d, ref, configs)) index.add(ref.registry, f);
  for (const c of configs) {
    for (const a of c.auths) {
      if (!index.add(a.key, { credential: a.credential, source: `${c.file} auths` })) {
        d.log.debug(`${c.file}: auths key ${JSON.stringify(a.key)} does not parse; dropped`);
      }
    }
  }
  return index;
};
