// Kubelet plugin answers survive the process: the kubelet keeps them in memory for its whole life,
// but every `docker pull` through the bridge (`get HOST` with `kubelet:` in our config) and every
// `lookup --json` is a fresh process. The BUILT program runs a counting plugin script (one line in
// <state>/<name>.count per run); answers are kept in the shared token cache under the kubelet's
// rules (cacheKeyType, cacheDuration, defaultCacheDuration, 0 = not kept), keyed by the provider's
// config, args, env and binary, and read by the library too. No timed assertions: expiry is
// observed by polling the count file.
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { createKeyring } from "../../src/index.ts";
import { baseEnv, runCli, TRACE_LOADS } from "../support/cli.ts";
import { lines, sq } from "../support/scripts.ts";
import { tmpTree } from "../support/tmp.ts";

type T = Parameters<typeof tmpTree>[0];
const V1 = "credentialprovider.kubelet.k8s.io/v1";
const SDK = /node_modules\/(?:@aws-sdk|@smithy|google-auth-library|@azure)\//;
const MISS_ONLY = /proper-lockfile|write-file-atomic/;

interface Answer {
  cacheKeyType?: "Image" | "Registry" | "Global";
  /** undefined: no cacheDuration in the response (the provider's default applies). */
  cacheDuration?: string;
  auth: Record<string, [string, string]>;
}

interface Provider {
  name: string;
  matchImages: string[];
  defaultCacheDuration?: string;
  args?: string[];
  env?: { name: string; value: string }[];
}

interface Setup {
  home: string;
  bin: string;
  state: string;
  providerConfig: string;
  env: Record<string, string>;
  runs(name: string): number;
  plugin(name: string, answer: Answer): Promise<void>;
  providers(list: Provider[]): Promise<void>;
  get(host: string, extra?: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }>;
  lookup(image: string): Promise<string[]>;
}

const setup = async (t: T): Promise<Setup> => {
  const home = await tmpTree(t);
  const bin = join(home, "plugins");
  const state = join(home, "state");
  await mkdir(bin);
  await mkdir(state);
  const providerConfig = join(home, "credential-providers.json");
  const ours = join(home, "dcc.yaml");
  await writeFile(ours, `kubelet:\n  providerConfig: ${providerConfig}\n  binDir: ${bin}\n`);
  const env = { ...baseEnv(home), DOCKER_CREDENTIAL_CLOUD_CONFIG: ours, DOCKER_CREDENTIAL_CLOUD_STORE: "file" };
  const s: Setup = {
    home,
    bin,
    state,
    providerConfig,
    env,
    runs: (name) => lines(join(state, `${name}.count`)).length,
    plugin: async (name, a) => {
      const response = JSON.stringify({
        kind: "CredentialProviderResponse",
        apiVersion: V1,
        cacheKeyType: a.cacheKeyType ?? "Registry",
        ...(a.cacheDuration === undefined ? {} : { cacheDuration: a.cacheDuration }),
        auth: Object.fromEntries(
          Object.entries(a.auth).map(([k, [username, password]]) => [k, { username, password }]),
        ),
      });
      // Written beside and renamed into place: a running `get` never sees half a script.
      const file = join(bin, name);
      await writeFile(
        `${file}.new`,
        `#!/bin/sh\ncat > /dev/null\necho run >> ${sq(join(state, `${name}.count`))}\nprintf '%s\\n' ${sq(response)}\n`,
      );
      await chmod(`${file}.new`, 0o755);
      await rename(`${file}.new`, file);
    },
    providers: (list) =>
      writeFile(
        providerConfig,
        JSON.stringify({
          apiVersion: "kubelet.config.k8s.io/v1",
          kind: "CredentialProviderConfig",
          providers: list.map((p) => ({ defaultCacheDuration: "0s", apiVersion: V1, ...p })),
        }),
      ),
    get: (host, extra = {}) => runCli(["get"], host, { ...env, ...extra }),
    lookup: async (image) => {
      const r = await runCli(
        ["lookup", image, "--json", "--kubelet-config", providerConfig, "--kubelet-bin-dir", bin, "--no-docker-config"],
        "",
        env,
      );
      assert.equal(r.code, 0, r.stdout + r.stderr);
      return (JSON.parse(r.stdout) as { authConfigs: { username: string }[] }).authConfigs.map((a) => a.username);
    },
  };
  return s;
};

