// YAML the parser chokes on — an alias inside its own anchor (yaml.parse spends minutes counting
// 15 KB of them) and an unknown tag (yaml.parse prints a multi-line process warning) — in every
// YAML file the program reads besides its own config (protocol.test.ts): the kubelet's
// CredentialProviderConfig (configure kubelet --check, configure kubelet, lookup --kubelet-config)
// and the pull-secrets config. Each ends promptly (the harness kills a hang after 20 s) in one line
// naming the file, with its defined exit code.
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { baseEnv, runCli } from "../support/cli.ts";
import { tmpTree } from "../support/tmp.ts";

const KUBELET_HEAD = "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\n";
const BOMB = `&a [${"*a,".repeat(5000)}]`;
const CASES: [string, string, RegExp][] = [
  ["alias-cycle", BOMB, /the alias \*a is inside its own anchor &a/],
  ["unknown-tag", "!foo []", /Unresolved tag: !foo/],
];
const OPTS = { timeoutMs: 20_000 };

/** One line on `stream`, nothing on the other; no process warning, no stack. */
const oneLine = (r: { stdout: string; stderr: string }, stream: "stdout" | "stderr", want: RegExp, what: string) => {
  const other = stream === "stdout" ? r.stderr : r.stdout;
  assert.equal(r[stream].trim().split("\n").length, 1, `${what}: ${r[stream]}`);
  assert.match(r[stream], want, what);
  assert.equal(other, "", `${what}: ${other}`);
};

test("configure kubelet --check: one line naming the file, exit 1", async (t) => {
  const home = await tmpTree(t);
  for (const [what, value, want] of CASES) {
    const file = join(home, `${what}.yaml`);
    await writeFile(file, `${KUBELET_HEAD}providers: ${value}\n`);
    const r = await runCli(["configure", "kubelet", "--check", file], "", baseEnv(home), OPTS);
    assert.equal(r.code, 1, `${what}: ${r.code} ${r.stdout}${r.stderr}`);
    oneLine(r, "stdout", new RegExp(`${what}\\.yaml(:\\d+)?: error decoding config: ${want.source}`), what);
  }
});

test("configure kubelet over such a file: left untouched, one line, exit 1", async (t) => {
  const home = await tmpTree(t);
  const bin = join(home, "bin");
  await mkdir(bin);
  for (const [what, value] of CASES) {
    const file = join(home, `${what}.yaml`);
    const text = `${KUBELET_HEAD}providers: ${value}\n`;
    await writeFile(file, text);
    const r = await runCli(["configure", "kubelet", "--config", file, "--bin-dir", bin], "", baseEnv(home), OPTS);
    assert.equal(r.code, 1, `${what}: ${r.code} ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, new RegExp(`${what}\\.yaml: not a YAML mapping; it was left untouched`), what);
    assert.equal(r.stderr.trim().split("\n").length, 1, `${what}: ${r.stderr}`);
    assert.equal(await readFile(file, "utf8"), text);
  }
});

test("lookup --kubelet-config: the kubelet providers are off with one warning line; the lookup answers", async (t) => {
  const home = await tmpTree(t);
  const bin = join(home, "bin");
  await mkdir(bin);
  for (const [what, value, want] of CASES) {
    const file = join(home, `${what}.yaml`);
    await writeFile(file, `${KUBELET_HEAD}providers: ${value}\n`);
    const r = await runCli(
      ["lookup", "gcr.io/project/image", "--no-builtins", "--kubelet-config", file, "--kubelet-bin-dir", bin],
      "",
      baseEnv(home),
      OPTS,
    );
    assert.equal(r.code, 0, `${what}: ${r.code} ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /no credentials/, what);
    assert.equal(r.stderr.trim().split("\n").length, 1, `${what}: ${r.stderr}`);
    assert.match(
      r.stderr,
      new RegExp(`kubelet credential providers are off: .*${what}\\.yaml: error decoding config: ${want.source}`),
      what,
    );
  }
});

test("pull-secrets --config: one line naming the file, exit 2", async (t) => {
  const home = await tmpTree(t);
  for (const [what, value, want] of CASES) {
    const file = join(home, `${what}.yaml`);
    await writeFile(file, `registries: ${value}\n`);
    const r = await runCli(["pull-secrets", "--config", file, "--once"], "", baseEnv(home), OPTS);
    assert.equal(r.code, 2, `${what}: ${r.code} ${r.stdout}${r.stderr}`);
    oneLine(r, "stderr", new RegExp(`pull-secrets: .*${what}\\.yaml: not valid YAML or JSON \\(${want.source}`), what);
  }
});
