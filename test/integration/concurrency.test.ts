// Many processes missing the cache at once: one upstream call per registry, nothing lost.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { baseEnv, runCli } from "../support/cli.ts";
import { awsEnv, type FakeAws, startFakeAws } from "../support/fake-aws.ts";
import { tmpTree } from "../support/tmp.ts";

const AKID = "AKIAFAKECONCURRENT01";
const SECRET = "fake-concurrent-secret";
let fake: FakeAws;
before(async () => {
  fake = await startFakeAws({ keys: { [AKID]: SECRET } });
});
after(() => fake.close());

test("50 concurrent cold gets make exactly one call to ECR and all get the same token", async (t) => {
  fake.calls = {};
  const h = await tmpTree(t);
  const env = { ...baseEnv(h), ...awsEnv(fake, AKID, SECRET) };
  const host = "123456789012.dkr.ecr.us-east-2.amazonaws.com";
  const results = await Promise.all(Array.from({ length: 50 }, () => runCli(["get"], host, env)));
  for (const r of results) assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(new Set(results.map((r) => r.stdout)).size, 1);
  assert.equal(fake.calls.ecr, 1);
  const file = JSON.parse(await readFile(join(h, ".cache/docker-credential-cloud/tokens.json"), "utf8"));
  assert.equal(Object.keys(file.entries).length, 1);
});

test("concurrent misses for different registries each make one call and no entry is lost", async (t) => {
  fake.calls = {};
  const h = await tmpTree(t);
  const env = { ...baseEnv(h), ...awsEnv(fake, AKID, SECRET) };
  const hosts = ["111111111111", "222222222222", "333333333333", "444444444444", "555555555555"].map(
    (a) => `${a}.dkr.ecr.eu-central-1.amazonaws.com`,
  );
  const runs = hosts.flatMap((host) => Array.from({ length: 6 }, () => runCli(["get"], host, env)));
  const results = await Promise.all(runs);
  for (const r of results) assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(fake.calls.ecr, hosts.length);
  const file = JSON.parse(await readFile(join(h, ".cache/docker-credential-cloud/tokens.json"), "utf8"));
  assert.deepEqual(
    Object.values(file.entries)
      .map((e) => (e as { host: string }).host)
      .sort(),
    hosts,
  );
});
