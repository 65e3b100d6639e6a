// Docker credential helpers (docker/docker-credential-helpers protocol), run the way the Docker
// CLI runs them: `docker-credential-<name> get`, found on PATH, the server URL on stdin (no
// newline), `{"ServerURL","Username","Secret"}` on stdout.
// - "credentials not found" (on stdout, where the reference helpers print errors, or on stderr)
//   means no credentials, not a failure;
// - an empty Username and Secret means no credentials;
// - Username "<token>" means Secret is an identity token (a refresh token for the registry's
//   token server), which the CRI carries as identity_token.

import { fs, path } from "../builtins.ts";
import { describeRun, firstLine, type RunResult } from "./exec.ts";
import type { Credential } from "./match.ts";

export const HELPER_PREFIX = "docker-credential-";
export const IDENTITY_TOKEN_USERNAME = "<token>";

const NOT_FOUND_RE = /credentials not found/i;

/** A helper's program on PATH (absolute directories only, as Go's LookPath requires), or null. */
export const findOnPath = (program: string, env: Readonly<Record<string, string | undefined>>): string | null => {
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (dir === "" || !path.isAbsolute(dir)) continue;
    const candidate = path.join(dir, program);
    try {
      if (!fs.statSync(candidate).isFile()) continue;
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
};

/** A helper name Docker would turn into a program name; names with a path separator are refused. */
export const validHelperName = (name: string): boolean => name !== "" && !/[/\\]/.test(name) && name.trim() === name;

/**
 * What a finished `get` means: a credential, null for "none", or an Error whose message is one
 * line (never the helper's stdout on success, which would hold the secret).
 */
export const interpretHelperRun = (r: RunResult): Credential | null => {
  if (r.failure !== undefined) throw new Error(describeRun(r, r.stderr));
  if (r.code !== 0) {
    if (NOT_FOUND_RE.test(r.stdout) || NOT_FOUND_RE.test(r.stderr)) return null;
    throw new Error(describeRun(r, firstLine(r.stdout) || r.stderr));
  }
  let body: unknown;
  try {
    body = JSON.parse(r.stdout);
  } catch {
    if (NOT_FOUND_RE.test(r.stdout)) return null;
    throw new Error("exit status 0 but stdout is not the helper protocol's JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new Error("exit status 0 but stdout is not a JSON object");
  }
  const { Username, Secret } = body as Record<string, unknown>;
  const username = typeof Username === "string" ? Username : "";
  const secret = typeof Secret === "string" ? Secret : "";
  if (username === "" && secret === "") return null;
  if (username === IDENTITY_TOKEN_USERNAME) return secret === "" ? null : { identityToken: secret };
  return { username, password: secret };
};
