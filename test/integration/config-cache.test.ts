// A YAML config is parsed once; later runs use a private, validated JSON copy and never load the
// YAML library. A copy that is not ours (or was edited) is ignored.
import assert from "node:assert/strict";
import { chmod, chown, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { baseEnv, runCli, TRACE_LOADS } from "../support/cli.ts";
import { tmpTree } from "../support/tmp.ts";

const YAML =
  "registries:\n  - match: registry.corp.example\n    provider: none\n  - match: mirror.corp.example\n    provider: ecr\n";
const HOST = "mirror.corp.example"; // mapped by the second rule, which lacks aws.region: a config-driven error

const run = async (h: string, trace?: string) =>
  runCli(["get"], HOST, {
    ...baseEnv(h),
    ...(trace ? { NODE_OPTIONS: `--import ${TRACE_LOADS}`, DCC_TRACE_LOADS: trace } : {}),
  });

const compiledFile = async (h: string) => {
  const dir = join(h, ".cache/docker-credential-cloud");
  const name = (await readdir(dir)).find((f) => f.startsWith("config-"));
  assert.ok(name, "a compiled copy was written");
  return join(dir, name);
};

test("the second run uses the compiled copy and loads no YAML parser", async (t) => {
  const h = await tmpTree(t, { ".config/docker-credential-cloud/config.yaml": YAML });
  const first = await run(h, join(h, "loads1.txt"));
  assert.match(first.stdout, /mapped to ecr but its rule sets no aws\.region/);
  assert.match(await readFile(join(h, "loads1.txt"), "utf8"), /node_modules\/yaml\//);
  const copy = await compiledFile(h);
  const second = await run(h, join(h, "loads2.txt"));
  assert.equal(second.stdout, first.stdout, "same behaviour from the copy");
  assert.doesNotMatch(await readFile(join(h, "loads2.txt"), "utf8"), /node_modules\/yaml\//);
  assert.equal((await import("node:fs")).statSync(copy).mode & 0o777, 0o600);
});

test("editing the YAML is seen at once", async (t) => {
  const h = await tmpTree(t, { ".config/docker-credential-cloud/config.yaml": YAML });
  await run(h);
  await writeFile(
    join(h, ".config/docker-credential-cloud/config.yaml"),
    "registries:\n  - match: mirror.corp.example\n    provider: none\n",
  );
  const r = await run(h);
  assert.equal(r.stdout, "credentials not found in native keychain\n");
});

test("a copy that someone else owns or can write is ignored", async (t) => {
  if (process.getuid?.() !== 0) return t.skip("needs root to chown the copy");
  const h = await tmpTree(t, { ".config/docker-credential-cloud/config.yaml": YAML });
  await run(h);
  const copy = await compiledFile(h);
  // Forge the copy to map the host with a region, then hand it to another user.
  const forged = JSON.parse(await readFile(copy, "utf8"));
  forged.config.registries = [{ match: "mirror.corp.example", provider: "none" }];
  await writeFile(copy, JSON.stringify(forged));
  await chown(copy, 65534, 65534);
  const r = await run(h);
  assert.match(r.stdout, /mapped to ecr but its rule sets no aws\.region/, "the YAML, not the foreign copy");
  await chown(copy, 0, 0);
  await chmod(copy, 0o666);
  await writeFile(copy, JSON.stringify(forged));
  await chmod(copy, 0o666);
  const r2 = await run(h);
  assert.match(r2.stdout, /mapped to ecr but its rule sets no aws\.region/, "not a world-writable copy either");
});

test("timeouts beyond a day are refused with a clear message", async (t) => {
  const h = await tmpTree(t);
  const r = await runCli(["get"], HOST, { ...baseEnv(h), DOCKER_CREDENTIAL_CLOUD_TIMEOUT: "3000000" });
  assert.equal(r.code, 1);
  assert.match(r.stdout, /DOCKER_CREDENTIAL_CLOUD_TIMEOUT: expected a number of seconds from 0 to 86400/);
});

test("a symlinked compiled copy is neither followed for reading nor written through", async (t) => {
  const h = await tmpTree(t, { ".config/docker-credential-cloud/config.yaml": YAML, victim: "keep me" });
  await run(h);
  const copy = await compiledFile(h);
  const { rm, symlink } = await import("node:fs/promises");
  await rm(copy);
  await symlink(join(h, "victim"), copy);
  const r = await run(h);
  assert.match(r.stdout, /mapped to ecr but its rule sets no aws\.region/);
  assert.equal(await readFile(join(h, "victim"), "utf8"), "keep me");
});
