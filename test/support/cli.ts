// Drives the BUILT program (dist/docker-credential-cloud, or the launcher; run `npm run build` first) as a
// subprocess with a hermetic environment: nothing is inherited but PATH, and every cloud SDK's
// metadata probing is pinned off so no test traffic can leave loopback.
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** The single-file executable users install (scripts/build-bin.ts). */
export const EXECUTABLE = join(ROOT, "dist", "docker-credential-cloud");
/** The portable Node launcher (scripts/build-cli.js), for platforms without an executable. */
export const LAUNCHER = join(ROOT, "dist", "bin", "docker-credential-cloud");
/** What the suites drive: the executable, or what DCC_TEST_BIN names (`npm run test:launcher`). */
export const BIN = process.env.DCC_TEST_BIN ? join(ROOT, process.env.DCC_TEST_BIN) : EXECUTABLE;
export const TRACE_LOADS = join(ROOT, "test", "support", "trace-loads.mjs");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The base environment for a test run of the CLI with `home` as HOME. */
export const baseEnv = (home: string): Record<string, string> => ({
  // The test's own Node first: the Node launcher (`#!/usr/bin/env node`) runs on it.
  PATH: `${dirname(process.execPath)}:${process.env.PATH ?? "/usr/bin:/bin"}`,
  HOME: home,
  XDG_CONFIG_HOME: join(home, ".config"),
  XDG_CACHE_HOME: join(home, ".cache"),
  XDG_DATA_HOME: join(home, ".local", "share"),
  // AWS: no instance metadata, files inside HOME only.
  AWS_EC2_METADATA_DISABLED: "true",
  AWS_CONFIG_FILE: join(home, ".aws", "config"),
  AWS_SHARED_CREDENTIALS_FILE: join(home, ".aws", "credentials"),
  // Google: no metadata server detection, gcloud config inside HOME.
  METADATA_SERVER_DETECTION: "none",
  CLOUDSDK_CONFIG: join(home, ".config", "gcloud"),
  // Azure: CLI config inside HOME; no IMDS probing unless a test points it at a fake.
  AZURE_CONFIG_DIR: join(home, ".azure"),
  AZURE_POD_IDENTITY_AUTHORITY_HOST: "http://127.0.0.1:9",
  // This machine sets NODE_EXTRA_CA_CERTS globally; tests choose their own.
  NODE_EXTRA_CA_CERTS: "",
});

/** Every debug knob: ours and the SDKs' (Google, Azure, AWS via the `debug` package's DEBUG, Node's NODE_DEBUG). */
export const DEBUG_KNOBS = {
  DOCKER_CREDENTIAL_CLOUD_LOG: "debug",
  GOOGLE_SDK_NODE_LOGGING: "*",
  AZURE_LOG_LEVEL: "verbose",
  DEBUG: "*",
  NODE_DEBUG: "http,https,tls,net",
};

export const runCli = (
  args: readonly string[],
  stdin: string,
  env: Record<string, string>,
  opts: { timeoutMs?: number; bin?: string } = {},
): Promise<CliResult> =>
  new Promise((resolve, reject) => {
    const child = spawn(opts.bin ?? BIN, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(stdin);
  });
