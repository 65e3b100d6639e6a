// The keyring backend against a REAL Secret Service: this file starts a private D-Bus session
// (dbus-run-session) with gnome-keyring-daemon unlocked in it and re-runs itself inside that
// session (DCC_STORE_KEYRING_CHILD=1), where the tests drive the BUILT binary and check with
// secret-tool (libsecret) that the items really are in the keyring. Needs the Debian packages
// dbus (dbus-run-session, dbus-daemon), gnome-keyring and libsecret-tools; skipped only when one
// of those binaries is missing.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { baseEnv, type CliResult, runCli, TRACE_LOADS } from "../support/cli.ts";
import { which } from "../support/namespace.ts";
import { tmpTree } from "../support/tmp.ts";

/** The JSON a successful CLI run printed (the assertion shows everything when it did not succeed). */
const out = (r: CliResult) => {
  assert.equal(r.code, 0, `exit ${r.code}; stdout: ${r.stdout}; stderr: ${r.stderr}`);
  return JSON.parse(r.stdout);
};

const CHILD = process.env.DCC_STORE_KEYRING_CHILD === "1";
const SERVICE = "docker-credential-cloud";
const NOT_FOUND = "credentials not found in native keychain\n";
/** The number of tests the child must run (and pass) for the parent to count the run as real. */
const CHILD_TESTS = 8;

