// Preloaded with NODE_OPTIONS="--import <this file>" and DCC_TRACE_LOADS=<file>: records every
// module URL the process loads (ESM and CommonJS) and appends them to that file at exit. Lets a
// test prove that a cache hit never loads a cloud SDK.
import { appendFileSync } from "node:fs";
import { registerHooks } from "node:module";

const out = process.env.DCC_TRACE_LOADS;
const seen = new Set();
registerHooks({
  load(url, context, nextLoad) {
    seen.add(url);
    return nextLoad(url, context);
  },
});
process.on("exit", () => {
  if (out) appendFileSync(out, `${[...seen].join("\n")}\n`);
});
