// Module-evaluation tracing for the single-file executable, where Node's module hooks
// (NODE_OPTIONS=--import) do not exist. The build (scripts/build-bin.ts) ends every module it bundles
// with `(globalThis.__dccLoaded ??= []).push("<path>")`, so a module records itself when it is
// evaluated (in whichever chunk, before or after this one). With DCC_TRACE_LOADS=<file> set, the
// list is appended to that file at exit. Tests use it to prove that a cache hit evaluates no cloud
// SDK. Under Node the list stays empty (the tests' NODE_OPTIONS hook traces there).
import { fs } from "./builtins.ts";

const out = process.env.DCC_TRACE_LOADS;
if (out) {
  process.on("exit", () => {
    const seen = (globalThis as { __dccLoaded?: string[] }).__dccLoaded ?? [];
    try {
      fs.appendFileSync(out, `${seen.join("\n")}\n`);
    } catch {}
  });
}