if (!CHILD) {
  const missing = ["dbus-run-session", "dbus-daemon", "gnome-keyring-daemon", "secret-tool"].filter((b) => !which(b));
  test("keyring backend against gnome-keyring's Secret Service in a private D-Bus session", {
    skip: missing.length
      ? `missing binaries: ${missing.join(", ")} (Debian: dbus, gnome-keyring, libsecret-tools)`
      : false,
    timeout: 240_000,
  }, async (t) => {
    const home = await tmpTree(t);
    // The keyring's files go to $XDG_DATA_HOME/keyrings inside the temp HOME; the password only
    // unlocks this throw-away login keyring.
    const script = [
      'printf %s "$DCC_KEYRING_PASSWORD" | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 97',
      'exec "$DCC_NODE" --test --test-reporter=tap "$DCC_TEST_FILE"',
    ].join("\n");
    const child = spawn("dbus-run-session", ["--", "sh", "-c", script], {
      env: {
        ...baseEnv(home),
        DCC_STORE_KEYRING_CHILD: "1",
        DCC_KEYRING_PASSWORD: "throw-away-test-keyring",
        DCC_NODE: process.execPath,
        DCC_TEST_FILE: import.meta.filename,
      },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true, // its own process group, killed as a whole below
    });
    t.after(() => {
      try {
        if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d) => {
      out += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d) => {
      out += d;
    });
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), 220_000);
      child.on("close", (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    const count = (what: string) => Number(new RegExp(`^# ${what} (\\d+)$`, "m").exec(out)?.[1] ?? -1);
    assert.notEqual(code, 97, `gnome-keyring-daemon did not start:\n${out}`);
    assert.equal(code, 0, `the tests inside the D-Bus session failed:\n${out}`);
    assert.equal(count("pass"), CHILD_TESTS, `expected ${CHILD_TESTS} passing tests inside the session:\n${out}`);
    assert.equal(count("skipped"), 0, out);
    for (const m of out.matchAll(/^ {4}ok \d+ - (.*)$/gm)) t.diagnostic(`in the session: ${m[1]}`);
  });
} else {
  const bus = process.env.DBUS_SESSION_BUS_ADDRESS ?? "";
  const ECR = "210987654321.dkr.ecr.eu-west-1.amazonaws.com";
  const creds = (ServerURL: string, Username: string, Secret: string) =>
    `${JSON.stringify({ ServerURL, Username, Secret })}\n`;
  const env = (home: string, extra: Record<string, string> = {}) => ({
    ...baseEnv(home),
    DBUS_SESSION_BUS_ADDRESS: bus,
    ...extra,
  });
  const dataDir = (home: string) => join(home, ".local", "share", "docker-credential-cloud");
  const secretTool = (...args: string[]) =>
    new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
      const p = spawn("secret-tool", args, { stdio: ["ignore", "pipe", "inherit"] });
      let stdout = "";
      p.stdout.setEncoding("utf8").on("data", (d) => {
        stdout += d;
      });
      const timer = setTimeout(() => p.kill("SIGKILL"), 30_000);
      p.on("error", reject);
      p.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout });
      });
    });
  const lookup = (account: string) => secretTool("lookup", "service", SERVICE, "username", account);
  const index = async (home: string) => JSON.parse(await readFile(join(dataDir(home), "index.json"), "utf8")).entries;

  describe(`keyring backend (Secret Service at ${bus})`, () => {
    test("the session really has a Secret Service", () => {
      assert.match(bus, /^unix:/);
    });

    test("auto: store puts the secret in the keyring (seen by secret-tool), get/list serve it, erase removes it", async (t) => {
      const home = await tmpTree(t);
      const e = env(home, { DOCKER_CREDENTIAL_CLOUD_LOG: "debug" });
      const s = await runCli(["store"], creds("https://registry.example:5000", "alice", "kr-s3cret ✓"), e);
      assert.equal(s.code, 0, s.stdout + s.stderr);
      assert.match(
        s.stderr,
        /debug: store backend: the OS keyring \(Secret Service, service docker-credential-cloud\)/,
      );
      assert.deepEqual(await lookup("registry.example:5000"), { code: 0, stdout: "kr-s3cret ✓" });
      assert.equal((await index(home))["registry.example:5000"].backend, "keyring");
      assert.equal(existsSync(join(dataDir(home), "credentials.json")), false, "no secret went to a file");
      assert.doesNotMatch(await readFile(join(dataDir(home), "index.json"), "utf8"), /kr-s3cret/);

      const g = await runCli(["get"], "registry.example:5000", e);
      assert.deepEqual(out(g), {
        ServerURL: "https://registry.example:5000",
        Username: "alice",
        Secret: "kr-s3cret ✓",
      });
      assert.deepEqual(out(await runCli(["list"], "", e)), {
        "https://registry.example:5000": "alice",
      });

      assert.equal((await runCli(["erase"], "https://registry.example:5000/", e)).code, 0);
      assert.equal((await lookup("registry.example:5000")).code, 1, "the keyring item is gone");
      assert.deepEqual(await index(home), {});
      assert.equal((await runCli(["get"], "registry.example:5000", e)).stdout, NOT_FOUND);
    });

    test("identity tokens and Docker Hub round-trip unchanged; forced keyring mode works", async (t) => {
      const home = await tmpTree(t);
      const e = env(home, { DOCKER_CREDENTIAL_CLOUD_STORE: "keyring" });
      const token = `eyJhbGciOiJSUzI1NiJ9.${"a".repeat(2000)}.sig`;
      assert.equal((await runCli(["store"], creds("https://index.docker.io/v1/", "<token>", token), e)).code, 0);
      assert.equal((await lookup("https://index.docker.io/v1/")).stdout, token);
      for (const url of ["https://index.docker.io/v1/", "docker.io"]) {
        assert.deepEqual(out(await runCli(["get"], url, e)), {
          ServerURL: "https://index.docker.io/v1/",
          Username: "<token>",
          Secret: token,
        });
      }
      assert.equal((await runCli(["erase"], "docker.io", e)).code, 0);
      assert.equal((await lookup("https://index.docker.io/v1/")).code, 1);
    });

    test("a secret stored in the file backend moves to the keyring on the next login; no copy stays in the file", async (t) => {
      const home = await tmpTree(t);
      assert.equal(
        (
          await runCli(
            ["store"],
            creds("r.example", "u", "old-file"),
            env(home, { DOCKER_CREDENTIAL_CLOUD_STORE: "file" }),
          )
        ).code,
        0,
      );
      assert.match(await readFile(join(dataDir(home), "credentials.json"), "utf8"), /old-file/);
      assert.equal((await lookup("r.example")).code, 1, "file mode wrote nothing to the keyring");
      assert.equal((await runCli(["store"], creds("r.example", "u", "new-kr"), env(home))).code, 0);
      assert.equal((await lookup("r.example")).stdout, "new-kr");
      assert.doesNotMatch(await readFile(join(dataDir(home), "credentials.json"), "utf8"), /old-file|new-kr/);
      assert.equal(out(await runCli(["get"], "r.example", env(home))).Secret, "new-kr");
      assert.equal((await runCli(["erase"], "r.example", env(home))).code, 0);
    });

    test("logout after the index was lost still removes the keyring item", async (t) => {
      const home = await tmpTree(t);
      assert.equal((await runCli(["store"], creds("lost.example", "u", "orphan"), env(home))).code, 0);
      await rm(join(dataDir(home), "index.json"));
      assert.equal(
        (await runCli(["get"], "lost.example", env(home))).stdout,
        NOT_FOUND,
        "not in the index: not served",
      );
      assert.equal((await runCli(["erase"], "lost.example", env(home))).code, 0);
      assert.equal((await lookup("lost.example")).code, 1);
    });

    test("20 concurrent stores into the keyring lose nothing", async (t) => {
      const home = await tmpTree(t);
      const e = env(home);
      const n = Array.from({ length: 20 }, (_, i) => i);
      const results = await Promise.all(
        n.map((i) => runCli(["store"], creds(`k${i}.example`, `user${i}`, `secret-${i}`), e, { timeoutMs: 120_000 })),
      );
      for (const r of results) assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.deepEqual(
        out(await runCli(["list"], "", e)),
        Object.fromEntries(n.map((i) => [`k${i}.example`, `user${i}`])),
      );
      for (const i of n) assert.equal((await lookup(`k${i}.example`)).stdout, `secret-${i}`);
      await Promise.all(n.map((i) => runCli(["erase"], `k${i}.example`, e, { timeoutMs: 120_000 })));
      assert.deepEqual(await index(home), {});
      for (const i of [0, 19]) assert.equal((await lookup(`k${i}.example`)).code, 1);
    });

    test("with a Secret Service present, get for a host that is not stored still loads no keyring module", async (t) => {
      const home = await tmpTree(t);
      const e = env(home);
      assert.equal((await runCli(["store"], creds("registry.example", "alice", "pw"), e)).code, 0);
      const trace = join(home, "trace.txt");
      const r = await runCli(["get"], ECR, { ...e, NODE_OPTIONS: `--import ${TRACE_LOADS}`, DCC_TRACE_LOADS: trace });
      // No AWS identity in this environment: the cloud route says not found (and writes its negative
      // cache entry, so the token cache's writer is loaded — the keyring must not be).
      assert.equal(r.stdout, NOT_FOUND);
      const loaded = (await readFile(trace, "utf8")).split("\n");
      // Source names in the tsc layout (dist/store/os-keychain.js) or bundle chunks (os-keychain-HASH.js).
      assert.deepEqual(
        loaded.filter((u) => /@napi-rs|\/(?:keyring|os-keychain|secrets-file)(?:-[A-Z0-9]+)?\.[jt]s$/.test(u)),
        [],
      );
      assert.ok((await stat(join(dataDir(home), "index.json"))).isFile());
      assert.equal((await runCli(["erase"], "registry.example", e)).code, 0);
    });

    test("a keyring-stored registry while no Secret Service is reachable: get fails saying so", async (t) => {
      const home = await tmpTree(t);
      assert.equal((await runCli(["store"], creds("kr-only.example", "u", "s"), env(home))).code, 0);
      const r = await runCli(["get"], "kr-only.example", baseEnv(home)); // no DBUS_SESSION_BUS_ADDRESS
      assert.equal(r.code, 1);
      assert.match(
        r.stdout,
        /^docker-credential-cloud: the credentials for kr-only\.example are in the OS keyring, which is not reachable: no D-Bus session bus/,
      );
      assert.equal((await runCli(["erase"], "kr-only.example", env(home))).code, 0);
    });
  });
}
