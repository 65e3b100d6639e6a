// Copying the logins of another credential helper (the credsStore being replaced) into our store:
// its `list`, then `get` for each server URL, then our store's put — the same store `docker login`
// reaches through `docker-credential-cloud store`. Secrets pass through memory only; nothing here
// prints or logs them.

import { execFile } from "node:child_process";
import { parseServerUrl } from "../../registry/hosts.ts";
import type { ConfigureContext } from "./context.ts";

const HELPER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const TIMEOUT_MS = 30_000;

/** Runs docker-credential-<name> <verb> with `input` on stdin; resolves stdout, rejects with one line. */
const runHelper = (ctx: ConfigureContext, name: string, verb: string, input: string): Promise<string> =>
  new Promise((resolve, reject) => {
    if (!HELPER_NAME.test(name)) {
      reject(new Error(`${JSON.stringify(name)} is not a credential helper name`));
      return;
    }
    const child = execFile(
      `docker-credential-${name}`,
      [verb],
      { env: { ...ctx.env }, timeout: TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024, encoding: "utf8" },
      (err, stdout) => {
        if (!err) {
          resolve(stdout);
          return;
        }
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT") reject(new Error(`docker-credential-${name} is not on PATH`));
        // The helper's stdout holds its error line (protocol); never its stderr, which may echo input.
        else
          reject(new Error(`docker-credential-${name} ${verb} failed: ${(stdout.split("\n")[0] ?? "").slice(0, 200)}`));
      },
    );
    child.stdin?.on("error", () => {});
    child.stdin?.end(input);
  });

/** Server URL → username, from the helper's `list`. */
export const helperLogins = async (ctx: ConfigureContext, name: string): Promise<Record<string, string>> => {
  const out = await runHelper(ctx, name, "list", "");
  let v: unknown;
  try {
    v = JSON.parse(out);
  } catch {
    throw new Error(`docker-credential-${name} list did not print a JSON object`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new Error(`docker-credential-${name} list did not print a JSON object`);
  }
  return Object.fromEntries(Object.entries(v).filter(([, u]) => typeof u === "string")) as Record<string, string>;
};

/** Copies each server's login; returns what was copied and what failed (with a reason, no secret). */
export const migrateLogins = async (
  ctx: ConfigureContext,
  name: string,
  servers: readonly string[],
): Promise<{ copied: string[]; failed: [string, string][] }> => {
  const store = await ctx.openStore();
  const copied: string[] = [];
  const failed: [string, string][] = [];
  for (const server of servers) {
    try {
      const ref = parseServerUrl(server);
      if (!ref) throw new Error("not a registry server URL");
      const raw = JSON.parse(await runHelper(ctx, name, "get", server)) as Record<string, unknown>;
      const username = raw.Username;
      const secret = raw.Secret;
      if (typeof username !== "string" || typeof secret !== "string") {
        throw new Error(`docker-credential-${name} get did not print {"Username","Secret"}`);
      }
      await store.put(ref, { serverURL: server, username, secret });
      copied.push(server);
    } catch (e) {
      failed.push([server, e instanceof SyntaxError ? "its answer was not JSON" : (e as Error).message]);
    }
  }
  return { copied, failed };
};
