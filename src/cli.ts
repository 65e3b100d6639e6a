// The entry point: the only module that touches argv, the environment, stdin, stdout and the
// exit code. Everything below receives plain values and returns strings.

import "./trace.ts";
import {
  getStoredOnly,
  handleDockerAction,
  listStoredOnly,
  STDIN_ACTIONS,
  VERSION_LINE,
} from "./adapters/docker-helper.ts";
import { WIRE } from "./adapters/docker-wire.ts";
import {
  handleKubeletRequest,
  KUBELET_ACTION,
  KUBELET_ARGS_HINT,
  looksLikeKubeletRequest,
} from "./adapters/kubelet-plugin.ts";
import { fs, os, util } from "./builtins.ts";
import { EMPTY_CONFIG } from "./config.ts";
import { hostCredentials } from "./credentials.ts";
import { ConfigError, oneLine } from "./errors.ts";
import { HELP } from "./help.ts";
import { createLogger, scrub } from "./log.ts";
import { loadSettings, type Settings } from "./settings.ts";
import { versionDetail } from "./version.ts";
import { credentialDeps, edgeSettings, staticStore } from "./wiring.ts";

const writeAll = (fd: number, text: string): void => {
  const buf = Buffer.from(text);
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
    }
  }
};

const readStdin = async (): Promise<string> => {
  try {
    return fs.readFileSync(0, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EAGAIN") {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString("utf8");
    }
    if (code === "EOF" || code === "EBADF" || code === "EISDIR") return "";
    throw e;
  }
};

/** Logs are best effort: a closed or full stderr must not fail the answer on stdout. */
const stderr = (line: string) => {
  try {
    writeAll(2, line);
  } catch {}
};

/**
 * Where an error line goes: stdout in the Docker protocol (clients read it there), stderr in
 * kubelet plugin mode (stdout is for the response only; the kubelet logs stderr). Set as soon as
 * the mode is known, so that every later failure, the last-resort one included, honours it.
 */
let errorFd: 1 | 2 = 1;

/** The home directory: $HOME, else the user database. */
const homeDir = (env: NodeJS.ProcessEnv): string => {
  if (env.HOME) return env.HOME;
  try {
    return os.homedir();
  } catch (e) {
    // A uid without a passwd entry (a container run with an arbitrary --user) and no HOME. No
    // fallback such as "/": the cache, the store and the SDKs' own files would land in places
    // nobody chose (and the AWS SDK asks os.homedir() itself for its default file paths).
    const uid = process.geteuid?.();
    const code = (e as { info?: { code?: string } }).info?.code ?? (e as NodeJS.ErrnoException).code;
    throw new Error(
      `HOME is not set and the home directory of ${uid === undefined ? "this user" : `uid ${uid}`} cannot be found (${code ?? oneLine(e)}); set HOME`,
    );
  }
};

/**
 * This program's file, for links that must run it again: the single-file executable is
 * process.execPath (its argv[1] is a path inside Bun's embedded file system); under the Node
 * launcher it is argv[1], the launcher script.
 */
const selfPath = (): string => {
  const script = process.argv[1];
  if (script && !script.startsWith("/$bunfs/")) {
    try {
      return fs.realpathSync(script);
    } catch {}
  }
  return fs.realpathSync(process.execPath);
};

/** `pull-secrets`: a long-running or --once operator verb, its module (and the Kubernetes client) loaded only here. */
const runPullSecretsVerb = async (args: string[]): Promise<number> => {
  const env = process.env;
  const settings = await edgeSettings(env, homeDir(env));
  const log = createLogger(env.DOCKER_CREDENTIAL_CLOUD_LOG ? settings.logLevel : "info", stderr);
  const deps = credentialDeps(settings, log, Date.now);
  const { runPullSecrets, withIdentity } = await import("./pull-secrets/main.ts");
  const stop = new AbortController();
  for (const sig of ["SIGTERM", "SIGINT"] as const) process.once(sig, () => stop.abort(sig));
  const r = await runPullSecrets(args, {
    // Unattended: never a prompt (an MFA profile needs a cached session or another identity).
    credentials: (host, identity) =>
      hostCredentials(host, identity ? { ...deps, settings: withIdentity(settings, host, identity) } : deps, {
        interaction: { never: "pull-secrets runs unattended and cannot answer an MFA prompt" },
      }),
    log,
    now: Date.now,
    signal: stop.signal,
    identity: env.POD_NAME || `${os.hostname()}-${process.pid}`,
    env,
    requestTimeoutMs: settings.requestTimeoutMs,
  });
  writeAll(1, r.stdout);
  if (r.stderr) stderr(r.stderr);
  return r.code;
};

