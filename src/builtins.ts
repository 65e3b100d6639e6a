// Node built-ins for modules on the cache-hit path, taken with process.getBuiltinModule().
//
// Why not `import … from "node:fs"`: an ESM import of a built-in builds a namespace facade that
// evaluates every lazy export (node:fs pulls in fs/promises, readline, streams…). Measured with
// callgrind on Node 24 (instructions, stable to ±5%): empty start ≈ 87 M; `import "node:fs"`
// +60 M; `import "node:util"` +70 M; the same modules through getBuiltinModule ≈ +0–5 M.
// node:fs/promises costs ≈ +30 M however it is loaded, so the hit path uses sync reads of its
// few small files. node:crypto costs ≈ +70 M however it is loaded, so it is kept off the hit
// path entirely (see hash.ts).
export const fs = process.getBuiltinModule("node:fs");
export const path = process.getBuiltinModule("node:path");
export const os = process.getBuiltinModule("node:os");
export const util = process.getBuiltinModule("node:util");
