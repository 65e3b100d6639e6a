// Cross-builds the release executables into dist/release/ as
// docker-credential-cloud-<version>-<os>-<arch>[-musl][.exe], plus SHA256SUMS (sha256sum format).
// Run by Bun: `bun scripts/build-release.ts [--targets linux-arm64,darwin-arm64] [--outdir DIR]`
// (`npm run build:release` builds every target, then packs them: scripts/package.ts).
//
// Offline once the npm cache holds them: each target's Bun runtime (`@oven/bun-*`) and keyring native
// module (`@napi-rs/keyring-*`) are fetched with `npm pack` at the exact versions and integrity
// hashes package-lock.json records (they are optional dependencies of `bun` and `@napi-rs/keyring`,
// so the lockfile lists every platform), unpacked under node_modules/.cache/, and handed to the
// same build as the host executable (scripts/build-bin.ts).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { buildBinary, buildCommit, ROOT } from "./build-bin.ts";
import { binaryName, NAME, TARGETS, type Target } from "./targets.ts";

const CACHE = join(ROOT, "node_modules", ".cache", NAME, "npm");

const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
  packages: Record<string, { version?: string; integrity?: string }>;
};

/** Unpacks one registry package (version and integrity as locked) and returns its directory. */
export const fetchPackage = (name: string): string => {
  const locked = lock.packages[`node_modules/${name}`];
  if (!locked?.version || !locked.integrity) throw new Error(`${name} is not in package-lock.json`);
  const dir = join(CACHE, `${name}@${locked.version}`);
  if (existsSync(join(dir, ".complete"))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const out = execFileSync(
    "npm",
    ["pack", `${name}@${locked.version}`, "--json", "--prefer-offline", "--pack-destination", tmp],
    { cwd: tmp, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
  );
  const [info] = JSON.parse(out) as { filename: string; integrity: string }[];
  if (!info) throw new Error(`npm pack ${name}: no output`);
  const tgz = join(tmp, info.filename);
  const integrity = `sha512-${createHash("sha512").update(readFileSync(tgz)).digest("base64")}`;
  if (integrity !== locked.integrity)
    throw new Error(`${name}@${locked.version}: integrity differs from package-lock.json`);
  execFileSync("tar", ["-xzf", tgz, "-C", tmp, "--strip-components=1"]);
  rmSync(tgz);
  writeFileSync(join(tmp, ".complete"), "");
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return dir;
};

/** The inputs of one cross-build: the target's runtime binary and keyring native file. */
export const targetInputs = (t: Target) => ({
  executablePath: join(fetchPackage(t.runtime), "bin", `bun${t.exe}`),
  keyringNode: join(fetchPackage(`@napi-rs/keyring-${t.keyring}`), `keyring.${t.keyring}.node`),
});

const sizeMB = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      targets: { type: "string" },
      outdir: { type: "string", default: join(ROOT, "dist", "release") },
      sizes: { type: "boolean", default: false },
    },
  });
  const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
  const wanted = values.targets?.split(",") ?? TARGETS.map((t) => t.id);
  const unknown = wanted.filter((id) => !TARGETS.some((t) => t.id === id));
  if (unknown.length) {
    console.error(
      `build-release: unknown target ${unknown.join(", ")} (known: ${TARGETS.map((t) => t.id).join(", ")})`,
    );
    process.exit(2);
  }
  const outdir = values.outdir as string;
  mkdirSync(outdir, { recursive: true });
  const commit = buildCommit();
  try {
    for (const t of TARGETS.filter((x) => wanted.includes(x.id))) {
      const outfile = join(outdir, binaryName(t, version));
      await buildBinary({ outfile, target: t.bun, ...targetInputs(t) }, commit);
      const raw = statSync(outfile).size;
      const gz = values.sizes ? ` (${sizeMB(gzipSync(readFileSync(outfile)).length)} gzipped)` : "";
      console.error(`build-release: ${binaryName(t, version)} ${sizeMB(raw)}${gz}`);
    }
  } catch (e) {
    console.error(`build-release: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
  // SHA256SUMS over every executable of this version in the directory (`sha256sum -c` reads it).
  const prefix = `${NAME}-${version}-`;
  const sums = readdirSync(outdir)
    .filter((f) => f.startsWith(prefix) && TARGETS.some((t) => f === binaryName(t, version)))
    .sort()
    .map(
      (f) =>
        `${createHash("sha256")
          .update(readFileSync(join(outdir, f)))
          .digest("hex")}  ${f}\n`,
    )
    .join("");
  writeFileSync(join(outdir, "SHA256SUMS"), sums);
}