/** Human verbs: lazily imported (the helper's hit path never loads them), report on stdout. */
const runVerb = async (argv: string[]): Promise<number> => {
  const env = process.env;
  const home = homeDir(env);
  const { runConfigure } = await import("./verbs/configure/index.ts");
  const r = await runConfigure(argv.slice(1), {
    env: Object.freeze({ ...env }),
    home,
    uid: process.geteuid?.(),
    self: selfPath(),
    now: () => Date.now(),
    openStore: async () => {
      const settings = await edgeSettings(env, home);
      return staticStore(settings, createLogger(settings.logLevel, stderr), () => Date.now());
    },
  });
  writeAll(1, r.stdout);
  if (r.stderr) stderr(r.stderr);
  return r.code;
};

/** `get` or `list` with a broken config file: stored logins only; null when that does not apply. */
const storedDespite = async (env: NodeJS.ProcessEnv, line: string, action: string): Promise<number | null> => {
  const settings = await loadSettings(env, homeDir(env), { parseConfig: async () => EMPTY_CONFIG }).catch(() => null);
  if (!settings) return null; // not the config file: the environment itself is bad
  const input = action === "get" ? await readStdin() : "";
  if (looksLikeKubeletRequest(input)) return null;
  const log = createLogger(settings.logLevel, stderr);
  const store = staticStore(settings, log, () => Date.now());
  const r = action === "get" ? await getStoredOnly(input, store) : await listStoredOnly(store);
  if (!r) return null;
  writeAll(1, r.stdout);
  stderr(
    line
      .replace(/^docker-credential-cloud: /, "docker-credential-cloud: warn: ")
      .replace(/\n$/, `; ${action === "get" ? "served" : "listed only"} the credentials stored with docker login\n`),
  );
  return r.code;
};

/** `explain`: the diagnosis verb, its module imported only when asked for. */
const runExplainVerb = async (args: string[]): Promise<number> => {
  let home: string | { error: string };
  try {
    home = homeDir(process.env);
  } catch (e) {
    home = { error: oneLine(e) };
  }
  const { run: runExplain } = await import("./verbs/explain/explain.ts");
  const r = await runExplain(args, { env: process.env, home, isTTY: Boolean(process.stdout.isTTY), now: Date.now });
  writeAll(1, r.stdout);
  if (r.stderr) stderr(r.stderr);
  return r.code;
};

/** `doctor`: the health report, its module imported only when asked for. */
const runDoctorVerb = async (args: string[]): Promise<number> => {
  let home: string | { error: string };
  try {
    home = homeDir(process.env);
  } catch (e) {
    home = { error: oneLine(e) };
  }
  const { run: runDoctor } = await import("./verbs/doctor/doctor.ts");
  const r = await runDoctor(args, {
    env: Object.freeze({ ...process.env }),
    home,
    isTTY: Boolean(process.stdout.isTTY),
    now: Date.now,
    uid: process.geteuid?.(),
    self: selfPath(),
    platform: process.platform,
  });
  writeAll(1, r.stdout);
  if (r.stderr) stderr(r.stderr);
  return r.code;
};

