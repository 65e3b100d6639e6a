// Run commands with bounded time, optionally inside a private mount namespace
// whose /etc/hosts maps real registry/cloud host names to loopback addresses.
// The machine's own /etc/hosts is never modified.
import { spawn, spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

/** Result of a finished child process (stdout/stderr are UTF-8, capped at 4 MiB each). */
export type RunResult = {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
};

/** Options for run()/runWithHosts(). env REPLACES process.env when given (default: process.env). */
export type RunOptions = {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number; // hard limit, default 60 s; the whole process group is SIGKILLed and the promise rejects
  input?: string | Buffer; // written to stdin, which is then closed (stdin is empty when omitted)
  cwd?: string;
};

const MAX_OUTPUT = 4 * 1024 * 1024;
const HOST_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/** Absolute path of an executable found on PATH (or undefined). */
export function which(name: string, path: string = process.env.PATH ?? "/usr/bin:/bin"): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** Runs cmd with args (no shell) in its own process group; never hangs longer than timeoutMs. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ["pipe", "pipe", "pipe"],
      detached: true, // own process group, so a timeout kills grandchildren too
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    child.stdout.on("data", (b: Buffer) => {
      if (outLen < MAX_OUTPUT) out.push(b);
      outLen += b.length;
    });
    child.stderr.on("data", (b: Buffer) => {
      if (errLen < MAX_OUTPUT) err.push(b);
      errLen += b.length;
    });
    let timedOut = false;
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${cmd}: ${e.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      killGroup(); // reap stragglers left in the group (e.g. backgrounded helpers)
      const stdout = Buffer.concat(out).toString("utf8");
      const stderr = Buffer.concat(err).toString("utf8");
      if (timedOut) {
        // Arguments are deliberately not echoed: they may carry credentials.
        reject(new Error(`${cmd} timed out after ${timeoutMs} ms; stderr tail: ${stderr.slice(-2000)}`));
        return;
      }
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.on("error", () => {}); // child may exit without reading stdin (EPIPE)
    child.stdin.end(opts.input ?? "");
  });
}

let namespaceSupport: boolean | undefined;

/** True when we are root and `unshare -m` + `mount --bind` actually work here (probed once, bounded). */
export function canUseNamespaces(): boolean {
  if (namespaceSupport !== undefined) return namespaceSupport;
  const unshare = which("unshare");
  const mount = which("mount");
  if (process.getuid?.() !== 0 || !unshare || !mount) {
    namespaceSupport = false;
    return false;
  }
  const probe = spawnSync(
    unshare,
    ["-m", "--propagation", "private", "/bin/sh", "-c", '"$0" --bind /etc/hosts /etc/hosts', mount],
    { stdio: "ignore", timeout: 5_000 },
  );
  namespaceSupport = probe.status === 0;
  return namespaceSupport;
}

/** Human-readable reason for `test(..., { skip })` when canUseNamespaces() is false. */
export const NAMESPACE_SKIP_REASON =
  "needs root with a working `unshare -m` + `mount --bind` (private /etc/hosts); CI runs as root";

/**
 * The `skip` option for an e2e suite: NAMESPACE_SKIP_REASON when canUseNamespaces() is false, else
 * the `tools` missing from PATH, else false (it runs).
 */
export function e2eSkip(tools: readonly string[]): string | false {
  if (!canUseNamespaces()) return NAMESPACE_SKIP_REASON;
  const missing = tools.filter((t) => !which(t));
  return missing.length > 0 ? `missing tools: ${missing.join(", ")}` : false;
}

/** Text of a hosts file: localhost entries plus one line per name → ip mapping (validated). */
export function hostsFileText(hosts: Record<string, string>): string {
  const lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback"];
  for (const [name, ip] of Object.entries(hosts)) {
    if (!HOST_NAME.test(name) || name.length > 253)
      throw new Error(`invalid host name for hosts file: ${JSON.stringify(name)}`);
    if (isIP(ip) === 0) throw new Error(`invalid IP for ${name}: ${JSON.stringify(ip)}`);
    lines.push(`${ip} ${name}`);
  }
  return `${lines.join("\n")}\n`;
}

/**
 * Runs cmd/args in a private mount namespace whose /etc/hosts maps each name → ip
 * (e.g. {"123456789012.dkr.ecr.us-east-1.amazonaws.com": "127.0.0.2"}).
 * cmd and args reach the inner shell only as "$@" (never interpolated into a shell string).
 * cmd is looked up on opts.env.PATH inside the namespace. Requires canUseNamespaces().
 */
export async function runWithHosts(
  hosts: Record<string, string>,
  cmd: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<RunResult> {
  const unshare = which("unshare");
  const mount = which("mount");
  if (!unshare || !mount) throw new Error("runWithHosts needs `unshare` and `mount` on PATH");
  const dir = await mkdtemp(join(tmpdir(), "dcc-hosts-"));
  try {
    const hostsFile = join(dir, "hosts");
    await writeFile(hostsFile, hostsFileText(hosts), { mode: 0o644 });
    // $1 = mount binary, $2 = hosts file, rest = command + args.
    const script = 'm="$1"; h="$2"; shift 2; "$m" --bind "$h" /etc/hosts && exec "$@"';
    return await run(
      unshare,
      ["-m", "--propagation", "private", "/bin/sh", "-c", script, "sh", mount, hostsFile, cmd, ...args],
      opts,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