const secret = (r: { stdout: string }) => (JSON.parse(r.stdout) as { Secret: string }).Secret;

/** Runs `step` until the plugin `name` has run `n` times (bounded by attempts, not by a clock). */
const until = async (s: Setup, name: string, n: number, step: () => Promise<unknown>): Promise<void> => {
  for (let i = 0; i < 200 && s.runs(name) < n; i++) {
    await step();
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(s.runs(name), n, `${name} ran ${n} times`);
};

describe("kubelet plugin answers in the shared token cache", () => {
  test("two `get` processes run the plugin once; the hit runs nothing, loads no SDK and takes no lock", async (t) => {
    const s = await setup(t);
    await s.providers([{ name: "vendor", matchImages: ["*.example.com"], defaultCacheDuration: "1m" }]);
    await s.plugin("vendor", { cacheDuration: "1h", auth: { "reg.example.com": ["robot", "pw-1"] } });
    const trace = (name: string) => ({
      NODE_OPTIONS: `--import ${TRACE_LOADS}`,
      DCC_TRACE_LOADS: join(s.home, name),
    });
    const first = await s.get("reg.example.com", trace("miss.txt"));
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.equal(secret(first), "pw-1");
    const second = await s.get("reg.example.com", trace("hit.txt"));
    assert.equal(second.code, 0, second.stdout + second.stderr);
    assert.equal(second.stdout, first.stdout);
    assert.equal(s.runs("vendor"), 1, "the second process answered from the cache");

    const miss = await readFile(join(s.home, "miss.txt"), "utf8");
    const hit = await readFile(join(s.home, "hit.txt"), "utf8");
    assert.match(miss, MISS_ONLY, "the miss writes the cache, so the tracer can fail");
    assert.doesNotMatch(hit, MISS_ONLY, "a hit takes no lock and writes nothing");
    assert.doesNotMatch(hit, SDK);
    assert.doesNotMatch(miss, SDK);

    const file = join(s.home, ".cache", "docker-credential-cloud", "tokens.json");
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const cached = JSON.parse(readFileSync(file, "utf8")) as { version: number; entries: Record<string, unknown> };
    assert.equal(cached.version, 1);
    const keys = Object.keys(cached.entries);
    assert.equal(keys.length, 1);
    assert.match(keys[0] ?? "", /^kubelet-plugin:[0-9a-f]{32}:-:registry:reg\.example\.com$/);

    // Another registry the same provider matches: a Registry answer does not cover it.
    await s.get("other.example.com");
    assert.equal(s.runs("vendor"), 2);
    // The cache off: nothing is kept across processes.
    await s.get("reg.example.com", { DOCKER_CREDENTIAL_CLOUD_CACHE: "off" });
    assert.equal(s.runs("vendor"), 3);
  });

  test("a malformed plugin entry in the cache file is dropped, never served", async (t) => {
    const s = await setup(t);
    await s.providers([{ name: "vendor", matchImages: ["reg.example.com"] }]);
    await s.plugin("vendor", { cacheDuration: "1h", auth: { "reg.example.com": ["u", "pw"] } });
    await s.get("reg.example.com");
    const file = join(s.home, ".cache", "docker-credential-cloud", "tokens.json");
    const cached = JSON.parse(readFileSync(file, "utf8")) as { entries: Record<string, Record<string, unknown>> };
    for (const e of Object.values(cached.entries)) e.auth = { "reg.example.com": "not-a-list" };
    await writeFile(file, JSON.stringify(cached));
    const r = await s.get("reg.example.com");
    assert.equal(secret(r), "pw", r.stderr);
    assert.equal(s.runs("vendor"), 2, "the malformed entry was a miss");
    await s.get("reg.example.com");
    assert.equal(s.runs("vendor"), 2, "and was replaced by a good one");
  });

  test("concurrent `get`s of one registry run the plugin once", async (t) => {
    const s = await setup(t);
    await s.providers([{ name: "slow", matchImages: ["reg.example.com"] }]);
    await s.plugin("slow", { cacheDuration: "1h", auth: { "reg.example.com": ["u", "pw"] } });
    // Slow the plugin down so the four processes overlap.
    const script = join(s.bin, "slow");
    await writeFile(
      script,
      (await readFile(script, "utf8")).replace("cat > /dev/null\n", "cat > /dev/null\nsleep 1\n"),
    );
    const all = await Promise.all([1, 2, 3, 4].map(() => s.get("reg.example.com")));
    for (const r of all) assert.equal(secret(r), "pw", r.stderr);
    assert.equal(s.runs("slow"), 1);
  });

  test("cacheDuration 0s and defaultCacheDuration 0s are never kept; an absent cacheDuration uses the default", async (t) => {
    const s = await setup(t);
    await s.providers([
      { name: "zero", matchImages: ["zero.example.com"], defaultCacheDuration: "1h" },
      { name: "default", matchImages: ["default.example.com"], defaultCacheDuration: "1h" },
      { name: "nodefault", matchImages: ["nodefault.example.com"], defaultCacheDuration: "0s" },
    ]);
    await s.plugin("zero", { cacheDuration: "0s", auth: { "zero.example.com": ["z", "pw"] } });
    await s.plugin("default", { auth: { "default.example.com": ["d", "pw"] } });
    await s.plugin("nodefault", { auth: { "nodefault.example.com": ["n", "pw"] } });
    for (const host of ["zero.example.com", "default.example.com", "nodefault.example.com"]) {
      for (let i = 0; i < 2; i++) assert.equal((await s.get(host)).code, 0);
    }
    assert.equal(s.runs("zero"), 2, 'cacheDuration "0s": run each time, even with a default');
    assert.equal(s.runs("default"), 1, "no cacheDuration: the provider's default");
    assert.equal(s.runs("nodefault"), 2, 'no cacheDuration and defaultCacheDuration "0s": run each time');
  });

  test("an expired answer is not served: the plugin runs again once its cacheDuration has passed", async (t) => {
    const s = await setup(t);
    await s.providers([{ name: "short", matchImages: ["reg.example.com"] }]);
    await s.plugin("short", { cacheDuration: "1s", auth: { "reg.example.com": ["u", "pw"] } });
    assert.equal(secret(await s.get("reg.example.com")), "pw");
    // Kept for one second (the 1h answers above show it is kept at all); then run again.
    await until(s, "short", 2, () => s.get("reg.example.com"));
    const file = join(s.home, ".cache", "docker-credential-cloud", "tokens.json");
    const { entries } = JSON.parse(readFileSync(file, "utf8")) as { entries: Record<string, { expiresAt: number }> };
    const [entry] = Object.values(entries);
    assert.ok(entry && entry.expiresAt > Date.now() - 5_000, "the new answer replaced the expired one");
  });

  test("another config, other args or env, or a replaced binary is another provider: nothing is shared", async (t) => {
    const s = await setup(t);
    const base: Provider = { name: "vendor", matchImages: ["reg.example.com"] };
    await s.providers([base]);
    await s.plugin("vendor", { cacheDuration: "1h", auth: { "reg.example.com": ["u", "pw"] } });
    await s.get("reg.example.com");
    await s.get("reg.example.com");
    assert.equal(s.runs("vendor"), 1, "unchanged: cached");
    await s.providers([{ ...base, args: ["--region", "eu"] }]);
    await s.get("reg.example.com");
    assert.equal(s.runs("vendor"), 2, "other args");
    await s.providers([{ ...base, args: ["--region", "eu"], env: [{ name: "VENDOR_ROLE", value: "reader" }] }]);
    await s.get("reg.example.com");
    assert.equal(s.runs("vendor"), 3, "other env");
    await s.providers([{ ...base, args: ["--region", "eu"], env: [{ name: "VENDOR_ROLE", value: "reader" }] }]);
    await s.get("reg.example.com");
    assert.equal(s.runs("vendor"), 3, "the same config rewritten: still cached");
    await s.providers([
      {
        ...base,
        args: ["--region", "eu"],
        env: [{ name: "VENDOR_ROLE", value: "reader" }],
        defaultCacheDuration: "5m",
      },
    ]);
    await s.get("reg.example.com");
    assert.equal(s.runs("vendor"), 4, "another defaultCacheDuration: the kubelet would have restarted");
    await s.plugin("vendor", { cacheDuration: "1h", auth: { "reg.example.com": ["u", "pw-upgraded"] } });
    assert.equal(secret(await s.get("reg.example.com")), "pw-upgraded", "an upgraded binary is asked");
    assert.equal(s.runs("vendor"), 5);
  });

  test("cacheKeyType across `lookup` processes, and the library reads the same entries", async (t) => {
    const s = await setup(t);
    await s.providers([
      { name: "image", matchImages: ["img.example.com"] },
      { name: "registry", matchImages: ["reg.example.com"] },
      { name: "global", matchImages: ["*.global.example.com"] },
      // Two providers with the same answer shape for one registry: each keeps its own.
      { name: "twin-a", matchImages: ["twin.example.com"] },
      { name: "twin-b", matchImages: ["twin.example.com"] },
    ]);
    await s.plugin("image", { cacheKeyType: "Image", cacheDuration: "1h", auth: { "img.example.com": ["i", "pw"] } });
    await s.plugin("registry", { cacheDuration: "1h", auth: { "reg.example.com": ["r", "pw"] } });
    await s.plugin("global", {
      cacheKeyType: "Global",
      cacheDuration: "1h",
      auth: { "*.global.example.com": ["g", "pw"] },
    });
    await s.plugin("twin-a", { cacheDuration: "1h", auth: { "twin.example.com": ["a", "pw-a"] } });
    await s.plugin("twin-b", { cacheDuration: "1h", auth: { "twin.example.com": ["b", "pw-b"] } });

    assert.deepEqual(await s.lookup("img.example.com/a:1"), ["i"]);
    assert.deepEqual(await s.lookup("img.example.com/a:2"), ["i"]);
    assert.equal(s.runs("image"), 1, "Image: the same image (tags dropped) is cached");
    await s.lookup("img.example.com/b");
    assert.equal(s.runs("image"), 2, "Image: another image is another run");

    await s.lookup("reg.example.com/a");
    await s.lookup("reg.example.com/b");
    assert.equal(s.runs("registry"), 1, "Registry: every image of the registry");

    assert.deepEqual(await s.lookup("one.global.example.com/x"), ["g"]);
    assert.deepEqual(await s.lookup("two.global.example.com/y"), ["g"]);
    assert.equal(s.runs("global"), 1, "Global: every image the provider matches");

    assert.deepEqual(await s.lookup("twin.example.com/x"), ["a", "b"]);
    assert.deepEqual(await s.lookup("twin.example.com/x"), ["a", "b"]);
    assert.equal(s.runs("twin-a"), 1);
    assert.equal(s.runs("twin-b"), 1);

    // The library, in this process, with the same home: answered from the entries the CLI wrote.
    const k = createKeyring({
      env: s.env,
      home: s.home,
      kubeletConfig: s.providerConfig,
      kubeletBinDir: s.bin,
      dockerConfig: false,
      builtins: false,
      logLevel: "silent",
    });
    t.after(() => k.close());
    for (const image of [
      "img.example.com/a",
      "reg.example.com/c",
      "three.global.example.com/z",
      "twin.example.com/x",
    ]) {
      assert.ok((await k.lookup(image)).length > 0, image);
    }
    assert.deepEqual(
      ["image", "registry", "global", "twin-a", "twin-b"].map((n) => s.runs(n)),
      [2, 1, 1, 1, 1],
      "the library ran nothing",
    );
  });
});