const run = async (argv: string[]): Promise<number> => {
  if (argv[0] === "explain") return runExplainVerb(argv.slice(1));
  if (argv[0] === "doctor") return runDoctorVerb(argv.slice(1));
  if (argv[0] === KUBELET_ACTION) errorFd = 2;
  // Human and program-facing verbs: their own module, loaded only when asked for (the hit path never sees it).
  // A Docker helper fronted for the kubelet: args ["kubelet", "--docker-helper", "NAME"].
  if (argv[0] === KUBELET_ACTION && argv.slice(1).some((a) => a.startsWith("--docker-helper"))) {
    const { runDockerHelperPlugin } = await import("./keyring/bridges/docker-helper-plugin.ts");
    const r = await runDockerHelperPlugin(argv.slice(1), await readStdin(), process.env);
    writeAll(1, r.stdout);
    if (r.stderr) stderr(r.stderr);
    return r.code;
  }
  if (argv[0] === "lookup") {
    const { runLookup } = await import("./verbs/lookup/lookup.ts");
    const r = await runLookup(argv.slice(1), process.env);
    writeAll(1, r.stdout);
    if (r.stderr) stderr(r.stderr);
    return r.code;
  }
  if (argv[0] === "configure") return runVerb(argv);
  if (argv[0] === "pull-secrets") {
    errorFd = 2;
    return runPullSecretsVerb(argv.slice(1));
  }
  let parsed: ReturnType<
    typeof util.parseArgs<{
      options: { help: { type: "boolean"; short: "h" }; version: { type: "boolean"; short: "v" } };
      allowPositionals: true;
    }>
  >;
  try {
    // Plain words (`get`, `kubelet`): parseArgs would return them as positionals and no flags, so it
    // is skipped; on the executable that keeps node:util off the cache hit (docs/runtime.md).
    parsed = argv.some((a) => a.startsWith("-"))
      ? util.parseArgs({
          args: argv,
          options: { help: { type: "boolean", short: "h" }, version: { type: "boolean", short: "v" } },
          allowPositionals: true,
        })
      : { values: {}, positionals: argv };
  } catch (e) {
    // Extra flags in a kubelet config's `args`: the kubelet logs stderr, never stdout.
    if (argv[0] === KUBELET_ACTION) writeAll(2, `docker-credential-cloud: ${oneLine(e)}; ${KUBELET_ARGS_HINT}\n`);
    else writeAll(1, `${oneLine(e)}\n`);
    return 1;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    writeAll(1, HELP);
    return 0;
  }
  if (values.version) {
    writeAll(1, VERSION_LINE(versionDetail()));
    return 0;
  }
  const action = positionals[0];
  if (action === undefined || positionals.length > 1) {
    if (action === KUBELET_ACTION) {
      writeAll(2, `docker-credential-cloud: unexpected argument "${positionals[1]}"; ${KUBELET_ARGS_HINT}\n`);
      return 1;
    }
    writeAll(1, HELP);
    return 1;
  }
  const env = process.env;
  let settings: Settings;
  try {
    settings = await edgeSettings(env, homeDir(env));
  } catch (e) {
    const line = `docker-credential-cloud: ${scrub(oneLine(e))}\n`;
    // A config-file typo must not hide what `docker login` stored: `get` still serves those
    // (the store's settings come from the environment only) and names the typo on stderr.
    // `list` too: `docker build` sends what `list` names, and a failing `list` sends nothing.
    if ((action === "get" || action === "list") && e instanceof ConfigError) {
      const served = await storedDespite(env, line, action);
      if (served !== null) return served;
    }
    writeAll(errorFd, line);
    // Docker drops a failing helper's stdout: the cause goes to stderr too.
    if (errorFd === 1) stderr(line);
    return 1;
  }
  const log = createLogger(settings.logLevel, stderr);
  const now = () => Date.now();
  const deps = credentialDeps(settings, log, now);
  const input = STDIN_ACTIONS.includes(action) || action === KUBELET_ACTION ? await readStdin() : "";
  // Kubelet plugin mode: selected by the config's `args: ["kubelet"]`, or detected when the
  // kubelet's JSON arrives on `get` (a binary configured with `args: ["get"]` or copied from a
  // docker-credential-* setup).
  if (action === KUBELET_ACTION || (action === "get" && looksLikeKubeletRequest(input))) {
    errorFd = 2;
    const r = await handleKubeletRequest(input, deps);
    writeAll(1, r.stdout);
    if (r.stderr) stderr(r.stderr);
    return r.code;
  }
  const store = staticStore(settings, log, now);
  let result = await handleDockerAction(action, input, deps, versionDetail(), store);
  // Kubelet plugins → Docker clients (config `kubelet: {providerConfig, binDir}`): asked when
  // stored credentials and the cloud routes have nothing. Loaded only then.
  const bridge = settings.config.kubelet;
  if (action === "get" && result.stdout === `${WIRE.notFound}\n` && bridge.providerConfig && bridge.binDir) {
    const { getThroughKubeletPlugins } = await import("./keyring/bridges/kubelet-plugins-helper.ts");
    const home = homeDir(env);
    const bridged = await getThroughKubeletPlugins(
      input,
      { providerConfig: bridge.providerConfig, binDir: bridge.binDir },
      env,
      home,
      log,
    );
    if (bridged !== null) result = { stdout: bridged, code: 0 };
  }
  writeAll(1, result.stdout);
  // The Docker CLI drops a failing helper's stdout (skopeo shows it): the protocol line stays on
  // stdout and the cause is repeated on stderr — except "not found", the normal anonymous case.
  if (result.code !== 0 && result.stdout !== `${WIRE.notFound}\n`) {
    const line = result.stdout.trimEnd();
    stderr(`${line.startsWith("docker-credential-cloud: ") ? line : `docker-credential-cloud: ${line}`}\n`);
  }
  return result.code;
};

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    // Last resort: one line, never a stack trace, nothing on stdout but the error line. The write
    // itself may fail (stdout closed early: `list | true` gives EPIPE; `--help > /dev/full` gives
    // ENOSPC, and that failure is usually why we are here): then exit 1 without a word.
    try {
      writeAll(errorFd, `docker-credential-cloud: ${scrub(oneLine(e))}\n`);
    } catch {}
    process.exit(1);
  },
);
