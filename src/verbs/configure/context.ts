// What the entry point hands to `configure`: plain values and two factories. The verb never
// touches process.* itself.

import type { Env } from "../../settings.ts";
import type { CredentialStore } from "../../store/store.ts";

export interface VerbResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface ConfigureContext {
  env: Env;
  home: string;
  /** Effective uid, undefined where there are none (Windows). */
  uid: number | undefined;
  /** The real path of this program's launcher (what the kubelet links point at). */
  self: string;
  now: () => number;
  /** Our static-credential store (`docker login` → store), opened only for --migrate. */
  openStore: () => Promise<CredentialStore>;
}

/** One line for a human: the verb's report goes to stdout, warnings to stderr. */
export class Report {
  out: string[] = [];
  err: string[] = [];
  say(line: string): void {
    this.out.push(line);
  }
  warn(line: string): void {
    this.err.push(`warning: ${line}`);
  }
  result(code = 0): VerbResult {
    const j = (l: string[]) => (l.length ? `${l.join("\n")}\n` : "");
    return { stdout: j(this.out), stderr: j(this.err), code };
  }
}

/** Docker and containers/image exec `docker-credential-cloud` by name: warn when PATH lacks it. */
export const warnIfNotOnPath = async (ctx: ConfigureContext, r: Report): Promise<void> => {
  const { access, constants } = await import("node:fs/promises");
  const { delimiter, join } = await import("node:path");
  for (const dir of (ctx.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    try {
      await access(join(dir, "docker-credential-cloud"), constants.X_OK);
      return;
    } catch {}
  }
  r.warn(
    `docker-credential-cloud is not on PATH, and the clients run it by that name: link it, e.g. sudo ln -s ${ctx.self} /usr/local/bin/docker-credential-cloud`,
  );
};
