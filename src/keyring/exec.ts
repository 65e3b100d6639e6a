// Running credential helpers and kubelet plugins: argv arrays (never a shell), the caller's
// environment, a bounded run, bounded output, and the whole process group killed on timeout.
//
// Each child leads its own process group (detached), so a timeout kills what it started too: a
// helper that is a shell script waiting on `sleep` would otherwise keep our pipes open after its
// own death and hold the lookup up. Output beyond the caps kills the run as well.

import { spawn } from "node:child_process";

export interface RunOptions {
  env: Readonly<Record<string, string | undefined>>;
  input: string;
  timeoutMs: number;
  maxStdout?: number;
  maxStderr?: number;
}

export interface RunResult {
  /** The exit code; null when killed. */
  code: number | null;
  stdout: string;
  stderr: string;
  /** Why the run did not complete: timeout, output cap, or the program could not be started. */
  failure?: string;
}

export const MAX_STDOUT = 1 << 20;
export const MAX_STDERR = 16 << 10;

const killGroup = (pid: number | undefined): void => {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
};

const plainEnv = (env: Readonly<Record<string, string | undefined>>): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
};

/** Runs programs and remembers the running ones so that they can all be killed at once. */
export class Runner {
  readonly #running = new Set<() => void>();

  run(file: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
    const maxOut = opts.maxStdout ?? MAX_STDOUT;
    const maxErr = opts.maxStderr ?? MAX_STDERR;
    return new Promise<RunResult>((resolve) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let outLen = 0;
      let errLen = 0;
      let done = false;
      let timer: NodeJS.Timeout | undefined;
      const child = spawn(file, [...args], {
        env: plainEnv(opts.env),
        stdio: ["pipe", "pipe", "pipe"],
        detached: true,
        shell: false,
        windowsHide: true,
      });
      const finish = (code: number | null, failure?: string): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.#running.delete(abort);
        const r: RunResult = {
          code,
          stdout: Buffer.concat(out).toString("utf8"),
          stderr: Buffer.concat(err).toString("utf8"),
        };
        if (failure !== undefined) r.failure = failure;
        resolve(r);
      };
      // Kill, stop reading and answer now: pipes held open by an escaped grandchild must not hold the lookup.
      const stop = (failure: string): void => {
        killGroup(child.pid);
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish(null, failure);
      };
      const abort = () => stop("stopped: the keyring was closed");
      this.#running.add(abort);
      timer = setTimeout(() => stop(`killed after the ${opts.timeoutMs / 1000}s timeout`), opts.timeoutMs);
      child.on("error", (e: NodeJS.ErrnoException) => finish(null, `cannot run ${file}: ${e.code ?? e.message}`));
      child.stdout?.on("data", (d: Buffer) => {
        outLen += d.length;
        if (outLen > maxOut) stop(`killed: printed more than ${maxOut} bytes on stdout`);
        else out.push(d);
      });
      child.stderr?.on("data", (d: Buffer) => {
        if (errLen < maxErr) err.push(d.subarray(0, maxErr - errLen));
        errLen += d.length;
      });
      child.on("close", (code) => finish(code));
      // A program that exits without reading its input makes the write fail (EPIPE): not our error.
      child.stdin?.on("error", () => {});
      child.stdin?.end(opts.input);
    });
  }

  killAll(): void {
    for (const abort of [...this.#running]) abort();
  }
}

/** Concurrent callers with the same key share one run. `onJoin` is told when a caller joins a running one. */
export class SingleFlight<T> {
  readonly #inFlight = new Map<string, Promise<T>>();

  do(key: string, fn: () => Promise<T>, onJoin?: () => void): Promise<T> {
    const running = this.#inFlight.get(key);
    if (running) {
      onJoin?.();
      return running;
    }
    const p = fn().finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, p);
    return p;
  }
}

/** The first non-empty line of a program's complaint, shortened: for one-line log messages. */
export const firstLine = (s: string, max = 300): string => {
  const line =
    s
      .split("\n")
      .map((l) => l.trim())
      .find((l) => l !== "") ?? "";
  return line.length > max ? `${line.slice(0, max)}…` : line;
};

/** Go's exec error text for a finished run (what the kubelet logs), plus the program's own line. */
export const describeRun = (r: RunResult, complaint: string): string => {
  const head = r.failure ?? `exit status ${r.code}`;
  const line = firstLine(complaint);
  return line ? `${head}: ${line}` : head;
};
