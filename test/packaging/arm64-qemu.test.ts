// The cross-built linux-arm64 executable (dist/release/, `npm test` builds it with
// `npm run build:arm64`) runs on an x64 machine under qemu-user (Debian qemu-user-static, with the
// arm64 glibc from libc6-arm64-cross): `version`, then a miss and a hit against the fake AWS. A hit
// must answer from the shared cache without calling the fake again.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { binaryName, TARGETS } from "../../scripts/targets.ts";
import { baseEnv, EXECUTABLE, ROOT, runCli } from "../support/cli.ts";
import { awsEnv, startFakeAws } from "../support/fake-aws.ts";
import { which } from "../support/namespace.ts";
import { tmpTree } from "../support/tmp.ts";

const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const target = TARGETS.find((t) => t.id === "linux-arm64");
const ARM64 = join(ROOT, "dist", "release", binaryName(target!, version));
const QEMU = which("qemu-aarch64-static") ?? which("qemu-aarch64");
const SYSROOT = "/usr/aarch64-linux-gnu";
const HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const skip = !QEMU
  ? "needs qemu-user-static (.ci/run installs it)"
  : !existsSync(join(SYSROOT, "lib", "ld-linux-aarch64.so.1"))
    ? "needs libc6-arm64-cross (.ci/run installs it)"
    : false;

/** Runs the arm64 executable under qemu with the arm64 glibc as its library root. */
const arm64 = (args: string[], stdin: string, env: Record<string, string>) =>
  runCli(["-L", SYSROOT, ARM64, ...args], stdin, env, { bin: QEMU, timeoutMs: 180_000 });

test("the linux-arm64 executable runs under qemu: version, a miss, then a hit from the cache", { skip }, async (t) => {
  assert.ok(existsSync(ARM64), `${ARM64} is missing: run \`npm run build:arm64\` (npm test does)`);
  assert.match(execFileSync("file", ["-b", ARM64], { encoding: "utf8" }), /ELF 64-bit .*ARM aarch64/);
  const h = await tmpTree(t);
  const v = await arm64(["version"], "", baseEnv(h));
  assert.equal(v.code, 0, v.stderr);
  // Built from the same commit as this checkout's host executable (not a stale arm64 build).
  const host = execFileSync(EXECUTABLE, ["version"], { encoding: "utf8" });
  assert.equal(v.stdout, host);
  assert.match(v.stdout, /^docker-credential-cloud \d+\.\d+\.\d+ \(commit [0-9a-f]+, bun \d+\.\d+\.\d+\)\n$/);

  const fake = await startFakeAws({ keys: { AKIDEXAMPLE: "secret-example" } });
  t.after(() => fake.close());
  const env = { ...baseEnv(h), ...awsEnv(fake, "AKIDEXAMPLE", "secret-example") };
  const miss = await arm64(["get"], HOST, env);
  assert.equal(miss.code, 0, miss.stderr);
  assert.deepEqual(JSON.parse(miss.stdout), { ServerURL: HOST, Username: "AWS", Secret: "pw-us-east-1-AKIDEXAMPLE" });
  assert.equal(fake.calls.ecr, 1);
  const hit = await arm64(["get"], HOST, env);
  assert.equal(hit.code, 0, hit.stderr);
  assert.equal(hit.stdout, miss.stdout);
  assert.equal(fake.calls.ecr, 1, "the hit is served from the cache");
});
