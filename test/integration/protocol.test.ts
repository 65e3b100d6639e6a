// The Docker credential-helper protocol as clients see it (docker/docker-credential-helpers):
// exact wire texts on stdout with exit 1, help and version, nothing but protocol on stdout.
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { baseEnv, runCli } from "../support/cli.ts";
import { tmpTree } from "../support/tmp.ts";

test("version", async (t) => {
  const r = await runCli(["version"], "", baseEnv(await tmpTree(t)));
  assert.equal(r.code, 0);
  // The version, the commit it was built from and the runtime running it (issue 14).
  assert.match(
    r.stdout,
    /^docker-credential-cloud \d+\.\d+\.\d+ \(commit (?:[0-9a-f]{7,}|dev|unknown), (?:bun|node) \d+\.\d+\.\d+\)\n$/,
  );
});

test("--help goes to stdout with exit 0 and lists the verbs", async (t) => {
  const r = await runCli(["--help"], "", baseEnv(await tmpTree(t)));
  assert.equal(r.code, 0);
  for (const verb of ["get", "store", "erase", "list", "version"]) assert.match(r.stdout, new RegExp(`\\b${verb}\\b`));
});

test("unknown action: the reference text, exit 1", async (t) => {
  const r = await runCli(["fetch"], "", baseEnv(await tmpTree(t)));
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "Unknown credential action `fetch`\n");
});

test("no action prints usage and exits 1", async (t) => {
  const r = await runCli([], "", baseEnv(await tmpTree(t)));
  assert.equal(r.code, 1);
  assert.match(r.stdout, /Usage:/);
});

test("get with empty input: no credentials server URL", async (t) => {
  for (const input of ["", "\n", "   \n"]) {
    const r = await runCli(["get"], input, baseEnv(await tmpTree(t)));
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "no credentials server URL\n");
  }
});

test("get for garbage or foreign input: not found", async (t) => {
  for (const input of ["not a url at all", "ftp://x", "quay.io", "https://index.docker.io/v1/", "\u0000\u0001"]) {
    const r = await runCli(["get"], input, baseEnv(await tmpTree(t)));
    assert.equal(r.code, 1, input);
    assert.equal(r.stdout, "credentials not found in native keychain\n");
    assert.equal(r.stderr, "", "foreign hosts are not worth a warning");
  }
});

test("a malformed config file: one line naming the file, exit 1, no stack", async (t) => {
  const h = await tmpTree(t, {
    ".config/docker-credential-cloud/config.yaml": "registries:\n  - match: x\n    aws: {profle: dev}\n",
  });
  const r = await runCli(["get"], "123456789012.dkr.ecr.us-east-1.amazonaws.com", baseEnv(h));
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^docker-credential-cloud: .*config\.yaml: registries\[0\]\.aws\.profle: unknown key\n$/);
  // Issue 13 §2: Docker drops a failing helper's stdout, so the cause is on stderr too.
  assert.equal(r.stderr, r.stdout);
});

test("YAML the parser chokes on: an alias inside its own anchor, an unknown tag — one line each, exit 1", async (t) => {
  const cases: [string, RegExp][] = [
    // 15 KB; yaml.parse spends minutes counting these aliases.
    [`a: &a [${"*a,".repeat(5000)}]\n`, /not valid YAML or JSON: the alias \*a is inside its own anchor &a\n$/],
    // yaml.parse prints this as a multi-line process warning on stderr.
    ["registries:\n  - match: !foo x\n", /not valid YAML or JSON: Unresolved tag: !foo at line 2, column 12:?\n$/],
  ];
  for (const [text, expected] of cases) {
    const h = await tmpTree(t, { ".config/docker-credential-cloud/config.yaml": text });
    const r = await runCli(["get"], "gcr.io", baseEnv(h), { timeoutMs: 20_000 });
    assert.equal(r.code, 1, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, expected);
    assert.equal(r.stderr, r.stdout);
  }
});

