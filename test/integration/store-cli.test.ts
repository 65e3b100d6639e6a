// store / get / list / erase through the BUILT binary (run `npm run build` first), file backend
// (no D-Bus session in the environment, so `auto` must pick the file), with a fake ECR endpoint on
// 127.0.0.1 that verifies the real AWS SDK's SigV4 signatures (test/support/fake-aws.ts).
import assert from "node:assert/strict";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { baseEnv, type CliResult, runCli, TRACE_LOADS } from "../support/cli.ts";
import { awsEnv, type FakeAws, startFakeAws } from "../support/fake-aws.ts";
import { tmpTree } from "../support/tmp.ts";

/** The JSON a successful CLI run printed (the assertion shows everything when it did not succeed). */
const out = (r: CliResult) => {
  assert.equal(r.code, 0, `exit ${r.code}; stdout: ${r.stdout}; stderr: ${r.stderr}`);
  return JSON.parse(r.stdout);
};

const ECR = "210987654321.dkr.ecr.eu-west-1.amazonaws.com";
const NOT_FOUND = "credentials not found in native keychain\n";

/** A module of ours by source name, in the tsc layout (dist/store/x.js) or a bundle chunk (x-HASH.js). */
const ourModule = (name: string) => new RegExp(`/${name}(?:-[A-Z0-9]+)?\\.[jt]s$`);
/** What a `get` that the index does not send to the store must never load. */
const notOnTheHitPath = (url: string) =>
  /@napi-rs|proper-lockfile|write-file-atomic|@aws-sdk|@smithy/.test(url) ||
  ["keyring", "secrets-file", "files"].some((n) => ourModule(n).test(url));
const ACCESS_KEY = "AKIDSTORETEST0000001";
const SECRET_KEY = "store-test-secret-key";
/** What the fake ECR issues for this identity and region (see fake-aws.ts). */
const ECR_PASSWORD = `pw-eu-west-1-${ACCESS_KEY}`;

