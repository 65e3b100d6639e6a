// The Docker credential-helper protocol (docker/docker-credential-helpers), string in, string out.
// Every error is one line on stdout with exit code 1, as clients expect; the entry point writes.

import { isUsable } from "../cache/entry.ts";
import { type CredentialDeps, hostCredentials } from "../credentials.ts";
import { ConfigError, NoIdentityError, NotFoundError, oneLine, UsageError } from "../errors.ts";
import { parseServerUrl } from "../hosts.ts";
import { WIRE } from "../wire.ts";

export const DOCKER_ACTIONS = ["get", "store", "erase", "list", "version"] as const;
export type DockerAction = (typeof DOCKER_ACTIONS)[number];

export interface Result {
  stdout: string;
  code: number;
}

export const VERSION_LINE = (version: string) => `docker-credential-cloud ${version}\n`;

const ok = (stdout: string): Result => ({ stdout, code: 0 });
const fail = (line: string): Result => ({ stdout: `${line}\n`, code: 1 });

const get = async (input: string, deps: CredentialDeps): Promise<Result> => {
  const serverURL = input.trim();
  if (serverURL === "") return fail(WIRE.missingServerURL);
  const ref = parseServerUrl(serverURL);
  if (!ref) return fail(WIRE.notFound);
  const c = await hostCredentials(ref.host, deps);
  return ok(`${JSON.stringify({ ServerURL: serverURL, Username: c.username, Secret: c.secret })}\n`);
};

const erase = async (input: string, deps: CredentialDeps): Promise<Result> => {
  const serverURL = input.trim();
  if (serverURL === "") return fail(WIRE.missingServerURL);
  const ref = parseServerUrl(serverURL);
  if (!ref) return fail(WIRE.notFound);
  const n = await deps.cache.remove((_k, e) => e.kind === "token" && e.host === ref.host);
  deps.log.debug(`erased ${n} cached token(s) for ${ref.host}`);
  return ok("");
};

/** Local only: never the network. Cloud registries with a live cached token, with their username. */
const list = async (deps: CredentialDeps): Promise<Result> => {
  const out: Record<string, string> = {};
  const now = deps.now();
  for (const e of Object.values(await deps.cache.readAll())) {
    if (e.kind === "token" && isUsable(e, now)) out[e.host] = e.username;
  }
  return ok(`${JSON.stringify(out)}\n`);
};

export const handleDockerAction = async (
  action: string,
  input: string,
  deps: CredentialDeps,
  version: string,
): Promise<Result> => {
  try {
    switch (action) {
      case "get":
        return await get(input, deps);
      case "erase":
        return await erase(input, deps);
      case "list":
        return await list(deps);
      case "store":
        return fail("docker-credential-cloud: store is not supported yet; static credentials need the keyring backend");
      case "version":
        return ok(VERSION_LINE(version));
      default:
        return fail(WIRE.unknownAction(action));
    }
  } catch (e) {
    if (e instanceof NotFoundError) {
      deps.log.debug(oneLine(e));
      return fail(WIRE.notFound);
    }
    if (e instanceof NoIdentityError) {
      deps.log.warn(oneLine(e));
      return fail(WIRE.notFound);
    }
    if (e instanceof UsageError || e instanceof ConfigError) return fail(oneLine(e));
    return fail(`docker-credential-cloud: ${oneLine(e)}`);
  }
};
