// A real Docker registry (distribution v2.8, /usr/bin/docker-registry) with htpasswd auth and TLS,
// listening on <ip>:443 so that real registry host names (mapped to <ip> by namespace.ts) work unchanged.
//
// Passwords are bcrypt-hashed (htpasswd -B). bcrypt only looks at the first 72 bytes of a password,
// so two passwords sharing their first 72 bytes are interchangeable here; make "wrong password"
// fixtures differ early. Long real-looking tokens (ECR tokens are ~2 KB) are still accepted.
//
// Each test FILE needs its own ip (node --test runs files in parallel). Assigned:
//   127.0.0.2 test/e2e/harness.test.ts      127.0.0.3 test/e2e/ecr-skopeo.test.ts
//   127.0.0.4 test/e2e/google-skopeo.test.ts 127.0.0.5 test/e2e/acr-skopeo.test.ts
//   127.0.0.6 test/e2e/store-*.test.ts       127.0.0.7 test/e2e/kubelet-*.test.ts
//   127.0.0.8 test/e2e/configure-clients.test.ts  127.0.0.9 test/e2e/configure-docker-pull.test.ts
//   127.0.0.10 test/e2e/pull-secrets-skopeo.test.ts
//   127.0.0.11 and up: free — add yours here.

import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import type { OciImageInfo } from "./image.ts";
import { writeOciLayout } from "./image.ts";
import type { RunResult } from "./namespace.ts";
import { run, runWithHosts, which } from "./namespace.ts";
import type { Ca } from "./tls.ts";
import { issueCert } from "./tls.ts";

/** A running registry. `certDir` holds ca.crt for skopeo --src-cert-dir/--dest-cert-dir. */
export type Registry = {
  ip: string;
  hostnames: string[];
  certDir: string;
  hosts: Record<string, string>; // hostname → ip, ready for runWithHosts()
  stop(): Promise<void>; // idempotent: kills the server (process group) and deletes its temp dir
  logs(): string; // server stdout+stderr so far (tail, for failure messages)
};

const REGISTRY_BIN = "/usr/bin/docker-registry";
const MAX_LOG = 256 * 1024;
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Last-resort cleanup if a test forgets stop() or the process exits abruptly. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of live) killGroup(child, "SIGKILL");
  });
}

async function htpasswdLines(users: Record<string, string>): Promise<string> {
  let out = "";
  for (const [user, password] of Object.entries(users)) {
    if (!/^[A-Za-z0-9._@-]+$/.test(user)) throw new Error(`unsupported registry user name ${JSON.stringify(user)}`);
    // -i reads the password from stdin, keeping it off the command line. htpasswd refuses passwords
    // over 255 bytes, but bcrypt ignores everything after byte 72 anyway, so hash only those bytes:
    // the registry (Go bcrypt) then accepts the full-length password, e.g. a 2 KB ECR token.
    const input = Buffer.from(password, "utf8").subarray(0, 72);
    const r = await run("htpasswd", ["-nBi", "-C", "4", user], {
      input,
      timeoutMs: 30_000,
    });
    if (r.code !== 0) throw new Error(`htpasswd failed for ${user}: ${r.stderr.trim()}`);
    out += `${r.stdout.trim()}\n`;
  }
  return out;
}

function probeTls(ip: string, servername: string, ca: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: ip, port: 443, servername, ca, timeout: 1_000 });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.once("secureConnect", () => done(true));
    s.once("error", () => done(false));
    s.once("timeout", () => done(false));
  });
}

