// Builds the shipped program: dist/docker-credential-cloud, one self-contained executable (Bun's
// --compile: runtime, bundled code as bytecode, and the native keyring module, in one file).
// Run by Bun: `bun scripts/build-bin.ts` for this machine. scripts/build-release.ts imports
// buildBinary() to cross-build every release target with the same options.
//
// - Cloud SDKs stay lazily *evaluated*: they are reached only through `await import()`, which the
//   bundler (code splitting) turns into chunks loaded on first call, so a cache hit evaluates none.
// - Every bundled module ends by appending its path to `globalThis.__dccLoaded`: with DCC_TRACE_LOADS
//   set, src/trace.ts writes which modules were evaluated (the tests' proof that a hit loads no SDK).
// - The executable must not read .env or bunfig.toml from the working directory: the helper runs
//   as root for containerd and the kubelet, in whatever directory they start it.
// - `@napi-rs/keyring` is replaced by a one-line module that loads exactly the target's native
//   file (embedded by the compiler): its own loader picks a file at run time (musl probe by reading
//   /usr/bin/ldd or running `ldd`, NAPI_RS_NATIVE_LIBRARY_PATH from the environment), which a
//   cross-build cannot satisfy and a root helper should not do. Without a native file for the
//   target, the module throws on load: the store then reports the keyring as unavailable and
//   `auto` uses the encrypted file backend (src/store/os-keychain.ts, docs/keyring.md).
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";

declare const Bun: {
  build(config: Record<string, unknown>): Promise<{ success: boolean; logs: unknown[] }>;
};

type OnResolve = (o: { filter: RegExp }, cb: (a: { path: string }) => unknown) => void;
type OnLoad = (o: { filter: RegExp; namespace?: string }, cb: (a: { path: string }) => unknown) => void;

export const ROOT = join(import.meta.dir as string, "..");

export interface BinaryOptions {
  outfile: string;
  /** Bun's compile target (`bun-linux-arm64-musl`, …); omitted: this machine. */
  target?: string;
  /** The target's Bun runtime binary (from `@oven/bun-<os>-<arch>`); omitted: the running Bun. */
  executablePath?: string;
  /** The target's keyring native file (`keyring.<triple>.node`); null: none for this target. */
  keyringNode: string | null;
}

/** The installed keyring native file for this machine, if npm installed one (optionalDependencies). */
export const hostKeyringNode = (): string | null => {
  const abi = process.platform === "win32" ? ["-msvc"] : process.platform === "linux" ? ["-gnu", "-musl"] : [""];
  for (const suffix of abi) {
    const triple = `${process.platform}-${process.arch}${suffix}`;
    const file = join(ROOT, "node_modules", "@napi-rs", `keyring-${triple}`, `keyring.${triple}.node`);
    if (existsSync(file)) return file;
  }
  return null;
};

export const buildCommit = (): string => {
  try {
    return execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
};

const trace = {
  name: "dcc-trace",
  setup(build: { onLoad: OnLoad }) {
    build.onLoad({ filter: /\.(m?js|cjs|ts)$/ }, ({ path }) => {
      const name = relative(ROOT, path).replaceAll("\\", "/");
      // src/builtins.bun.ts stands in for src/builtins.ts (static imports are cheaper on Bun).
      const text = readFileSync(name === "src/builtins.ts" ? join(ROOT, "src", "builtins.bun.ts") : path, "utf8");
      const loader = path.endsWith(".ts") ? "ts" : "js";
      // Recorded into a list rather than through a hook: with code splitting, shared chunks are
      // evaluated before the entry chunk (and src/trace.ts) runs.
      return { contents: `${text}\n;(globalThis.__dccLoaded ??= []).push(${JSON.stringify(name)});\n`, loader };
    });
  },
};

const keyring = (file: string | null) => ({
  name: "dcc-keyring",
  setup(build: { onResolve: OnResolve; onLoad: OnLoad }) {
    build.onResolve({ filter: /^@napi-rs\/keyring$/ }, () => ({ path: "keyring", namespace: "dcc-keyring" }));
    build.onLoad({ filter: /.*/, namespace: "dcc-keyring" }, () => {
      const name = file ? relative(ROOT, file).replaceAll("\\", "/") : "node_modules/@napi-rs/keyring";
      const body = file
        ? // A static require of a .node file: the compiler embeds the file in the executable.
          `module.exports = require(${JSON.stringify(file)});`
        : `throw new Error("no native keyring module is built into this executable");`;
      return { contents: `(globalThis.__dccLoaded ??= []).push(${JSON.stringify(name)});\n${body}\n`, loader: "js" };
    });
  },
});

/** Compiles src/cli.ts into one executable; the same options for the host and every release target. */
export const buildBinary = async (o: BinaryOptions, commit = buildCommit()): Promise<void> => {
  const result = await Bun.build({
    entrypoints: [join(ROOT, "src", "cli.ts")],
    compile: {
      outfile: o.outfile,
      autoloadDotenv: false,
      autoloadBunfig: false,
      autoloadTsconfig: false,
      autoloadPackageJson: false,
      // Start-up (helper "perf", docs/runtime.md): JIT tier-up 100× later. A helper process runs its
      // code once; on a cache hit −5 % instructions and −10 % page faults, on an ECR cold miss −5 %.
      jitPolicy: 100,
      ...(o.target ? { target: o.target } : {}),
      ...(o.executablePath ? { executablePath: o.executablePath } : {}),
    },
    target: "bun",
    format: "esm",
    bytecode: true,
    minify: true,
    // Start-up (helper "perf", docs/runtime.md): each lazily imported module graph (SDKs, verbs) is
    // its own chunk inside the executable, so a cache hit maps and evaluates only its own bytecode.
    splitting: true,
    plugins: [keyring(o.keyringNode), trace],
    define: { DCC_BUILD_COMMIT: JSON.stringify(commit) },
  });
  if (!result.success) {
    for (const l of result.logs) console.error(l);
    throw new Error(`build of ${o.outfile} failed`);
  }
};

if (import.meta.main) {
  const { values } = parseArgs({
    options: { outfile: { type: "string", default: join(ROOT, "dist", "docker-credential-cloud") } },
  });
  try {
    await buildBinary({ outfile: values.outfile as string, keyringNode: hostKeyringNode() });
  } catch (e) {
    console.error(`build-bin: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
