// Module-evaluation tracing for the single-file executable, where Node's module hooks
// (NODE_OPTIONS=--import) do not exist. The build (scripts/build-bin.ts) appends
// `globalThis.__dccTrace?.("<path>")` to every module it bundles, so a module records itself when it
// is evaluated. With DCC_TRACE_LOADS=<file> set, the paths are appended to that file at exit. Tests
// use it to prove that a cache hit evaluates no cloud SDK. Imported first by cli.ts, so the hook
// exists before any other module of ours runs; without the variable it costs one property read.
import { fs } from "./builtins.ts";

const out = process.env.DCC_TRACE_LOADS;
if (out) {
  const seen: string[] = [];
  (globalThis as { __dccTrace?: (p: string) => void }).__dccTrace = (p) => {
    seen.push(p);
  };
  process.on("exit", () => {
    try {
      fs.appendFileSync(out, `${seen.join("\n")}\n`);
    } catch {}
  });
}
