// Security hardening through the BUILT binary (run `npm run build` first), against a fake AWS that
// verifies SigV4 (test/support/fake-aws.ts):
// - the token cache and the credential store trust no directory or file another user could have
//   prepared: not the directory's owner or mode, not a symlink, not another user's file;
// - error lines on stdout are scrubbed; `erase` removes the stored secret even when the cache
//   directory is unusable; a closed or full stdout and a missing home directory give one line
//   (or none), never a stack trace, and never stdout in kubelet mode;
// - server URLs holding characters no registry URL has never reach a cloud.
// The ownership cases need a second uid, so they run as root only (chown to nobody, uid 65534).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync } from "node:fs";
import {
  chmod,
  chown,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { BIN, baseEnv, type CliResult, runCli } from "../support/cli.ts";
import { awsEnv, type FakeAws, startFakeAws } from "../support/fake-aws.ts";
import { tmpTree } from "../support/tmp.ts";

const HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const AKID = "AKIAFAKEHARDENING001";
const SECRET = "fake-secret-for-hardening-tests";
const TOKEN = `pw-eu-west-1-${AKID}`;
const NOBODY = 65534;
const NOT_FOUND = "credentials not found in native keychain\n";
const STACK = /\n\s+at |node:internal|^\S+Error:/m;

const isRoot = process.getuid?.() === 0;
const asRoot = isRoot ? false : "needs root: the paths must belong to another uid (nobody, 65534)";

let fake: FakeAws;
before(async () => {
  fake = await startFakeAws({ keys: { [AKID]: SECRET } });
});
after(() => fake?.close());

const reset = () => fake.reset();
const ecrCalls = () => fake.calls.ecr ?? 0;

const cacheDir = (home: string) => join(home, ".cache", "docker-credential-cloud");
const dataDir = (home: string) => join(home, ".local", "share", "docker-credential-cloud");
const env = (home: string, extra: Record<string, string> = {}) => ({
  ...baseEnv(home),
  ...awsEnv(fake, AKID, SECRET),
  ...extra,
});
const get = (host: string, e: Record<string, string>) => runCli(["get"], `${host}\n`, e);
const creds = (ServerURL: string, Username: string, Secret: string) =>
  `${JSON.stringify({ ServerURL, Username, Secret })}\n`;

/** The token a successful `get` printed. */
const secretOf = (r: CliResult): string => {
  assert.equal(r.code, 0, `exit ${r.code}; stdout: ${r.stdout}; stderr: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { Secret: string }).Secret;
};

/** Everything under `dir`: name, type, owner, mode and content, to prove nothing changed. */
const snapshot = async (dir: string): Promise<string[]> => {
  const out: string[] = [];
  for (const name of (await readdir(dir, { recursive: true })).sort()) {
    const p = join(dir, name);
    const st = await lstat(p);
    const what = st.isSymbolicLink() ? `-> ${await readlink(p)}` : st.isFile() ? await readFile(p, "utf8") : "dir";
    out.push(`${name} ${st.uid}:${st.gid} ${(st.mode & 0o777).toString(8)} ${what}`);
  }
  return out;
};

/** A home whose token cache holds a fresh entry for HOST whose secret is `secret`. */
const homeWithCachedSecret = async (t: Parameters<typeof tmpTree>[0], secret: string): Promise<string> => {
  const home = await tmpTree(t);
  assert.equal(secretOf(await get(HOST, env(home))), TOKEN);
  const file = join(cacheDir(home), "tokens.json");
  const cached = JSON.parse(await readFile(file, "utf8")) as { entries: Record<string, { secret?: string }> };
  for (const e of Object.values(cached.entries)) if (e.secret !== undefined) e.secret = secret;
  await writeFile(file, JSON.stringify(cached));
  return home;
};

describe("token cache: directories and files another user could prepare", () => {
  test("a cache dir owned by nobody, mode 0777, with nobody's tokens.json: not read, not written, one warning", {
    skip: asRoot,
  }, async (t) => {
    reset();
    const home = await homeWithCachedSecret(t, "planted-by-nobody");
    const dir = cacheDir(home);
    for (const p of [dir, join(dir, "tokens.json"), join(dir, "locks")]) await chown(p, NOBODY, NOBODY);
    await chmod(dir, 0o777);
    const before = await snapshot(dir);
    const calls = ecrCalls();

    const r = await get(HOST, env(home));
    assert.equal(secretOf(r), TOKEN, "the token comes from the cloud, not from nobody's file");
    assert.equal(ecrCalls(), calls + 1);
    assert.deepEqual(await snapshot(dir), before, "nothing written in nobody's directory");
    assert.match(r.stderr, /warn: token cache file not used: .*tokens\.json is owned by uid 65534/);
    assert.match(r.stderr, /warn: token cache disabled for this run: .* is owned by uid 65534, not by this user/);
    assert.equal(r.stderr.split("\n").filter(Boolean).length, 2, `one warning each: ${r.stderr}`);
  });

  test("an empty cache dir owned by nobody, mode 0777: token returned, the dir stays empty", {
    skip: asRoot,
  }, async (t) => {
    reset();
    const home = await tmpTree(t);
    const dir = cacheDir(home);
    await mkdir(dir, { recursive: true });
    await chown(dir, NOBODY, NOBODY);
    await chmod(dir, 0o777);
    const r = await get(HOST, env(home));
    assert.equal(secretOf(r), TOKEN);
    assert.deepEqual(await readdir(dir), []);
    assert.match(
      r.stderr,
      /warn: token cache disabled for this run: .*docker-credential-cloud is owned by uid 65534.*chown/,
    );
  });

  test("a cache dir of ours that others may write to (0777) is not used either", async (t) => {
    reset();
    const home = await tmpTree(t);
    const dir = cacheDir(home);
    await mkdir(dir, { recursive: true });
    await chmod(dir, 0o777);
    const r = await get(HOST, env(home));
    assert.equal(secretOf(r), TOKEN);
    assert.deepEqual(await readdir(dir), []);
    assert.match(r.stderr, /is writable by other users \(mode 777\); run chmod 700 /);
  });

  test("a symlinked tokens.json: the link's target is neither read nor overwritten", async (t) => {
    reset();
    const home = await homeWithCachedSecret(t, "planted-through-a-link");
    const dir = cacheDir(home);
    const victim = join(home, "victim.json");
    // The target holds a valid cache (with a planted token) so that following the link would be visible.
    await writeFile(victim, await readFile(join(dir, "tokens.json"), "utf8"));
    const original = await readFile(victim, "utf8");
    await rm(join(dir, "tokens.json"));
    await symlink(victim, join(dir, "tokens.json"));
    const calls = ecrCalls();

    const r = await get(HOST, env(home));
    assert.equal(secretOf(r), TOKEN, "not the planted token behind the link");
    assert.equal(ecrCalls(), calls + 1);
    assert.equal(await readFile(victim, "utf8"), original, "the target is untouched");
    assert.equal(await readlink(join(dir, "tokens.json")), victim, "the link is left as it was");
    assert.match(r.stderr, /warn: token cache file not used: .*tokens\.json is a symbolic link/);
  });

  test("nobody's tokens.json in our own dir: treated as empty and left alone", { skip: asRoot }, async (t) => {
    reset();
    const home = await homeWithCachedSecret(t, "planted-by-nobody");
    const file = join(cacheDir(home), "tokens.json");
    await chown(file, NOBODY, NOBODY);
    const before = await snapshot(cacheDir(home));
    const r = await get(HOST, env(home));
    assert.equal(secretOf(r), TOKEN);
    assert.deepEqual(await snapshot(cacheDir(home)), before);
    assert.match(r.stderr, /tokens\.json is owned by uid 65534, not by this user \(uid 0\); remove it or chown/);
  });
});

describe("credential store: directories and files another user could prepare", () => {
  const fileEnv = (home: string) => env(home, { DOCKER_CREDENTIAL_CLOUD_STORE: "file" });
  /** A failed verb: exit 1 and one line on stdout matching `re`. */
  const refused = (r: CliResult, re: RegExp) => {
    assert.equal(r.code, 1, `exit ${r.code}; stdout: ${r.stdout}; stderr: ${r.stderr}`);
    assert.equal(r.stdout.split("\n").length, 2, `one line: ${r.stdout}`);
    assert.match(r.stdout, re);
    assert.doesNotMatch(r.stdout + r.stderr, STACK);
  };

  test("a data dir owned by nobody, mode 0777: store and erase refuse, naming it and the fix", {
    skip: asRoot,
  }, async (t) => {
    const home = await tmpTree(t);
    const dir = dataDir(home);
    await mkdir(dir, { recursive: true });
    await chown(dir, NOBODY, NOBODY);
    await chmod(dir, 0o777);
    const s = await runCli(["store"], creds("registry.example", "alice", "alice-secret"), fileEnv(home));
    refused(
      s,
      /refusing to use the credential store directory: .*docker-credential-cloud is owned by uid 65534.*chown/,
    );
    assert.ok(s.stdout.includes(dir), "names the directory");
    refused(await runCli(["erase"], "registry.example\n", fileEnv(home)), /owned by uid 65534/);
    assert.deepEqual(await readdir(dir), [], "nothing written");
  });

  test("a data dir of ours that others may write to: store refuses with chmod 700", async (t) => {
    const home = await tmpTree(t);
    const dir = dataDir(home);
    await mkdir(dir, { recursive: true });
    await chmod(dir, 0o775);
    const s = await runCli(["store"], creds("registry.example", "alice", "alice-secret"), fileEnv(home));
    refused(s, /is writable by other users \(mode 775\); run chmod 700 /);
    assert.deepEqual(await readdir(dir), []);
  });

  for (const name of ["index.json", "credentials.json"]) {
    test(`a symlinked ${name}: store refuses naming it, the target is untouched`, async (t) => {
      const home = await tmpTree(t);
      const dir = dataDir(home);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      // A valid, empty store file: following the link would read it and then replace it.
      const victim = join(home, "victim.json");
      await writeFile(victim, '{"version":1,"entries":{}}\n');
      await symlink(victim, join(dir, name));
      const s = await runCli(["store"], creds("registry.example", "alice", "alice-secret"), fileEnv(home));
      refused(s, new RegExp(`refusing to read: .*/${name.replace(".", "\\.")} is a symbolic link`));
      assert.equal(await readFile(victim, "utf8"), '{"version":1,"entries":{}}\n');
      assert.equal(await readlink(join(dir, name)), victim);
      assert.ok(!(await snapshot(dir)).some((l) => l.includes("alice-secret")), "the secret was written nowhere");
    });
  }

  test("nobody's index.json and credentials.json: get refuses naming the file, never serves them", {
    skip: asRoot,
  }, async (t) => {
    reset();
    const home = await tmpTree(t);
    const e = fileEnv(home);
    assert.equal((await runCli(["store"], creds(HOST, "AWS", "stored-by-root"), e)).code, 0);
    const dir = dataDir(home);
    // Another user replaces both files with their own (possible only in a directory they could
    // write to, or by an earlier run under another uid).
    const entries = (f: string) => readFile(join(dir, f), "utf8");
    const creds0 = (await entries("credentials.json")).replace("stored-by-root", "planted-by-nobody");
    const index0 = await entries("index.json");
    for (const [f, text] of [
      ["credentials.json", creds0],
      ["index.json", index0],
    ] as const) {
      await writeFile(join(dir, `${f}.new`), text);
      await chown(join(dir, `${f}.new`), NOBODY, NOBODY);
      await rename(join(dir, `${f}.new`), join(dir, f));
    }
    const g = await get(HOST, e);
    refused(g, /refusing to read: .*index\.json is owned by uid 65534/);
    assert.doesNotMatch(g.stdout, /planted/);
    assert.equal(ecrCalls(), 0);
    refused(await runCli(["list"], "", e), /index\.json is owned by uid 65534/);
  });
});

describe("error lines on stdout are scrubbed", () => {
  test("a failing credential_process that prints a token: the token never reaches stdout", async (t) => {
    reset();
    const leaked = "hvs.CAESIJlWh7x9Qb3T2kV8mR4nP0zA6yL1cF5dG7eH9jK2oU3sXq";
    const home = await tmpTree(t);
    const script = join(home, "creds.sh");
    await writeFile(script, `#!/bin/sh\necho "vault said: token ${leaked} expired" >&2\nexit 1\n`);
    await chmod(script, 0o755);
    await writeFile(join(home, "cfg"), `[profile proc]\ncredential_process = ${script} --token ${leaked}\n`);
    const r = await get(HOST, {
      ...baseEnv(home),
      AWS_ENDPOINT_URL: fake.url,
      AWS_PROFILE: "proc",
      AWS_CONFIG_FILE: join(home, "cfg"),
    });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(r.stdout.split("\n").length, 2, `one line: ${r.stdout}`);
    assert.match(r.stdout, /^docker-credential-cloud: /);
    assert.ok(!r.stdout.includes("CAESIJlWh7x9Qb3T2kV8mR4nP0zA6yL1cF5dG7eH9jK2oU3sXq"), r.stdout);
    assert.ok(!r.stderr.includes("CAESIJlWh7x9Qb3T2kV8mR4nP0zA6yL1cF5dG7eH9jK2oU3sXq"), r.stderr);
    assert.equal(ecrCalls(), 0);
  });
});