describe("store through the CLI, file backend", () => {
  let aws: FakeAws;
  before(async () => {
    aws = await startFakeAws({ keys: { [ACCESS_KEY]: SECRET_KEY } });
  });
  after(() => aws?.close());

  const env = (home: string, extra: Record<string, string> = {}) => ({
    ...baseEnv(home),
    ...awsEnv(aws, ACCESS_KEY, SECRET_KEY),
    ...extra,
  });
  const ecrCalls = () => aws.calls.ecr ?? 0;
  const dataDir = (home: string) => join(home, ".local", "share", "docker-credential-cloud");
  const creds = (ServerURL: string, Username: string, Secret: string) =>
    `${JSON.stringify({ ServerURL, Username, Secret })}\n`;

  test("auto without a Secret Service: file backend, said at debug level; files 0600 in a 0700 dir", async (t) => {
    const home = await tmpTree(t);
    const e = env(home, { DOCKER_CREDENTIAL_CLOUD_LOG: "debug" });
    const s = await runCli(["store"], creds("https://registry.example:5000", "alice", "file-secret"), e);
    assert.equal(s.code, 0, s.stdout + s.stderr);
    assert.equal(s.stdout, "");
    assert.match(
      s.stderr,
      /debug: store backend: file .*docker-credential-cloud\/credentials\.json \(no OS keyring: no D-Bus/,
    );
    assert.doesNotMatch(s.stderr, /file-secret/, "logs never carry the secret");
    assert.equal((await stat(dataDir(home))).mode & 0o777, 0o700);
    for (const f of ["index.json", "credentials.json"]) {
      assert.equal((await stat(join(dataDir(home), f))).mode & 0o777, 0o600, f);
    }
    const g = await runCli(["get"], "registry.example:5000\n", e);
    assert.equal(g.code, 0, g.stdout);
    assert.deepEqual(out(g), {
      ServerURL: "https://registry.example:5000",
      Username: "alice",
      Secret: "file-secret",
    });
    assert.match(g.stderr, /debug: stored credentials for registry\.example:5000 from file /);
  });

  test("auto falling back to the plaintext file says so on stderr; an explicit file mode does not", async (t) => {
    const home = await tmpTree(t);
    const s = await runCli(["store"], creds("registry.example", "alice", "pw-1"), env(home));
    assert.equal(s.code, 0, s.stdout + s.stderr);
    assert.equal(s.stdout, "");
    assert.match(
      s.stderr,
      /^docker-credential-cloud: warn: no OS keyring is reachable, so the secret is stored unencrypted \(mode 0600\) in file .*credentials\.json; set DOCKER_CREDENTIAL_CLOUD_STORE=file/m,
    );
    assert.equal(s.stderr.split("\n").filter((l) => l.includes("unencrypted")).length, 1, "said once");
    const f = await runCli(
      ["store"],
      creds("registry.example", "alice", "pw-2"),
      env(home, { DOCKER_CREDENTIAL_CLOUD_STORE: "file" }),
    );
    assert.equal(f.code, 0, f.stdout + f.stderr);
    assert.doesNotMatch(f.stderr, /unencrypted/);
    const g = await runCli(["get"], "registry.example", env(home));
    assert.doesNotMatch(g.stderr, /unencrypted/, "get does not repeat it");
  });

  test("one normalisation for all four verbs: scheme, trailing slash, :443 and Docker Hub spellings", async (t) => {
    const home = await tmpTree(t);
    const e = env(home);
    for (const url of ["https://r.example:443/v2/", "r.example", "http://r.example/"]) {
      assert.equal((await runCli(["store"], creds(url, "u", `s-${url}`), e)).code, 0);
    }
    assert.equal((await runCli(["store"], creds("https://index.docker.io/v1/", "<token>", "hub-id-token"), e)).code, 0);
    assert.deepEqual(out(await runCli(["list"], "", e)), {
      "http://r.example/": "u",
      "https://index.docker.io/v1/": "<token>",
    });
    assert.equal(out(await runCli(["get"], "r.example:443", e)).Secret, "s-http://r.example/");
    assert.equal(out(await runCli(["get"], "docker.io", e)).Secret, "hub-id-token");
    assert.equal((await runCli(["erase"], "https://R.EXAMPLE:443/", e)).code, 0);
    assert.equal((await runCli(["erase"], "registry-1.docker.io", e)).code, 0);
    assert.deepEqual((await runCli(["get"], "r.example", e)).stdout, NOT_FOUND);
    assert.deepEqual((await runCli(["list"], "", e)).stdout, "{}\n");
  });

  test("20 concurrent stores lose nothing; 20 concurrent logins to one registry leave a matching pair", async (t) => {
    const home = await tmpTree(t);
    const e = env(home);
    const n = Array.from({ length: 20 }, (_, i) => i);
    const results = await Promise.all(
      n.map((i) => runCli(["store"], creds(`r${i}.example`, `user${i}`, `secret-${i}`), e, { timeoutMs: 90_000 })),
    );
    for (const r of results) assert.equal(r.code, 0, r.stdout + r.stderr);
    const listed = out(await runCli(["list"], "", e));
    assert.deepEqual(listed, Object.fromEntries(n.map((i) => [`r${i}.example`, `user${i}`])));
    const secrets = JSON.parse(await readFile(join(dataDir(home), "credentials.json"), "utf8")).entries;
    assert.deepEqual(secrets, Object.fromEntries(n.map((i) => [`r${i}.example`, { secret: `secret-${i}` }])));

    const same = await Promise.all(
      n.map((i) => runCli(["store"], creds("same.example", `user${i}`, `secret-${i}`), e, { timeoutMs: 90_000 })),
    );
    for (const r of same) assert.equal(r.code, 0, r.stdout + r.stderr);
    const got = out(await runCli(["get"], "same.example", e));
    assert.equal(got.Secret, `secret-${got.Username.slice(4)}`, "username and secret come from the same login");
  });

  test("a corrupt index: every verb answers one line naming the file, and the file is not touched", async (t) => {
    const home = await tmpTree(t);
    const e = env(home);
    assert.equal((await runCli(["store"], creds("keep.example", "u", "precious"), e)).code, 0);
    const index = join(dataDir(home), "index.json");
    const broken = (await readFile(index, "utf8")).slice(0, 40);
    await writeFile(index, broken);
    for (const [verb, input] of [
      ["store", creds("new.example", "u", "s")],
      ["get", "keep.example"],
      ["get", ECR],
      ["list", ""],
      ["erase", "keep.example"],
    ] as const) {
      const r = await runCli([verb], input, e);
      assert.equal(r.code, 1, `${verb}: ${r.stdout}`);
      assert.match(
        r.stdout,
        new RegExp(
          `^docker-credential-cloud: ${index}: not valid JSON( \\(at position \\d+\\))?; it was left untouched[^\\n]*\\n$`,
        ),
      );
    }
    assert.equal(await readFile(index, "utf8"), broken);
    assert.match(await readFile(join(dataDir(home), "credentials.json"), "utf8"), /precious/);
  });

  test("a corrupt secrets file: store fails naming it, the file and the index stay as they were", async (t) => {
    const home = await tmpTree(t);
    const e = env(home);
    assert.equal((await runCli(["store"], creds("keep.example", "u", "precious"), e)).code, 0);
    const file = join(dataDir(home), "credentials.json");
    const index = await readFile(join(dataDir(home), "index.json"), "utf8");
    const broken = '{"version":1,"entries":{"keep.example":{"secret":precious}}}'; // the parser would quote it
    await writeFile(file, broken);
    for (const [verb, input] of [
      ["store", creds("new.example", "u", "s")],
      ["get", "keep.example"],
    ] as const) {
      const r = await runCli([verb], input, e);
      assert.equal(r.code, 1);
      assert.match(r.stdout, new RegExp(`^docker-credential-cloud: ${file}: not valid JSON`));
      assert.doesNotMatch(r.stdout + r.stderr, /precious/, "the error never quotes the secrets file");
    }
    assert.equal(await readFile(file, "utf8"), broken);
    assert.equal(await readFile(join(dataDir(home), "index.json"), "utf8"), index);
  });

  test("credsStore-style: a docker login elsewhere leaves ECR on the cloud route; a login to ECR wins; logout restores", async (t) => {
    const home = await tmpTree(t);
    const e = env(home);
    assert.equal((await runCli(["store"], creds("https://registry.example", "alice", "pw"), e)).code, 0);
    const before = ecrCalls();
    const g1 = await runCli(["get"], `https://${ECR}`, e);
    assert.equal(g1.code, 0, g1.stdout + g1.stderr);
    assert.deepEqual(out(g1), { ServerURL: `https://${ECR}`, Username: "AWS", Secret: ECR_PASSWORD });
    assert.equal(ecrCalls(), before + 1, "one signed GetAuthorizationToken call");
    assert.deepEqual(aws.badSignatures, []);

    assert.equal((await runCli(["store"], creds(ECR, "AWS", "pasted-by-user"), e)).code, 0);
    assert.deepEqual(out(await runCli(["get"], ECR, e)), {
      ServerURL: ECR,
      Username: "AWS",
      Secret: "pasted-by-user",
    });
    assert.equal(ecrCalls(), before + 1, "stored credentials are served without the cloud");
    assert.deepEqual(out(await runCli(["list"], "", e)), {
      "https://registry.example": "alice",
      [ECR]: "AWS",
    });

    assert.equal((await runCli(["erase"], `https://${ECR}/`, e)).code, 0);
    assert.equal(out(await runCli(["get"], ECR, e)).Secret, ECR_PASSWORD);
    assert.equal(ecrCalls(), before + 2, "erase also dropped the cached token: a fresh one was fetched");
    assert.deepEqual(out(await runCli(["get"], "registry.example", e)).Secret, "pw");
  });

  test("get for a cloud host with a store index present: cache hit reads the index only (no keyring, lock, writer, SDK)", async (t) => {
    const home = await tmpTree(t);
    const e = env(home);
    assert.equal((await runCli(["store"], creds("registry.example", "alice", "pw"), e)).code, 0);
    assert.equal((await runCli(["get"], ECR, e)).code, 0); // fills the token cache
    const trace = join(home, "trace.txt");
    const traced = { ...e, NODE_OPTIONS: `--import ${TRACE_LOADS}`, DCC_TRACE_LOADS: trace };
    const hit = await runCli(["get"], ECR, traced);
    assert.equal(hit.code, 0, hit.stdout + hit.stderr);
    const loaded = (await readFile(trace, "utf8")).split("\n").filter(Boolean);
    assert.deepEqual(loaded.filter(notOnTheHitPath), []);

    await writeFile(trace, "");
    const stored = await runCli(["get"], "registry.example", traced);
    assert.equal(out(stored).Secret, "pw");
    const loaded2 = (await readFile(trace, "utf8")).split("\n").filter(Boolean);
    assert.ok(
      loaded2.some((u) => ourModule("secrets-file").test(u)),
      loaded2.join("\n"),
    );
    assert.deepEqual(
      loaded2.filter(
        (u) => /@napi-rs|proper-lockfile|write-file-atomic|@aws-sdk/.test(u) || ourModule("keyring").test(u),
      ),
      [],
      "a stored file-backend host loads neither the keyring nor the writers",
    );

    // And the hit path does read the index: once it is unreadable, the same get says so.
    const index = join(dataDir(home), "index.json");
    await writeFile(index, "{");
    const r = await runCli(["get"], ECR, e);
    assert.equal(r.code, 1);
    assert.match(r.stdout, new RegExp(`^docker-credential-cloud: ${index}: not valid JSON`));
  });

  test("DOCKER_CREDENTIAL_CLOUD_STORE=keyring without a keyring: store fails saying so; nothing written", async (t) => {
    const home = await tmpTree(t);
    const r = await runCli(
      ["store"],
      creds("r.example", "u", "s"),
      env(home, { DOCKER_CREDENTIAL_CLOUD_STORE: "keyring" }),
    );
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /^docker-credential-cloud: DOCKER_CREDENTIAL_CLOUD_STORE=keyring, but no OS keyring is reachable: no D-Bus session bus/,
    );
    await assert.rejects(stat(join(dataDir(home), "index.json")), { code: "ENOENT" });
  });
});
