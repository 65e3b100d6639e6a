// `configure docker` driven through the built CLI: round trips keep every unknown key, the mode,
// make a backup, re-runs change nothing, --dry-run writes nothing; replacing another credsStore
// warns and --migrate copies its logins (a fake docker-credential-fake on PATH) into our store,
// from where `get` answers them.
import assert from "node:assert/strict";
import { chmod, mkdir, readdir, readFile, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { BIN, baseEnv, runCli } from "../support/cli.ts";
import { tmpTree } from "../support/tmp.ts";

const ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const ORIGINAL = {
  auths: { "quay.io": { auth: "dXNlcjpwYXNz" } },
  credHelpers: { "gcr.io": "gcr" },
  psFormat: "table {{.ID}}",
  proxies: { default: { httpProxy: "http://proxy:3128" } },
  "x-unknown": [1, { nested: true }],
};

const setup = async (t: import("node:test").TestContext, config: unknown = ORIGINAL, mode = 0o640) => {
  const home = await tmpTree(t, { ".docker/config.json": `${JSON.stringify(config, null, "\t")}\n` });
  const file = join(home, ".docker", "config.json");
  await chmod(file, mode);
  const env: Record<string, string> = { ...baseEnv(home), DOCKER_CREDENTIAL_CLOUD_STORE: "file" };
  return { home, file, env };
};

const backups = async (home: string) => (await readdir(join(home, ".docker"))).filter((f) => f.endsWith(".bak"));

describe("configure docker", () => {
  test("adds credHelpers, keeps every other key and the mode, backs up, and a re-run changes nothing", async (t) => {
    const { home, file, env } = await setup(t);
    const r = await runCli(
      ["configure", "docker", "--registry", ECR, "--registry", `https://${ECR.toUpperCase()}/`],
      "",
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /updated/);
    const after = JSON.parse(await readFile(file, "utf8"));
    assert.deepEqual(after, { ...ORIGINAL, credHelpers: { "gcr.io": "gcr", [ECR]: "cloud" } });
    assert.equal((await stat(file)).mode & 0o777, 0o640);
    const [bak, ...more] = await backups(home);
    assert.equal(more.length, 0);
    assert.deepEqual(JSON.parse(await readFile(join(home, ".docker", bak as string), "utf8")), ORIGINAL);
    const text = await readFile(file, "utf8");
    const again = await runCli(["configure", "docker", "--registry", ECR], "", env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already configured, nothing to change/);
    assert.equal(await readFile(file, "utf8"), text, "byte for byte unchanged");
    assert.equal((await backups(home)).length, 1, "no second backup");
  });

  test("--dry-run prints the diff and writes nothing", async (t) => {
    const { home, file, env } = await setup(t);
    const before = await readFile(file, "utf8");
    const r = await runCli(["configure", "docker", "--registry", ECR, "--creds-store", "--dry-run"], "", env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /dry run, nothing written/);
    assert.match(r.stdout, new RegExp(`^\\+\\s+"${ECR.replaceAll(".", "\\.")}": "cloud"`, "m"));
    assert.match(r.stdout, /^\+\s+"credsStore": "cloud"/m);
    assert.match(r.stdout, /credHelpers still sends gcr\.io to "gcr"/);
    assert.equal(await readFile(file, "utf8"), before);
    assert.equal((await backups(home)).length, 0);
  });

  test("a new file gets mode 0600 and only what was asked; DOCKER_CONFIG picks the directory", async (t) => {
    const home = await tmpTree(t);
    const dir = join(home, "dc");
    const r = await runCli(["configure", "docker", "--creds-store"], "", { ...baseEnv(home), DOCKER_CONFIG: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(await readFile(join(dir, "config.json"), "utf8")), { credsStore: "cloud" });
    assert.equal((await stat(join(dir, "config.json"))).mode & 0o777, 0o600);
    assert.match(r.stdout, /\/root\/\.docker\/config\.json/, "names root's file for containerd-side tools");
    assert.match(r.stderr, /docker-credential-cloud is not on PATH/);
    await mkdir(join(home, "bin"));
    await symlink(BIN, join(home, "bin", "docker-credential-cloud"));
    const onPath = await runCli(["configure", "docker", "--creds-store"], "", {
      ...baseEnv(home),
      DOCKER_CONFIG: dir,
      PATH: `${join(home, "bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    });
    assert.equal(onPath.code, 0, onPath.stderr);
    assert.equal(onPath.stderr, "");
  });

  test("a malformed file is left untouched with a one-line error; wildcards and paths are refused", async (t) => {
    const home = await tmpTree(t, { ".docker/config.json": '{"auths": {' });
    const env = baseEnv(home);
    const r = await runCli(["configure", "docker", "--registry", ECR], "", env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not valid JSON.*left untouched/);
    assert.equal(r.stderr.trim().split("\n").length, 1);
    assert.equal(await readFile(join(home, ".docker/config.json"), "utf8"), '{"auths": {');
    const w = await runCli(["configure", "docker", "--registry", "*.dkr.ecr.eu-west-1.amazonaws.com"], "", env);
    assert.equal(w.code, 1);
    assert.match(w.stderr, /not wildcards/);
    const p = await runCli(["configure", "docker", "--registry", "gcr.io/project"], "", env);
    assert.equal(p.code, 1);
    assert.match(p.stderr, /host only/);
    const u = await runCli(["configure", "docker", "--bogus"], "", env);
    assert.equal(u.code, 2);
    const none = await runCli(["configure", "docker"], "", env);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /--registry HOST/);
  });

  test("replacing another credsStore warns with its logins; --migrate copies them into our store", async (t) => {
    const { home, file, env } = await setup(t, { ...ORIGINAL, credsStore: "fake" });
    const bin = join(home, "bin");
    const log = join(home, "fake.log");
    await mkdir(bin);
    await writeFile(
      join(bin, "docker-credential-fake"),
      `#!/bin/sh
echo "$1" >> '${log}'
case "$1" in
list) echo '{"https://registry.example.com":"alice","ghcr.io":"bob"}';;
get) read s
  case "$s" in
  https://registry.example.com) echo '{"ServerURL":"https://registry.example.com","Username":"alice","Secret":"secret-alice-1"}';;
  ghcr.io) echo '{"ServerURL":"ghcr.io","Username":"bob","Secret":"secret-bob-2"}';;
  *) echo "credentials not found in native keychain"; exit 1;;
  esac;;
*) exit 1;;
esac
`,
      { mode: 0o755 },
    );
    const penv = { ...env, PATH: `${bin}:${env.PATH}` };
    const warned = await runCli(["configure", "docker", "--creds-store"], "", penv);
    assert.equal(warned.code, 0, warned.stderr);
    assert.match(warned.stderr, /credsStore "fake" holds 2 login\(s\).*ghcr\.io \(bob\).*--migrate/);
    assert.equal(JSON.parse(await readFile(file, "utf8")).credsStore, "cloud");

    // Back to "fake", then migrate.
    await writeFile(file, JSON.stringify({ ...ORIGINAL, credsStore: "fake" }));
    const dry = await runCli(["configure", "docker", "--creds-store", "--migrate", "--dry-run"], "", penv);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /would copy 2 login/);
    const none = await runCli(["get"], "ghcr.io", penv);
    assert.equal(none.code, 1, "dry run stored nothing");
    const m = await runCli(["configure", "docker", "--creds-store", "--migrate"], "", penv);
    assert.equal(m.code, 0, m.stderr);
    assert.match(m.stdout, /copied 2 login\(s\)/);
    assert.ok(!`${m.stdout}${m.stderr}`.includes("secret-"), "no secret printed");
    const got = await runCli(["get"], "ghcr.io", penv);
    assert.equal(got.code, 0, got.stdout);
    assert.deepEqual(JSON.parse(got.stdout), { ServerURL: "ghcr.io", Username: "bob", Secret: "secret-bob-2" });
    const got2 = await runCli(["get"], "registry.example.com", penv);
    assert.equal(JSON.parse(got2.stdout).Secret, "secret-alice-1");
    const after = JSON.parse(await readFile(file, "utf8"));
    assert.deepEqual(after, { ...ORIGINAL, credsStore: "cloud" });
    assert.deepEqual(
      (await readFile(log, "utf8"))
        .trim()
        .split("\n")
        .filter((l) => l === "get").length,
      2,
    );
  });

  test("--root names /root/.docker/config.json (dry run: no write outside the test)", async (t) => {
    const home = await tmpTree(t);
    const r = await runCli(["configure", "docker", "--root", "--registry", ECR, "--dry-run"], "", baseEnv(home));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\/root\/\.docker\/config\.json: (would change|already configured)/m);
  });
});
