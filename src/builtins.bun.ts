// The single-file executable's copy of builtins.ts (scripts/build-bin.ts bundles this file in its
// place; same exports, same types). Bun's costs are the other way round from Node's, measured with
// callgrind on the compiled program (instructions, empty compiled program ≈ 3 M):
// `import … from "node:fs"` +3 M, the same through process.getBuiltinModule() +8.7 M; node:util
// +3.2 M imported, +8.2 M through getBuiltinModule. So the hit path's fs and path are static
// imports, and os and util (never used by a cache hit) are loaded on first property access.
import * as fs from "node:fs";
import * as path from "node:path";

const lazy = <T extends object>(name: string): T => {
  let mod: T | undefined;
  return new Proxy({} as T, {
    get: (_, key) => {
      mod ??= process.getBuiltinModule(name) as T;
      return mod[key as keyof T];
    },
  });
};

export { fs, path };
export const os: typeof import("node:os") = lazy("node:os");
export const util: typeof import("node:util") = lazy("node:util");
