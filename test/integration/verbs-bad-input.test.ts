// The operator verbs (doctor, explain, configure) on bad input, as a new user types it: a usage
// error is ONE line on stderr with the verb's exit code (no help text dumped after it), a huge
// argument is never echoed back whole, and configure does not write a "host" no client can reach.
// doctor also names a token cache directory its owner cannot use (as `get` warns about it).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { chmod, chown, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { BIN, baseEnv, runCli } from "../support/cli.ts";
import { tmpTree } from "../support/tmp.ts";

const BIG = "a".repeat(100_000);
const isRoot = process.getuid?.() === 0;

/** One line, naming the verb, with no more than `max` characters: the input is not echoed whole. */
const oneShortLine = (stderr: string, verb: string, what: string, max = 1000) => {
  assert.match(stderr, new RegExp(`^docker-credential-cloud ${verb}[ :]`), what);
  assert.equal(stderr.split("\n").length, 2, `${what}: one line, got:\n${stderr.slice(0, 400)}`);
  assert.ok(stderr.length < max, `${what}: ${stderr.length} characters on stderr`);
};

describe("operator verbs on bad input", () => {
  test("doctor and explain: a parseArgs error is one line (with where to look), exit 1", async (t) => {
    const env = baseEnv(await tmpTree(t));
    for (const args of [
      ["doctor", "--bogus"],
      ["doctor", "extra"],
      ["doctor", "--json=yes"],
      ["explain", "--bogus", "gcr.io/p/i"],
      ["explain", "--as"],
    ]) {
      const r = await runCli(args, "", env);
      assert.equal(r.code, 1, args.join(" "));
      assert.equal(r.stdout, "");
      oneShortLine(r.stderr, args[0] ?? "", args.join(" "));
      assert.match(r.stderr, new RegExp(`\\(${args[0]} --help\\)\\n$`));
    }
  });

  test("a 100 KB argument is never echoed back whole, by any verb", async (t) => {
    const env = baseEnv(await tmpTree(t));
    for (const [args, code, verb] of [
      [["doctor", `--x${BIG}`], 1, "doctor"],
      [["doctor", BIG], 1, "doctor"],
      [["explain", `--x${BIG}`, "gcr.io/p/i"], 1, "explain"],
      [["explain", `gcr.io/${BIG}`], 1, "explain"],
      [["explain", `${BIG}.io`], 1, "explain"],
      [["configure", "docker", `--x${BIG}`], 2, "configure"],
      [["configure", BIG], 2, "configure"],
      [["configure", "kubelet", "--cloud", BIG, "--dry-run"], 1, "configure"],
    ] as const) {
      const r = await runCli(args, "", env);
      const what = `${args.join(" ").slice(0, 40)}…`;
      assert.equal(r.code, code, `${what}: ${r.stderr.slice(0, 200)}`);
      assert.equal(r.stdout, "", what);
      oneShortLine(r.stderr, verb, what);
    }
    // lookup shares the reference parser (the kubelet's wording, clipped; lookup adds its usage text).
    const l = await runCli(["lookup", `gcr.io/${BIG}`], "", env);
    assert.equal(l.code, 2);
    assert.match(l.stderr, /couldn't parse image name "gcr\.io\/a+… \(\d+ characters\)/);
    assert.ok(
      l.stdout.length + l.stderr.length < 3000,
      `lookup echoed ${l.stdout.length + l.stderr.length} characters`,
    );
  });

  test("configure refuses a registry host longer than DNS allows and leaves the file untouched", async (t) => {
    const original = '{"auths": {}, "zzz": 1}\n';
    const home = await tmpTree(t, { ".docker/config.json": original });
    const env = baseEnv(home);
    for (const host of [`${BIG}.io`, `${"b".repeat(64)}.example.com`, `${"c.".repeat(127)}io`]) {
      const r = await runCli(["configure", "docker", "--registry", host], "", env);
      assert.equal(r.code, 1, `${host.slice(0, 30)}…: ${r.stdout.slice(0, 200)}`);
      oneShortLine(r.stderr, "configure", host.slice(0, 30));
      assert.match(r.stderr, /not a registry host name/);
    }
    assert.equal(await readFile(join(home, ".docker/config.json"), "utf8"), original);
    // The longest legal name still works.
    const ok = `${"d".repeat(63)}.${"e".repeat(63)}.example.com`;
    const r = await runCli(["configure", "docker", "--registry", ok], "", env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(await readFile(join(home, ".docker/config.json"), "utf8")).credHelpers[ok], "cloud");
  });

  test("doctor names a token cache directory its owner cannot read or write (mode 000): exit 4", {
    skip: isRoot && existsSync("/usr/bin/setpriv") ? false : "needs root and setpriv (runs as uid 12345)",
  }, async (t) => {
    const home = await tmpTree(t);
    await chmod(home, 0o755);
    const cache = join(home, ".cache", "docker-credential-cloud");
    await mkdir(cache, { recursive: true });
    await writeFile(join(cache, "tokens.json"), '{"version":1,"entries":{}}');
    for (const p of [home, join(home, ".cache"), cache, join(cache, "tokens.json")]) await chown(p, 12345, 12345);
    await chmod(cache, 0o000);
    const r = await runCli(["--reuid=12345", "--regid=12345", "--clear-groups", BIN, "doctor"], "", baseEnv(home), {
      bin: "/usr/bin/setpriv",
    });
    assert.equal(r.code, 4, r.stdout + r.stderr);
    assert.ok(
      r.stdout.includes(`✗ problem: token cache: ${cache} cannot be read and written by this user (mode 000, EACCES)`),
      r.stdout,
    );
    await chmod(cache, 0o700);
    const fine = await runCli(
      ["--reuid=12345", "--regid=12345", "--clear-groups", BIN, "doctor", "--json"],
      "",
      baseEnv(home),
      {
        bin: "/usr/bin/setpriv",
      },
    );
    assert.equal(JSON.parse(fine.stdout).cache.problem, undefined, fine.stdout);
  });
});