describe("erase: the stored secret goes even when the token cache cannot be used", () => {
  test("a cache dir that cannot be created (ENOTDIR): erase succeeds with a warning; the secret is gone", async (t) => {
    reset();
    const home = await tmpTree(t, { "not-a-dir": "x" });
    const e = env(home, { DOCKER_CREDENTIAL_CLOUD_STORE: "file" });
    assert.equal((await runCli(["store"], creds("registry.example", "alice", "alice-secret"), e)).code, 0);
    const broken = { ...e, DOCKER_CREDENTIAL_CLOUD_CACHE_DIR: join(home, "not-a-dir", "cache") };
    const r = await runCli(["erase"], "registry.example\n", broken);
    assert.equal(r.code, 0, `exit ${r.code}; stdout: ${r.stdout}; stderr: ${r.stderr}`);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /warn: could not remove the cached tokens for registry\.example: .*ENOTDIR/);
    assert.equal((await runCli(["get"], "registry.example\n", e)).stdout, NOT_FOUND);
    assert.doesNotMatch(await readFile(join(dataDir(home), "credentials.json"), "utf8"), /alice-secret/);
  });
});

describe("a closed or full stdout, and no home directory", () => {
  /**
   * Runs the CLI with stdout on the descriptor `out`, or ("closed") on a pipe whose read end is
   * closed before the CLI can write: it reads stdin to the end first, and stdin ends only after.
   */
  const withStdout = (args: string[], out: number | "closed", stdin: string, e: Record<string, string>) =>
    new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(BIN, args, { env: e, stdio: ["pipe", out === "closed" ? "pipe" : out, "pipe"] });
      if (out === "closed") child.stdout?.destroy(); // every later write by the child is EPIPE
      let stderr = "";
      child.stderr?.setEncoding("utf8").on("data", (d) => {
        stderr += d;
      });
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      child.on("error", reject);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stderr });
      });
      child.stdin?.end(stdin);
    });

  test("EPIPE on stdout (`get … | true`): exit 1, no stack trace", async (t) => {
    const home = await tmpTree(t);
    const r = await withStdout(["get"], "closed", "quay.io\n", baseEnv(home));
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "");
  });

  test("ENOSPC on stdout (`--help > /dev/full`): exit 1, no stack trace", {
    skip: existsSync("/dev/full") ? false : "no /dev/full on this system",
  }, async (t) => {
    const home = await tmpTree(t);
    const full = openSync("/dev/full", "w");
    t.after(() => closeSync(full));
    const r = await withStdout(["--help"], full, "", baseEnv(home));
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "");
  });

  /** The CLI as uid 12345 (no passwd entry) with no HOME. */
  const noHome = (args: string[], stdin: string) => {
    const e: Record<string, string> = { ...baseEnv("/nonexistent") };
    delete e.HOME;
    for (const k of ["XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"]) delete e[k];
    return runCli(["--reuid=12345", "--regid=12345", "--clear-groups", BIN, ...args], stdin, e, {
      bin: "/usr/bin/setpriv",
    });
  };
  const noSetpriv = asRoot || (existsSync("/usr/bin/setpriv") ? false : "needs /usr/bin/setpriv (util-linux)");

  test("no HOME and a uid without a passwd entry: one clear line on stdout for the Docker verbs", {
    skip: noSetpriv,
  }, async () => {
    const r = await noHome(["get"], "quay.io\n");
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(
      r.stdout,
      "docker-credential-cloud: HOME is not set and the home directory of uid 12345 cannot be found (ENOENT); set HOME\n",
    );
    assert.doesNotMatch(r.stderr, STACK);
  });

  test("no HOME in kubelet mode: the line goes to stderr, stdout stays empty", { skip: noSetpriv }, async () => {
    const request = JSON.stringify({
      kind: "CredentialProviderRequest",
      apiVersion: "credentialprovider.kubelet.k8s.io/v1",
      image: `${HOST}/app:1`,
    });
    const r = await noHome(["kubelet"], request);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^docker-credential-cloud: HOME is not set .*; set HOME\n$/);
  });
});

describe("server URLs with characters no registry URL holds never reach a cloud", () => {
  for (const lookAlike of [
    `${HOST}#@evil.com`,
    `${HOST}?.evil.com`,
    `https://${HOST}/v2/?x`,
    `https://${HOST}#`,
    `${HOST}\\@evil.com`,
    `https://evil.com\\@${HOST}`,
    "123456789012.d\u212Ar.ecr.eu-west-1.amazonaws.com", // KELVIN SIGN lower-cases to "k"
    `${HOST}\u00a0`,
    `${HOST} evil.com`,
    `${HOST}\u0000`,
  ]) {
    test(`${JSON.stringify(lookAlike)} gets not-found and no call`, async (t) => {
      reset();
      const home = await tmpTree(t);
      const r = await runCli(["get"], lookAlike, env(home));
      assert.equal(r.code, 1, r.stdout);
      assert.equal(r.stdout, NOT_FOUND);
      assert.deepEqual(fake.calls, {});
    });
  }
});
