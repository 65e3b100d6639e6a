// Builds the shipped program: dist/docker-credential-cloud, one self-contained executable (Bun's
// --compile: runtime, bundled code as bytecode, and the native keyring module, in one file).
// Run by Bun (`bun scripts/build-bin.ts [--target bun-linux-arm64 --executable PATH --outfile F]`).
//
// - Cloud SDKs stay lazily *evaluated*: they are reached only through `await import()`, which the
//   bundler (code splitting) turns into chunks loaded on first call, so a cache hit evaluates none.
// - Every bundled module ends by appending its path to `globalThis.__dccLoaded`: with DCC_TRACE_LOADS
//   set, src/trace.ts writes which modules were evaluated (the tests' proof that a hit loads no SDK).
// - The executable must not read .env or bunfig.toml from the working directory: the helper runs
//   as root for containerd and the kubelet, in whatever directory they start it.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";

declare const Bun: {
  build(config: Record<string, unknown>): Promise<{ success: boolean; logs: unknown[] }>;
};

const root = join(import.meta.dir as string, "..");
const { values } = parseArgs({
  options: {
    target: { type: "string" },
    executable: { type: "string" },
    outfile: { type: "string", default: join(root, "dist", "docker-credential-cloud") },
  },
});

const commit = (() => {
  try {
    return execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
})();

const trace = {
  name: "dcc-trace",
  setup(build: { onLoad: (o: { filter: RegExp }, cb: (a: { path: string }) => unknown) => void }) {
    build.onLoad({ filter: /\.(m?js|cjs|ts)$/ }, ({ path }) => {
      const name = relative(root, path).replaceAll("\\", "/");
      // src/builtins.bun.ts stands in for src/builtins.ts (static imports are cheaper on Bun).
      const text = readFileSync(name === "src/builtins.ts" ? join(root, "src", "builtins.bun.ts") : path, "utf8");
      const loader = path.endsWith(".ts") ? "ts" : "js";
      // Recorded into a list rather than through a hook: with code splitting, shared chunks are
      // evaluated before the entry chunk (and src/trace.ts) runs.
      return { contents: `${text}\n;(globalThis.__dccLoaded ??= []).push(${JSON.stringify(name)});\n`, loader };
    });
  },
};

const result = await Bun.build({
  entrypoints: [join(root, "src", "cli.ts")],
  compile: {
    outfile: values.outfile,
    autoloadDotenv: false,
    autoloadBunfig: false,
    autoloadTsconfig: false,
    autoloadPackageJson: false,
    // Start-up (helper "perf", docs/runtime.md): JIT tier-up 100× later. A helper process runs its code
    // once; on a cache hit −5 % instructions and −10 % page faults, on an ECR cold miss −5 %.
    jitPolicy: 100,
    ...(values.target ? { target: values.target } : {}),
    ...(values.executable ? { executablePath: values.executable } : {}),
  },
  target: "bun",
  format: "esm",
  bytecode: true,
  minify: true,
  // Start-up (helper "perf", docs/runtime.md): each lazily imported module graph (SDKs, verbs) is its
  // own chunk inside the executable, so a cache hit maps and evaluates only the hit path's bytecode.
  splitting: true,
  plugins: [trace],
  define: { DCC_BUILD_COMMIT: JSON.stringify(commit) },
});
if (!result.success) {
  for (const l of result.logs) console.error(l);
  process.exit(1);
}
