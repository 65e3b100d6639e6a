// The Docker credential-helper protocol (docker/docker-credential-helpers), string in, string out.
// Every error is one line on stdout with exit code 1, as clients expect; the entry point writes.
// Server URLs are normalised the same way for all four verbs (hosts.ts parseServerUrl + storeKey):
// scheme, trailing slash and :443 never create a second entry; index.docker.io/v1/ is docker.io.

import { isUsable } from "../cache/entry.ts";
import { type CredentialDeps, credentialsFor } from "../credentials.ts";
import { ConfigError, NoIdentityError, NotFoundError, oneLine, UsageError } from "../errors.ts";
import { scrub } from "../log.ts";
import { parseServerUrl, storeKey } from "../registry/hosts.ts";
import { type CredentialStore, noStore } from "../store/store.ts";
import { WIRE } from "./docker-wire.ts";

export const DOCKER_ACTIONS = ["get", "store", "erase", "list", "version"] as const;
export type DockerAction = (typeof DOCKER_ACTIONS)[number];
/** The verbs whose input arrives on stdin (the entry point reads it only for these). */
export const STDIN_ACTIONS: readonly string[] = ["get", "store", "erase"] satisfies DockerAction[];

export interface Result {
  stdout: string;
  code: number;
}

export const VERSION_LINE = (version: string) => `docker-credential-cloud ${version}\n`;

const ok = (stdout: string): Result => ({ stdout, code: 0 });
// Every error line is scrubbed like a log line: SDK and credential_process errors can echo what
// they were given (a command line, its stderr), and stdout ends up in the client's output.
const fail = (line: string): Result => ({ stdout: `${scrub(line)}\n`, code: 1 });

// `get` order: credentials stored by `docker login` for this exact registry (the user meant
// them), then the cloud route, then not found. The store check reads one small index file.
const get = async (input: string, deps: CredentialDeps, creds: CredentialStore): Promise<Result> => {
  const serverURL = input.trim();
  if (serverURL === "") return fail(WIRE.missingServerURL);
  const ref = parseServerUrl(input); // not the trimmed text: trim() also drops Unicode spaces
  if (!ref) return fail(WIRE.notFound);
  const stored = await creds.get(ref);
  if (stored) return ok(credentialsJson(stored.serverURL, stored.username, stored.secret));
  // The one caller a person may be behind: an MFA code may be asked for on the terminal.
  const c = await credentialsFor(ref.host, { interaction: "terminal" }, deps);
  return ok(credentialsJson(serverURL, c.username, c.secret));
};

/**
 * `get` when the config file is broken: only what `docker login` stored (the config does not
 * affect it); null when nothing is stored for the registry.
 */
export const getStoredOnly = async (input: string, creds: CredentialStore): Promise<Result | null> => {
  const ref = input.trim() === "" ? null : parseServerUrl(input);
  const stored = ref ? await creds.get(ref) : null;
  return stored ? ok(credentialsJson(stored.serverURL, stored.username, stored.secret)) : null;
};

/** `list` when the config file is broken: the registries `docker login` stored, nothing else. */
export const listStoredOnly = async (creds: CredentialStore): Promise<Result> => {
  const out: Record<string, string> = {};
  for (const e of Object.values(await creds.list())) out[e.serverURL] = e.username;
  return ok(`${JSON.stringify(out)}\n`);
};

const credentialsJson = (serverURL: string, username: string, secret: string): string =>
  `${JSON.stringify({ ServerURL: serverURL, Username: username, Secret: secret })}\n`;

const badStoreInput = (why: string): Result =>
  fail(`docker-credential-cloud: store: ${why}; expected {"ServerURL","Username","Secret"} as JSON`);

/** `docker login`: any registry, kept as sent (identity tokens, Username "<token>", included). */
const store = async (input: string, creds: CredentialStore): Promise<Result> => {
  let body: unknown;
  try {
    body = JSON.parse(input);
  } catch {
    // Not the parser's message: it quotes the input, which holds the secret.
    return badStoreInput("the input is not valid JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body))
    return badStoreInput("the input is not an object");
  const { ServerURL, Username, Secret } = body as Record<string, unknown>;
  for (const [name, v] of [
    ["ServerURL", ServerURL],
    ["Username", Username],
    ["Secret", Secret],
  ] as const) {
    if (v !== undefined && v !== null && typeof v !== "string") return badStoreInput(`${name} is not a string`);
  }
  // The same checks, in the same order, as the reference helpers (clients match these texts).
  if (!ServerURL) return fail(WIRE.missingServerURL);
  if (!Username) return fail(WIRE.missingUsername);
  const ref = parseServerUrl(ServerURL as string);
  if (!ref) return badStoreInput(`${JSON.stringify(ServerURL)} is not a registry server URL`);
  await creds.put(ref, {
    serverURL: ServerURL as string,
    username: Username as string,
    secret: typeof Secret === "string" ? Secret : "",
  });
  return ok("");
};

/**
 * `docker logout`: the stored credentials and any cached cloud token for that registry. The stored
 * secret goes first and decides the outcome: the cached tokens are short-lived and fetched again
 * anyway, so an unusable cache directory is a warning, never a logout that keeps the password.
 */
const erase = async (input: string, deps: CredentialDeps, creds: CredentialStore): Promise<Result> => {
  const serverURL = input.trim();
  if (serverURL === "") return fail(WIRE.missingServerURL);
  const ref = parseServerUrl(input); // not the trimmed text: trim() also drops Unicode spaces
  if (!ref) return fail(WIRE.notFound);
  await creds.erase(ref);
  try {
    const n = await deps.cache.remove((_k, e) => e.kind === "token" && e.host === ref.host);
    deps.log.debug(`erased ${n} cached token(s) for ${ref.host}`);
  } catch (e) {
    deps.log.warn(`could not remove the cached tokens for ${ref.host}: ${oneLine(e)}`);
  }
  return ok("");
};

/**
 * Local only: never the network, never the keyring. Stored registries (from the index) with the
 * server URL they were stored under, plus cloud registries with a live cached token.
 */
const list = async (deps: CredentialDeps, creds: CredentialStore): Promise<Result> => {
  const out: Record<string, string> = {};
  const stored = await creds.list();
  for (const e of Object.values(stored)) out[e.serverURL] = e.username;
  const now = deps.now();
  for (const e of Object.values(await deps.cache.readAll())) {
    if (e.kind !== "token" || !isUsable(e, now)) continue;
    const ref = parseServerUrl(e.host);
    if (ref && storeKey(ref) in stored) continue; // stored credentials win in `get`, so they are what we list
    out[e.host] = e.username;
  }
  return ok(`${JSON.stringify(out)}\n`);
};

export const handleDockerAction = async (
  action: string,
  input: string,
  deps: CredentialDeps,
  version: string,
  creds: CredentialStore = noStore,
): Promise<Result> => {
  try {
    switch (action) {
      case "get":
        return await get(input, deps, creds);
      case "erase":
        return await erase(input, deps, creds);
      case "list":
        return await list(deps, creds);
      case "store":
        return await store(input, creds);
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