test("a failing get keeps the protocol line on stdout and repeats the cause on stderr; not found stays quiet", async (t) => {
  const h = await tmpTree(t);
  const bad = await runCli(["get"], "", baseEnv(h));
  assert.equal(bad.code, 1);
  assert.equal(bad.stdout, "no credentials server URL\n");
  assert.equal(bad.stderr, "docker-credential-cloud: no credentials server URL\n");
  const none = await runCli(["get"], "quay.io", baseEnv(h));
  assert.equal(none.code, 1);
  assert.equal(none.stdout, "credentials not found in native keychain\n");
  assert.equal(none.stderr, "");
});

test("a config-file typo does not hide stored logins: get serves them and names the typo on stderr", async (t) => {
  const h = await tmpTree(t);
  const login = JSON.stringify({ ServerURL: "registry.example", Username: "alice", Secret: "pw" });
  assert.equal((await runCli(["store"], login, baseEnv(h))).code, 0);
  await mkdir(join(h, ".config/docker-credential-cloud"), { recursive: true });
  await writeFile(
    join(h, ".config/docker-credential-cloud/config.yaml"),
    "registries:\n  - match: x\n    aws: {profle: dev}\n",
  );
  const r = await runCli(["get"], "registry.example", baseEnv(h));
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { ServerURL: "registry.example", Username: "alice", Secret: "pw" });
  assert.match(
    r.stderr,
    /^docker-credential-cloud: warn: .*config\.yaml: registries\[0\]\.aws\.profle: unknown key; served/m,
  );
  const cloud = await runCli(["get"], "123456789012.dkr.ecr.us-east-1.amazonaws.com", baseEnv(h));
  assert.equal(cloud.code, 1);
  assert.match(cloud.stdout, /profle: unknown key\n$/);
  // `docker build` asks `list` first and sends only what it names: the typo must not empty it.
  const list = await runCli(["list"], "", baseEnv(h));
  assert.equal(list.code, 0, list.stdout + list.stderr);
  assert.deepEqual(JSON.parse(list.stdout), { "registry.example": "alice" });
  assert.match(
    list.stderr,
    /^docker-credential-cloud: warn: .*profle: unknown key; listed only the credentials stored/m,
  );
});

test("an explicit config path that does not exist is an error", async (t) => {
  const h = await tmpTree(t);
  const r = await runCli(["get"], "gcr.io", { ...baseEnv(h), DOCKER_CREDENTIAL_CLOUD_CONFIG: `${h}/nope.yaml` });
  assert.equal(r.code, 1);
  assert.match(r.stdout, /nope\.yaml: config file not found/);
});

test("a custom host maps to ECR only by explicit configuration", async (t) => {
  const h = await tmpTree(t, {
    ".config/docker-credential-cloud/config.yaml":
      'registries:\n  - match: registry.corp.example\n    provider: none\n  - match: mirror.corp.example\n    provider: ecr\n  - match: "*.corp.example"\n    provider: ecr\n',
  });
  const none = await runCli(["get"], "registry.corp.example", baseEnv(h));
  assert.equal(none.stdout, "credentials not found in native keychain\n");
  const missingRegion = await runCli(["get"], "mirror.corp.example", baseEnv(h));
  assert.equal(missingRegion.code, 1);
  assert.match(missingRegion.stdout, /mapped to ecr but its rule sets no aws\.region/);
  // A wildcard rule cannot map arbitrary hosts to a cloud: only that cloud's own hosts.
  const wildcard = await runCli(["get"], "other.corp.example", baseEnv(h));
  assert.equal(wildcard.stdout, "credentials not found in native keychain\n");
});

test("bad environment values are one-line errors", async (t) => {
  const h = await tmpTree(t);
  const r = await runCli(["get"], "gcr.io", { ...baseEnv(h), DOCKER_CREDENTIAL_CLOUD_TIMEOUT: "soon" });
  assert.equal(r.code, 1);
  assert.equal(
    r.stdout,
    'docker-credential-cloud: DOCKER_CREDENTIAL_CLOUD_TIMEOUT: expected a number of seconds from 0 to 86400, got "soon"\n',
  );
});
