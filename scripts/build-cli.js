// Builds the command-line program (after `tsc` has type-checked and emitted the library):
//   dist/cli/cli.js  one ESM bundle of everything a cache hit runs; each cloud provider (and so
//                    its SDK import) is a separate chunk loaded only on a miss. Dependencies stay
//                    external, resolved from node_modules. One file instead of ~30 saves ≈ 13 % of
//                    a cache hit's instructions (measured with callgrind).
//   dist/bin/docker-credential-cloud  the portable Node launcher (`#!/usr/bin/env node`, Node ≥ 22),
//                    for platforms without a single-file executable (scripts/build-bin.ts builds that).
// Node's compile cache is deliberately NOT enabled by default: its default directory is under the
// shared os.tmpdir() with a predictable name, so another local user could plant cache entries that
// a root helper (containerd, the kubelet) would load. Users who want it set NODE_COMPILE_CACHE to a
// private directory, which Node honours by itself.
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  // Under npm scripts the `node` devDependency (Node 24) is first on PATH; it is missing when its
  // install script did not run (`npm ci --ignore-scripts`, a common corporate setting).
  const nodePkg = join(root, "node_modules", "node");
  const hint =
    existsSync(join(nodePkg, "package.json")) && !existsSync(join(nodePkg, "bin", "node"))
      ? "the `node` devDependency's install script was skipped (npm ci --ignore-scripts?): run `npm rebuild node`, then `npm run build`"
      : "run the build through npm (npm ci, then npm run build), which puts Node 24 first on PATH";
  console.error(`build-cli: Node ${process.version} is too old; ${hint}`);
  process.exit(1);
}
// Built beside the old bundle and swapped in by rename, so a helper process started during a
// rebuild never finds a half-written directory.
function buildCommit() {
  try {
    return execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}
const out = join(root, "dist", "cli");
const next = `${out}.next-${process.pid}`;
const old = `${out}.old-${process.pid}`;
rmSync(next, { recursive: true, force: true });
await build({
  entryPoints: [join(root, "src", "cli.ts")],
  outdir: next,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node22",
  packages: "external",
  logLevel: "warning",
  // `version` names the commit it was built from, as the executable's does (scripts/build-bin.ts).
  define: { DCC_BUILD_COMMIT: JSON.stringify(buildCommit()) },
});
if (existsSync(out)) renameSync(out, old);
renameSync(next, out);
rmSync(old, { recursive: true, force: true });
const bin = join(root, "dist", "bin", "docker-credential-cloud");
mkdirSync(dirname(bin), { recursive: true });
const tmpBin = `${bin}.${process.pid}`;
// Portable: `#!/usr/bin/env node`, so a packed or installed copy runs wherever Node is (the shipped
// single-file executable, dist/docker-credential-cloud, needs no Node at all). The version check is
// written so that any Node can parse it and print one line.
writeFileSync(
  tmpBin,
  `#!/usr/bin/env node
const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  process.stderr.write("docker-credential-cloud: Node " + process.version + " is too old; Node 22 or newer is required (or install the single-file executable)\\n");
  process.exit(1);
}
import("../cli/cli.js");
`,
);
chmodSync(tmpBin, 0o755);
renameSync(tmpBin, bin);
