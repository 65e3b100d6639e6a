// The protocol verbs over the credential store: handleDockerAction with a real file store and a
// real token cache in a temp dir, and a fake cloud provider (a plain object that counts calls).
import assert from "node:assert/strict";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { handleDockerAction } from "../../src/adapters/docker-helper.ts";
import { WIRE } from "../../src/adapters/docker-wire.ts";
import { fileCache } from "../../src/cache/cache.ts";
import type { CredentialDeps } from "../../src/credentials.ts";
import { createLogger } from "../../src/log.ts";
import type { ProviderLoader } from "../../src/providers/types.ts";
import { loadSettings } from "../../src/settings.ts";
import { openStore } from "../../src/store/store.ts";
import { baseEnv } from "../support/cli.ts";
import { tmpTree } from "../support/tmp.ts";

const ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const NOW = Date.UTC(2030, 0, 1);
const HOUR = 3600_000;

const setup = async (t: TestContext) => {
  const home = await tmpTree(t);
  const settings = await loadSettings(
    { ...baseEnv(home), DOCKER_CREDENTIAL_CLOUD_STORE: "file", AWS_ACCESS_KEY_ID: "AKIDEXAMPLE" },
    home,
  );
  let clock = NOW;
  const now = () => clock;
  const fetched: string[] = [];
  const loadProvider: ProviderLoader = async () => ({
    fetchToken: async (route) => {
      fetched.push(route.host);
      return { username: "AWS", secret: `cloud-token-${fetched.length}`, expiresAt: now() + 12 * HOUR };
    },
  });
  const log = createLogger("silent", () => {});
  const cache = fileCache(join(home, "cache"), { now, lockWaitMs: 5_000 });
  const deps: CredentialDeps = { settings, log, cache, now, loadProvider };
  const store = openStore({ dataDir: settings.dataDir, mode: "file", env: {}, platform: "linux", log, now });
  const run = (action: string, input = "") => handleDockerAction(action, input, deps, "0.0.0-test", store);
  const creds = (ServerURL: string, Username: string, Secret: string) =>
    JSON.stringify({ ServerURL, Username, Secret });
  return {
    run,
    creds,
    fetched,
    advance: (ms: number) => {
      clock += ms;
    },
  };
};

test("store: missing ServerURL / Username answer the reference helpers' exact texts", async (t) => {
  const { run } = await setup(t);
  for (const [input, line] of [
    ['{"Username":"u","Secret":"s"}', WIRE.missingServerURL],
    ['{"ServerURL":"","Username":"u","Secret":"s"}', WIRE.missingServerURL],
    ["{}", WIRE.missingServerURL], // the server URL is checked first, as in credentials.go
    ['{"ServerURL":"r.example","Secret":"s"}', WIRE.missingUsername],
    ['{"ServerURL":"r.example","Username":"","Secret":"s"}', WIRE.missingUsername],
  ] as const) {
    assert.deepEqual(await run("store", input), { stdout: `${line}\n`, code: 1 }, input);
  }
  assert.deepEqual(await run("list"), { stdout: "{}\n", code: 0 }, "nothing was stored");
});

test("store: unreadable input is one line that never quotes the input (it holds the secret)", async (t) => {
  const { run } = await setup(t);
  for (const input of ['{"ServerURL":"r.example","Username":"u","Secret":"hunter2-secret', "hunter2-secret", "[]"]) {
    const r = await run("store", input);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^docker-credential-cloud: store: .*\n$/);
    assert.doesNotMatch(r.stdout, /hunter2/);
  }
  const r = await run("store", '{"ServerURL":"ftp://r.example","Username":"u","Secret":"s"}');
  assert.match(r.stdout, /"ftp:\/\/r\.example" is not a registry server URL/);
  assert.match((await run("store", '{"ServerURL":"r.example","Username":7}')).stdout, /Username is not a string/);
});

test("an unrelated docker login does not change how an ECR host is served: the cloud route answers", async (t) => {
  const { run, creds, fetched } = await setup(t);
  assert.equal((await run("store", creds("https://registry.example", "alice", "pw"))).code, 0);
  const r = await run("get", ECR);
  assert.equal(r.code, 0, r.stdout);
  assert.deepEqual(JSON.parse(r.stdout), { ServerURL: ECR, Username: "AWS", Secret: "cloud-token-1" });
  assert.deepEqual(fetched, [ECR]);
  assert.deepEqual(await run("get", "other.example"), { stdout: `${WIRE.notFound}\n`, code: 1 });
});

test("credentials stored for an ECR host win over the cloud; erase brings the cloud back", async (t) => {
  const { run, creds, fetched } = await setup(t);
  await run("get", ECR); // a cached cloud token exists for the host
  assert.equal((await run("store", creds(`https://${ECR}`, "AWS", "pasted-token"))).code, 0);
  for (const input of [ECR, `https://${ECR}/`, `${ECR}:443`]) {
    const r = await run("get", input);
    assert.deepEqual(JSON.parse(r.stdout), { ServerURL: `https://${ECR}`, Username: "AWS", Secret: "pasted-token" });
  }
  assert.deepEqual(fetched, [ECR], "the cloud was not asked again");
  assert.equal((await run("erase", ECR)).code, 0);
  const r = await run("get", ECR);
  assert.equal(JSON.parse(r.stdout).Secret, "cloud-token-2", "erase dropped the stored creds AND the cached token");
  assert.deepEqual(fetched, [ECR, ECR]);
});

test("get returns the stored ServerURL, Username and Secret; identity tokens unchanged", async (t) => {
  const { run, creds } = await setup(t);
  await run("store", creds("https://index.docker.io/v1/", "<token>", "id-token"));
  for (const input of ["https://index.docker.io/v1/", "docker.io", "registry-1.docker.io"]) {
    assert.deepEqual(JSON.parse((await run("get", input)).stdout), {
      ServerURL: "https://index.docker.io/v1/",
      Username: "<token>",
      Secret: "id-token",
    });
  }
});

test("list: stored registries under their server URL plus live cached cloud tokens, no network", async (t) => {
  const { run, creds, fetched, advance } = await setup(t);
  await run("get", ECR);
  await run("get", "public.ecr.aws");
  await run("store", creds("https://index.docker.io/v1/", "bob", "pw"));
  await run("store", creds("r.example:5000", "alice", "pw"));
  await run("store", creds("https://public.ecr.aws", "me", "pasted")); // stored wins, so listed as stored
  const calls = fetched.length;
  assert.deepEqual(JSON.parse((await run("list")).stdout), {
    "https://index.docker.io/v1/": "bob",
    "r.example:5000": "alice",
    "https://public.ecr.aws": "me",
    [ECR]: "AWS",
  });
  advance(13 * HOUR); // the cached tokens expire; stored credentials do not
  assert.deepEqual(JSON.parse((await run("list")).stdout), {
    "https://index.docker.io/v1/": "bob",
    "r.example:5000": "alice",
    "https://public.ecr.aws": "me",
  });
  assert.equal(fetched.length, calls, "list never fetches");
});

test("erase of a registry with nothing stored succeeds (docker logout is idempotent)", async (t) => {
  const { run } = await setup(t);
  assert.deepEqual(await run("erase", "never.example"), { stdout: "", code: 0 });
  assert.deepEqual(await run("erase", ""), { stdout: `${WIRE.missingServerURL}\n`, code: 1 });
});
