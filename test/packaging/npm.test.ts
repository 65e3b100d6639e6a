// npm installs as users run them, from packed tarballs, with no source tree reachable:
// scripts/package.ts packs the main package and this machine's platform package from a COPY of the
// sources (the host executable as the linux-x64 binary), the copy is deleted, a fake registry on
// 127.0.0.1 serves the tarballs (and the locked dependencies from the npm cache), and
// `npm install -g docker-credential-cloud` / `npx docker-credential-cloud` install them into
// throwaway directories. The installed command then runs in a mount namespace where this checkout
// is hidden under an empty tmpfs: `version`, and `get` against the fake AWS (a miss, then a hit).
// Where no platform package installs, the same command runs the Node build.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { binaryName, NAME, TARGETS } from "../../scripts/targets.ts";
import { baseEnv, EXECUTABLE, ROOT } from "../support/cli.ts";
import { awsEnv, type FakeAws, startFakeAws } from "../support/fake-aws.ts";
import { type FakeNpmRegistry, startFakeNpmRegistry } from "../support/fake-npm-registry.ts";
import { canUseNamespaces, NAMESPACE_SKIP_REASON, type RunOptions, run, which } from "../support/namespace.ts";
import { tmpTree } from "../support/tmp.ts";

const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const host = TARGETS.find((t) => t.id === "linux-x64");
const skip =
  process.platform !== "linux" || process.arch !== "x64"
    ? "packs the host executable as the linux-x64 package"
    : !canUseNamespaces()
      ? NAMESPACE_SKIP_REASON
      : !which("npm")
        ? "needs npm on PATH"
        : false;

/** Runs cmd in a private mount namespace where this checkout is an empty directory. */
const withoutCheckout = (cmd: string, args: readonly string[], opts: RunOptions) =>
  run("unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", HIDE, "sh", ROOT, cmd, ...args], opts);
const HIDE = 'd="$1"; shift; mount -t tmpfs -o size=1m none "$d" && exec "$@"';

