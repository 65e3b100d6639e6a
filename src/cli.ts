// The entry point: the only module that touches argv, the environment, stdin, stdout and the
// exit code. Everything below receives plain values and returns strings.

import { handleDockerAction } from "./adapters/docker-helper.ts";
import {
  handleKubeletRequest,
  KUBELET_ACTION,
  KUBELET_ARGS_HINT,
  looksLikeKubeletRequest,
} from "./adapters/kubelet-plugin.ts";
import { fs, os, util } from "./builtins.ts";
import { oneLine } from "./errors.ts";
import { HELP } from "./help.ts";
import { createLogger, scrub } from "./log.ts";
import { loadSettings } from "./settings.ts";
import { VERSION } from "./version.ts";
import { credentialDeps, staticStore } from "./wiring.ts";

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

/** The human verbs: each module is imported only when asked for, so the helper's hit path stays small. */
const HUMAN_VERBS: Record<string, () => Promise<{ run: typeof import("./verbs/explain/explain.ts").run }>> = {
  explain: () => import("./verbs/explain/explain.ts"),
};

const runHumanVerb = async (load: (typeof HUMAN_VERBS)[string], args: string[]): Promise<number> => {
  let home: string | { error: string };
  try {
    home = homeDir(process.env);
  } catch (e) {
    home = { error: oneLine(e) };
  }
  const verb = await load();
  const r = await verb.run(args, { env: process.env, home, isTTY: Boolean(process.stdout.isTTY), now: Date.now });
  writeAll(1, r.stdout);
  if (r.stderr) stderr(r.stderr);
  return r.code;
};

const run = async (argv: string[]): Promise<number> => {
  const human = argv[0] !== undefined && Object.hasOwn(HUMAN_VERBS, argv[0]) ? HUMAN_VERBS[argv[0]] : undefined;
  if (human) return runHumanVerb(human, argv.slice(1));
  if (argv[0] === KUBELET_ACTION) errorFd = 2;
  let parsed: ReturnType<
    typeof util.parseArgs<{
      options: { help: { type: "boolean"; short: "h" }; version: { type: "boolean"; short: "v" } };
      allowPositionals: true;
    }>
  >;
  try {
    parsed = util.parseArgs({
      args: argv,
      options: { help: { type: "boolean", short: "h" }, version: { type: "boolean", short: "v" } },
      allowPositionals: true,
    });
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
    writeAll(1, `docker-credential-cloud ${VERSION}\n`);
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
  let settings: Awaited<ReturnType<typeof loadSettings>>;
  try {
    settings = await loadSettings(env, homeDir(env));
  } catch (e) {
    writeAll(errorFd, `docker-credential-cloud: ${scrub(oneLine(e))}\n`);
    return 1;
  }
  const log = createLogger(settings.logLevel, stderr);
  const now = () => Date.now();
  const deps = credentialDeps(settings, log, now);
  const input =
    action === "get" || action === "erase" || action === "store" || action === KUBELET_ACTION ? await readStdin() : "";
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
  const result = await handleDockerAction(action, input, deps, VERSION, store);
  writeAll(1, result.stdout);
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