/** Starts docker-registry on <ip>:443 serving `hostnames` with basic auth for `users` (name → password). */
export async function startRegistry(opts: {
  ca: Ca;
  ip: string;
  hostnames: string[];
  users: Record<string, string>;
  timeoutMs?: number; // readiness limit, default 15 s
}): Promise<Registry> {
  const { ca, ip, hostnames, users } = opts;
  if (hostnames.length === 0) throw new Error("startRegistry needs at least one hostname");
  const dir = await mkdtemp(join(tmpdir(), "dcc-registry-"));
  let child: ChildProcess | undefined;
  let log = "";
  let exited: Promise<void> = Promise.resolve();
  let stopped: Promise<void> | undefined;

  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (child && child.exitCode === null && child.signalCode === null) {
        const c = child;
        killGroup(c, "SIGTERM");
        const t = setTimeout(() => killGroup(c, "SIGKILL"), 5_000);
        await exited;
        clearTimeout(t);
      }
      if (child) live.delete(child);
      await rm(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  try {
    const certDir = join(dir, "certs");
    await mkdir(certDir);
    await copyFile(ca.certFile, join(certDir, "ca.crt"));
    const leaf = await issueCert(ca, [...hostnames, ip]);
    const htpasswdFile = join(dir, "htpasswd");
    await writeFile(htpasswdFile, await htpasswdLines(users), { mode: 0o600 });
    const config = {
      version: 0.1,
      log: { level: "warn", formatter: "text", accesslog: { disabled: true } },
      storage: {
        filesystem: { rootdirectory: join(dir, "data") },
        delete: { enabled: true },
      },
      http: {
        addr: `${ip}:443`,
        secret: randomBytes(16).toString("hex"),
        tls: { certificate: leaf.certFile, key: leaf.keyFile },
      },
      auth: {
        htpasswd: { realm: "docker-credential-cloud-test", path: htpasswdFile },
      },
    };
    const configFile = join(dir, "config.yml"); // JSON is valid YAML
    await writeFile(configFile, JSON.stringify(config, null, 2));

    // Clean env: REGISTRY_* variables would override the config. setpriv --pdeathsig kills the
    // registry if this test process dies without running its cleanup.
    const setpriv = which("setpriv");
    const [cmd, args] = setpriv
      ? [setpriv, ["--pdeathsig", "KILL", "--", REGISTRY_BIN, "serve", configFile]]
      : [REGISTRY_BIN, ["serve", configFile]];
    installExitHook();
    const c = spawn(cmd, args, {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    child = c;
    live.add(c);
    const append = (b: Buffer) => {
      log = (log + b.toString("utf8")).slice(-MAX_LOG);
    };
    c.stdout?.on("data", append);
    c.stderr?.on("data", append);
    exited = new Promise<void>((resolve) => {
      c.once("close", () => resolve());
      c.once("error", (e) => {
        log += `\nspawn error: ${e.message}`;
        resolve();
      });
    });

    const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
    for (;;) {
      if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) {
        await exited;
        throw new Error(`docker-registry exited early (is ${ip}:443 in use?):\n${log.slice(-4000)}`);
      }
      if (await probeTls(ip, hostnames[0] as string, ca.certPem)) break;
      if (Date.now() > deadline)
        throw new Error(`docker-registry not ready on ${ip}:443 in time:\n${log.slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const hosts = Object.fromEntries(hostnames.map((h) => [h, ip]));
    return {
      ip,
      hostnames: [...hostnames],
      certDir,
      hosts,
      stop,
      logs: () => log,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * Pushes a fresh minimal image (see image.ts) to `docker://<ref>` (ref = host/repo:tag, host one of
 * registry.hostnames) with skopeo, resolving the host through the hosts namespace. Returns its digests.
 * Note: skopeo --dest-creds splits at the first ':', so `user` must not contain one.
 */
export async function pushImage(
  registry: Registry,
  ref: string,
  user: string,
  password: string,
  opts: { hello?: string; timeoutMs?: number } = {},
): Promise<OciImageInfo> {
  if (user.includes(":")) throw new Error("user must not contain ':'");
  const dir = await mkdtemp(join(tmpdir(), "dcc-image-"));
  try {
    const info = await writeOciLayout(join(dir, "layout"), opts.hello === undefined ? {} : { hello: opts.hello });
    const r = await runWithHosts(
      registry.hosts,
      "skopeo",
      [
        "copy",
        "--quiet",
        "--dest-cert-dir",
        registry.certDir,
        "--dest-creds",
        `${user}:${password}`,
        `oci:${join(dir, "layout")}:latest`,
        `docker://${ref}`,
      ],
      {
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          HOME: dir,
          TMPDIR: dir,
        },
        timeoutMs: opts.timeoutMs ?? 60_000,
      },
    );
    if (r.code !== 0) {
      const redacted = password ? r.stderr.split(password).join("<redacted>") : r.stderr;
      throw new Error(`skopeo push to ${ref} failed (${r.code}): ${redacted.slice(-2000)}`);
    }
    return info;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Pulls `docker://<image>` (host one of registry.hostnames) with `skopeo copy`, resolving the host
 * through the hosts namespace: writes `auth` as the --authfile and picks a fresh oci: destination,
 * both in a new directory under `dir`. The image lands in `dest` with tag "x". `env` REPLACES the
 * environment (PATH, HOME, proxies … are the caller's); `r` is skopeo's result, whatever its code.
 */
export async function skopeoPull(
  registry: Registry,
  opts: { image: string; auth: object; dir: string; env: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<{ r: RunResult; dest: string }> {
  const pullDir = await mkdtemp(join(opts.dir, "pull-"));
  const authfile = join(pullDir, "auth.json");
  await writeFile(authfile, JSON.stringify(opts.auth));
  const dest = join(pullDir, "oci");
  const r = await runWithHosts(
    registry.hosts,
    "skopeo",
    [
      "copy",
      "--quiet",
      "--authfile",
      authfile,
      "--src-cert-dir",
      registry.certDir,
      `docker://${opts.image}`,
      `oci:${dest}:x`,
    ],
    { env: opts.env, timeoutMs: opts.timeoutMs ?? 60_000 },
  );
  return { r, dest };
}
