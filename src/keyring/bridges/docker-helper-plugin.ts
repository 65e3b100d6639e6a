// Docker helpers → the kubelet: `docker-credential-cloud kubelet --docker-helper NAME` is a kubelet
// credential provider plugin that fronts any Docker credential helper (docker-credential-NAME on
// PATH). A CredentialProviderRequest on stdin becomes `docker-credential-NAME get` for the image's
// registry (Docker Hub asked as https://index.docker.io/v1/, as the Docker CLI asks); its answer
// becomes a CredentialProviderResponse keyed by that registry.
//
// Cache duration: `--cache-duration D` (a Go duration) when given; else, when the secret is a JWT
// with an `exp` claim, half its remaining life (as our own plugin mode answers); else omitted, so
// the provider's defaultCacheDuration applies. "credentials not found" is an empty answer cached
// for 0s. An identity token (Username "<token>") has no place in the plugin protocol: empty
// answer, with a note on stderr. Returns { stdout, stderr, code }; the entry point writes.

import { parseArgs } from "node:util";
import type { Env } from "../../env.ts";
import { oneLine } from "../../errors.ts";
import { formatSeconds, isGoDuration, parseGoDuration } from "../../kubelet/duration.ts";
import { type CredentialProviderResponse, imageRegistry } from "../../kubelet/types.ts";
import { encodeResponse, parseRequest } from "../../kubelet/wire.ts";
import { scrub } from "../../log.ts";
import { helperServerUrl } from "../docker-config.ts";
import { Runner } from "../exec.ts";
import { findOnPath, HELPER_PREFIX, interpretHelperRun, validHelperName } from "../helper.ts";

/** Inside the kubelet's one-minute bound on the whole plugin run. */
const HELPER_TIMEOUT_MS = 50_000;

export interface BridgeResult {
  stdout: string;
  stderr: string;
  code: number;
}

const fail = (line: string): BridgeResult => ({
  stdout: "",
  stderr: `docker-credential-cloud: ${scrub(line)}\n`,
  code: 1,
});

/** A JWT's `exp` (epoch seconds), or undefined. */
const jwtExp = (secret: string): number | undefined => {
  const parts = secret.split(".");
  if (parts.length !== 3) return undefined;
  try {
    const exp = (JSON.parse(Buffer.from(parts[1] as string, "base64url").toString("utf8")) as { exp?: unknown }).exp;
    return typeof exp === "number" && Number.isFinite(exp) ? exp : undefined;
  } catch {
    return undefined;
  }
};

export const runDockerHelperPlugin = async (
  args: readonly string[],
  input: string,
  env: Env,
  now: () => number = Date.now,
): Promise<BridgeResult> => {
  let values: { "docker-helper"?: string; "cache-duration"?: string };
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: { "docker-helper": { type: "string" }, "cache-duration": { type: "string" } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    return fail(`${oneLine(e)}; expected args: ["kubelet", "--docker-helper", "NAME"] [--cache-duration D]`);
  }
  const name = values["docker-helper"];
  if (name === undefined || !validHelperName(name))
    return fail("--docker-helper takes a helper name (NAME of docker-credential-NAME)");
  const raw = values["cache-duration"];
  if (raw !== undefined && (!isGoDuration(raw) || parseGoDuration(raw) < 0n)) {
    return fail(`--cache-duration ${JSON.stringify(raw.slice(0, 40))} is not a non-negative Go duration`);
  }
  // Whole seconds in Go's String() form, as the kubelet reads and our own plugin mode writes.
  const fixed = raw === undefined ? undefined : formatSeconds(Number(parseGoDuration(raw) / 1_000_000_000n));
  let req: ReturnType<typeof parseRequest>;
  try {
    req = parseRequest(input);
  } catch (e) {
    return fail(oneLine(e));
  }
  const registry = imageRegistry(req.image);
  const server = helperServerUrl(registry);
  const program = `${HELPER_PREFIX}${name}`;
  const file = findOnPath(program, env);
  if (file === null) return fail(`${program} is not on PATH`);
  const empty: CredentialProviderResponse = {
    apiVersion: req.apiVersion,
    cacheKeyType: "Registry",
    cacheDuration: "0s",
  };
  let stderr = "";
  let credential: ReturnType<typeof interpretHelperRun>;
  try {
    credential = interpretHelperRun(
      await new Runner().run(file, ["get"], { env, input: server, timeoutMs: HELPER_TIMEOUT_MS }),
    );
  } catch (e) {
    return fail(`${program} get ${server}: ${oneLine(e)}`);
  }
  if (credential === null) return { stdout: encodeResponse(empty), stderr, code: 0 };
  if (credential.username === undefined || credential.password === undefined) {
    stderr = `docker-credential-cloud: ${program} answered ${server} with an identity token, which the kubelet cannot use; no credentials\n`;
    return { stdout: encodeResponse(empty), stderr, code: 0 };
  }
  const exp = jwtExp(credential.password);
  const cacheDuration =
    fixed ?? (exp === undefined ? undefined : formatSeconds(Math.max(0, Math.floor((exp * 1000 - now()) / 2000))));
  const response: CredentialProviderResponse = {
    apiVersion: req.apiVersion,
    cacheKeyType: "Registry",
    ...(cacheDuration === undefined ? {} : { cacheDuration }),
    auth: { [registry]: { username: credential.username, password: credential.password } },
  };
  return { stdout: encodeResponse(response), stderr, code: 0 };
};