describe("npm packages: npm install -g and npx from packed tarballs, checkout hidden", { skip }, () => {
  let work: string;
  let registry: FakeNpmRegistry;
  let fake: FakeAws;
  let nodeBin: string;

  /** The environment of a user of the installed command: PATH = the prefix, a Node 24, the system. */
  const userEnv = (home: string, bin: string) => ({
    ...baseEnv(home),
    ...awsEnv(fake, "AKIDEXAMPLE", "secret-example"),
    PATH: `${bin}:${nodeBin}:/usr/bin:/bin`,
  });
  const npmEnv = (home: string, cache: string) => ({
    HOME: home,
    PATH: `${nodeBin}:/usr/bin:/bin`,
    npm_config_cache: cache,
    npm_config_registry: registry.url,
    npm_config_userconfig: join(home, ".npmrc"),
    npm_config_audit: "false",
    npm_config_fund: "false",
    npm_config_update_notifier: "false",
  });

  test("pack from a copy of the sources, then delete the copy", async () => {
    work = await tmpTree(undefined);
    // The Node 24 the tests run on, as a user's own Node (a hard link: outside the checkout).
    nodeBin = join(work, "node", "bin");
    mkdirSync(nodeBin, { recursive: true });
    try {
      linkSync(process.execPath, join(nodeBin, "node"));
    } catch {
      cpSync(process.execPath, join(nodeBin, "node"));
    }
    const src = join(work, "src");
    for (const p of ["package.json", "package-lock.json", "README.md", "scripts", "packaging/npm", "dist"]) {
      cpSync(join(ROOT, p), join(src, p), {
        recursive: true,
        filter: (s) => !s.startsWith(join(ROOT, "dist", "release")) && s !== EXECUTABLE,
      });
    }
    const bins = join(work, "bins");
    mkdirSync(bins);
    symlinkSync(EXECUTABLE, join(bins, binaryName(host!, version)));
    const out = join(work, "out");
    const r = await run(
      join(nodeBin, "node"),
      [
        join(src, "scripts", "package.ts"),
        "--bin-dir",
        bins,
        "--outdir",
        out,
        "--targets",
        "linux-x64",
        "--kinds",
        "npm",
      ],
      { env: { PATH: `${nodeBin}:/usr/bin:/bin`, HOME: work }, timeoutMs: 300_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    rmSync(src, { recursive: true, force: true });
    const tarballs = readdirSync(join(out, "npm")).sort();
    assert.deepEqual(tarballs, [`${NAME}-${version}.tgz`, `${NAME}-linux-x64-${version}.tgz`]);
    const main = JSON.parse(
      execFileSync("tar", ["-xzOf", join(out, "npm", `${NAME}-${version}.tgz`), "package/package.json"], {
        encoding: "utf8",
      }),
    );
    assert.equal(main.bin[NAME], `bin/${NAME}`);
    assert.deepEqual(Object.keys(main.optionalDependencies).sort(), TARGETS.map((x) => `@${NAME}/${x.id}`).sort());
    assert.equal(main.private, undefined);
    const npmCache = execFileSync("npm", ["config", "get", "cache"], { encoding: "utf8" }).trim();
    registry = await startFakeNpmRegistry({
      tarballs: tarballs.map((f) => join(out, "npm", f)),
      lockfile: join(ROOT, "package-lock.json"),
      npmCache,
    });
    fake = await startFakeAws({ keys: { AKIDEXAMPLE: "secret-example" } });
  });

  const getTwice = async (cmd: string, args: readonly string[], env: Record<string, string>) => {
    const before = fake.calls.ecr ?? 0;
    const miss = await withoutCheckout(cmd, [...args, "get"], { env, input: HOST, timeoutMs: 120_000 });
    assert.equal(miss.code, 0, miss.stderr);
    assert.deepEqual(JSON.parse(miss.stdout), { ServerURL: HOST, Username: "AWS", Secret: "pw-us-east-1-AKIDEXAMPLE" });
    const hit = await withoutCheckout(cmd, [...args, "get"], { env, input: HOST, timeoutMs: 120_000 });
    assert.equal(hit.stdout, miss.stdout, hit.stderr);
    assert.equal(fake.calls.ecr, before + 1, "one miss, then a hit from the cache");
  };

  test("npm install -g docker-credential-cloud runs the platform executable", async () => {
    const h = join(work, "home-g");
    const prefix = join(work, "prefix-g");
    const r = await run("npm", ["install", "-g", "--prefix", prefix, NAME], {
      env: npmEnv(h, join(work, "cache-g")),
      timeoutMs: 300_000,
    });
    assert.equal(r.code, 0, r.stderr);
    // npm picked this machine's package by os/cpu/libc and fetched no other platform's tarball.
    const installed = join(prefix, "lib", "node_modules", NAME, "node_modules", `@${NAME}`);
    assert.deepEqual(readdirSync(installed), ["linux-x64"]);
    assert.deepEqual(
      // npm fetches tarballs in parallel: the set matters, not the order.
      registry.downloads.filter((f) => f.startsWith(`${NAME}-`)).sort(),
      [`${NAME}-${version}.tgz`, `${NAME}-linux-x64-${version}.tgz`].sort(),
    );
    const bin = join(prefix, "bin");
    const env = userEnv(h, bin);
    const v = await withoutCheckout(NAME, ["version"], { env });
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout, execFileSync(EXECUTABLE, ["version"], { encoding: "utf8" }));
    assert.match(v.stdout, /, bun \d/);
    await getTwice(NAME, [], env);
  });

  test("npx docker-credential-cloud runs it too", async () => {
    const h = join(work, "home-npx");
    const env = { ...userEnv(h, "/nonexistent"), ...npmEnv(h, join(work, "cache-npx")) };
    const v = await withoutCheckout("npx", ["--yes", NAME, "version"], { env, timeoutMs: 300_000 });
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, new RegExp(`^${NAME} ${version.replaceAll(".", "\\.")} \\(commit [0-9a-f]+, bun `));
    await getTwice("npx", ["--yes", NAME], env);
  });

  test("where no platform package installs (here: npm told the libc is musl) the command runs the Node build", async () => {
    const h = join(work, "home-node");
    const prefix = join(work, "prefix-node");
    const r = await run("npm", ["install", "-g", "--libc=musl", "--prefix", prefix, NAME], {
      env: npmEnv(h, join(work, "cache-node")),
      timeoutMs: 300_000,
    });
    assert.equal(r.code, 0, r.stderr);
    // linux-x64-musl was not published (the fake registry has no such package): npm skipped it.
    const platforms = join(prefix, "lib", "node_modules", NAME, "node_modules", `@${NAME}`);
    assert.deepEqual(existsSync(platforms) ? readdirSync(platforms) : [], []);
    assert.ok(registry.missing.includes(`/@${NAME}/linux-x64-musl`));
    const env = userEnv(h, join(prefix, "bin"));
    const v = await withoutCheckout(NAME, ["version"], { env });
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, new RegExp(`^${NAME} ${version.replaceAll(".", "\\.")} \\(commit [0-9a-f]+, node 24\\.`));
    await getTwice(NAME, [], env);
  });

  after(async () => {
    await fake?.close();
    await registry?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });
});
