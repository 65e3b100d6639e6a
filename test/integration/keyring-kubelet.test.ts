// The keyring library against a real kubelet CredentialProviderConfig and real plugin programs
// (tiny shell scripts in a temp bin dir that record their stdin, argv and environment): matching,
// the exact request bytes, args and env as the kubelet passes them, the order of the answers, the
// per-provider cache (cacheKeyType, cacheDuration), strict reading of responses, and failures —
// a broken, lying or hanging plugin is logged and skipped while the next provider still answers.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { createKeyring, type KeyringOptions } from "../../src/index.ts";
import { baseEnv } from "../support/cli.ts";
import { lines, sq, waitFor } from "../support/scripts.ts";
import { tmpTree } from "../support/tmp.ts";

type T = Parameters<typeof tmpTree>[0];
const V1 = "credentialprovider.kubelet.k8s.io/v1";

const response = (auth: Record<string, [string, string]>, over: Record<string, unknown> = {}) =>
  JSON.stringify({
    kind: "CredentialProviderResponse",
    apiVersion: V1,
    cacheKeyType: "Registry",
    cacheDuration: "0s",
    auth: Object.fromEntries(Object.entries(auth).map(([k, [username, password]]) => [k, { username, password }])),
    ...over,
  });

interface PluginOpts {
  /** stdout to print (default: an empty valid response). */
  stdout?: string;
  code?: number;
  stderr?: string;
  /** Wait for <state>/release before answering (bounded). */
  release?: boolean;
  /** Extra shell run before answering. */
  body?: string;
}

/**
 * A plugin program <bin>/<name>: appends its stdin to <state>/<name>.requests (exact bytes, so one
 * request per line thanks to the kubelet's trailing newline), its argv to <name>.args and $FOO
 * $BAR to <name>.env, then prints `stdout` and exits with `code`.
 */
const plugin = async (bin: string, state: string, name: string, o: PluginOpts = {}) => {
  const st = (f: string) => sq(join(state, `${name}.${f}`));
  const wait = o.release
    ? `i=0; while [ ! -e ${sq(join(state, "release"))} ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done\n`
    : "";
  const script = `#!/bin/sh
cat >> ${st("requests")}
printf '%s\\n' "$*" >> ${st("args")}
printf '%s %s\\n' "$FOO" "$BAR" >> ${st("env")}
${o.body ?? ""}${wait}${o.stderr ? `printf '%s\\n' ${sq(o.stderr)} >&2\n` : ""}printf '%s\\n' ${sq(o.stdout ?? response({}))}
exit ${o.code ?? 0}
`;
  const file = join(bin, name);
  await writeFile(file, script);
  await chmod(file, 0o755);
};

interface ProviderSpec {
  name: string;
  matchImages: string[];
  defaultCacheDuration?: string;
  apiVersion?: string;
  args?: string[];
  env?: { name: string; value: string }[];
  tokenAttributes?: Record<string, unknown>;
}

const kubeletConfig = (providers: ProviderSpec[]) =>
  JSON.stringify({
    apiVersion: "kubelet.config.k8s.io/v1",
    kind: "CredentialProviderConfig",
    providers: providers.map((p) => ({ defaultCacheDuration: "0s", apiVersion: V1, ...p })),
  });

interface Setup {
  home: string;
  bin: string;
  state: string;
  logs: string[];
  options: KeyringOptions;
  requests(name: string): string[];
  calls(name: string): number;
}

const setup = async (t: T, providers: ProviderSpec[] | string, extra: Partial<KeyringOptions> = {}): Promise<Setup> => {
  const home = await tmpTree(t, {
    "kubelet/config.json": typeof providers === "string" ? providers : kubeletConfig(providers),
  });
  const bin = join(home, "plugins");
  const state = join(home, "state");
  await mkdir(bin);
  await mkdir(state);
  const logs: string[] = [];
  const log = (l: string) => (m: string) => logs.push(`${l} ${m}`);
  return {
    home,
    bin,
    state,
    logs,
    options: {
      env: { ...baseEnv(home), FOO: "inherited-foo", BAR: "inherited-bar" },
      kubeletConfig: join(home, "kubelet", "config.json"),
      kubeletBinDir: bin,
      dockerConfig: false,
      // No built-in fetchers: these tests are about plugin programs (and must never reach a cloud).
      builtins: false,
      logger: { error: log("error"), warn: log("warn"), info: log("info"), debug: log("debug") },
      logLevel: "debug",
      ...extra,
    },
    requests: (name) => lines(join(state, `${name}.requests`)),
    calls: (name) => lines(join(state, `${name}.requests`)).length,
  };
};

const users = (r: { username?: string }[]) => r.map((a) => a.username);

describe("keyring: kubelet credential providers", () => {
  test("the request, args and env as the kubelet passes them; answers in the kubelet's order", async (t) => {
    const s = await setup(t, [
      {
        name: "glob-provider",
        matchImages: ["*.example.com"],
        args: ["get-credentials", "--v=3"],
        env: [{ name: "FOO", value: "from-config" }],
      },
      { name: "host-provider", matchImages: ["reg.example.com"] },
      { name: "never", matchImages: ["other.example.org"] },
    ]);
    await plugin(s.bin, s.state, "glob-provider", {
      stdout: response({
        "*.example.com": ["glob", "pw-glob"],
        "https://reg.example.com/v2/team": ["team", "pw-team"],
        "*": ["star", "pw-star"],
      }),
    });
    await plugin(s.bin, s.state, "host-provider", {
      stdout: response({ "reg.example.com": ["host", "pw-host"], "*.example.com": ["glob-2", "pw-glob-2"] }),
    });
    await plugin(s.bin, s.state, "never");
    const k = createKeyring(s.options);
    t.after(() => k.close());

    const r = await k.lookup(`reg.example.com/team/app:1.2@sha256:${"b".repeat(64)}`);
    assert.deepEqual(
      users(r),
      ["team", "host", "glob", "glob-2"],
      "specific keys first; a '*' key never matches a dotted host",
    );
    assert.equal(r[0]?.serverAddress, "https://reg.example.com");
    assert.equal(r[0]?.password, "pw-team");
    assert.deepEqual(s.requests("glob-provider"), [
      `{"kind":"CredentialProviderRequest","apiVersion":"${V1}","image":"reg.example.com/team/app"}`,
    ]);
    assert.deepEqual(lines(join(s.state, "glob-provider.args")), ["get-credentials --v=3"]);
    assert.deepEqual(lines(join(s.state, "glob-provider.env")), ["from-config inherited-bar"], "config env overrides");
    assert.equal(readFileSync(join(s.state, "host-provider.args"), "utf8"), "\n", "no args");
    assert.equal(s.calls("never"), 0, "a provider whose matchImages do not match is not run");

    assert.deepEqual(users(await k.lookup("other.example.com/x")), ["glob"], "only glob-provider matches");
    assert.ok(!s.logs.some((l) => l.startsWith("warn") || l.includes("pw-")), s.logs.join("\n"));
  });

  test("YAML configs and a directory of them, merged in name order", async (t) => {
    const s = await setup(t, [{ name: "unused", matchImages: ["x.io"] }]);
    const dir = join(s.home, "kubelet.d");
    await mkdir(dir);
    await writeFile(
      join(dir, "20-b.yaml"),
      `apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
  - name: b
    matchImages: ["reg.example.com"]
    defaultCacheDuration: 0s
    apiVersion: ${V1}
`,
    );
    await writeFile(join(dir, "10-a.json"), kubeletConfig([{ name: "a", matchImages: ["reg.example.com"] }]));
    await plugin(s.bin, s.state, "a", { stdout: response({ "reg.example.com": ["from-a", "1"] }) });
    await plugin(s.bin, s.state, "b", { stdout: response({ "reg.example.com": ["from-b", "2"] }) });
    const k = createKeyring({ ...s.options, kubeletConfig: dir });
    assert.deepEqual(users(await k.lookup("reg.example.com/app")), ["from-a", "from-b"], "same key: provider order");
  });

  test("Registry answers are cached for their cacheDuration and serve other images of the registry", async (t) => {
    const s = await setup(t, [
      { name: "registry", matchImages: ["reg.example.com", "reg2.example.com"] },
      { name: "image", matchImages: ["img.example.com"] },
      { name: "nocache", matchImages: ["zero.example.com"], defaultCacheDuration: "1h" },
      { name: "default", matchImages: ["default.example.com"], defaultCacheDuration: "1h" },
      { name: "global", matchImages: ["*.global.example.com"] },
    ]);
    await plugin(s.bin, s.state, "registry", {
      stdout: response({ "*.example.com": ["r", "pw"] }, { cacheDuration: "1h" }),
    });
    await plugin(s.bin, s.state, "image", {
      stdout: response({ "img.example.com": ["i", "pw"] }, { cacheKeyType: "Image", cacheDuration: "1h" }),
    });
    await plugin(s.bin, s.state, "nocache", { stdout: response({ "zero.example.com": ["z", "pw"] }) });
    await plugin(s.bin, s.state, "default", {
      stdout: response({ "default.example.com": ["d", "pw"] }, { cacheDuration: undefined }),
    });
    await plugin(s.bin, s.state, "global", {
      stdout: response({ "*.global.example.com": ["g", "pw"] }, { cacheKeyType: "Global", cacheDuration: "1h" }),
    });
    const k = createKeyring(s.options);
    for (const image of ["reg.example.com/a", "reg.example.com/b:1", "reg.example.com/a"]) {
      assert.deepEqual(users(await k.lookup(image)), ["r"]);
    }
    assert.equal(s.calls("registry"), 1, "one run for the registry");
    await k.lookup("reg2.example.com/a");
    assert.equal(s.calls("registry"), 2, "another registry: another run");

    await k.lookup("img.example.com/a");
    await k.lookup("img.example.com/a:2");
    await k.lookup("img.example.com/b");
    assert.equal(s.calls("image"), 2, "Image: one run per image");

    await k.lookup("zero.example.com/a");
    await k.lookup("zero.example.com/a");
    assert.equal(s.calls("nocache"), 2, 'cacheDuration "0s": never kept, even with a default');

    await k.lookup("default.example.com/a");
    await k.lookup("default.example.com/a");
    assert.equal(s.calls("default"), 1, "no cacheDuration: the provider's default");

    await k.lookup("a.global.example.com/x");
    assert.deepEqual(users(await k.lookup("b.global.example.com/y")), ["g"]);
    assert.equal(s.calls("global"), 1, "Global: one run for every image");
  });

  test("an anonymous entry (ACR's '*.azurecr.*') is returned after the real credentials", async (t) => {
    const s = await setup(t, [{ name: "acr", matchImages: ["*.azurecr.io"] }]);
    await plugin(s.bin, s.state, "acr", {
      stdout: response({ "*.azurecr.*": ["", ""], "myreg.azurecr.io": ["00000000-0000-0000-0000-000000000000", "rt"] }),
    });
    const k = createKeyring(s.options);
    assert.deepEqual(await k.lookup("myreg.azurecr.io/app"), [
      { serverAddress: "https://myreg.azurecr.io", username: "00000000-0000-0000-0000-000000000000", password: "rt" },
      { serverAddress: "https://myreg.azurecr.io", username: "", password: "" },
    ]);
  });

  test("a plugin run is skipped when the kubelet would drop it; the next provider still answers", async (t) => {
    const cases: [string, PluginOpts, RegExp][] = [
      ["exit-1", { code: 1, stderr: "no identity on this node" }, /exit status 1: no identity on this node/],
      [
        "unknown-field",
        { stdout: response({ "reg.example.com": ["u", "pw-secret"] }, { extra: true }) },
        /strict decoding error: unknown field "extra"/,
      ],
      ["log-line", { stdout: `starting up\n${response({})}` }, /error reading GVK from response/],
      [
        "wrong-version",
        { stdout: response({}, { apiVersion: "credentialprovider.kubelet.k8s.io/v1beta1" }) },
        /did not match expected apiVersion/,
      ],
      ["bad-key-type", { stdout: response({}, { cacheKeyType: "Repo" }) }, /valid cacheKeyType: "Repo"/],
      [
        "flood",
        { body: "head -c 3000000 /dev/zero | tr '\\0' a\n" },
        /killed: printed more than 1048576 bytes on stdout/,
      ],
    ];
    const s = await setup(t, [
      ...cases.map(([name]) => ({ name, matchImages: ["reg.example.com"] })),
      { name: "good", matchImages: ["reg.example.com"] },
    ]);
    for (const [name, o] of cases) await plugin(s.bin, s.state, name, o);
    await plugin(s.bin, s.state, "good", { stdout: response({ "reg.example.com": ["good", "pw"] }) });
    const k = createKeyring(s.options);
    assert.deepEqual(users(await k.lookup("reg.example.com/app")), ["good"]);
    const warns = s.logs.filter((l) => l.startsWith("warn"));
    assert.equal(warns.length, cases.length, warns.join("\n"));
    for (const [name, , message] of cases) {
      const w = warns.find((l) => l.includes(`kubelet provider ${name}:`));
      assert.ok(w, `a warning for ${name}`);
      assert.match(w, message);
      assert.ok(!w.includes("\n") && !w.includes("pw-secret"), w);
    }
  });

  test("a hanging plugin is killed at the timeout and skipped", async (t) => {
    const s = await setup(
      t,
      [
        { name: "hang", matchImages: ["reg.example.com"] },
        { name: "good", matchImages: ["reg.example.com"] },
      ],
      { timeoutMs: 300 },
    );
    await plugin(s.bin, s.state, "hang", { body: "sleep 30\n" });
    await plugin(s.bin, s.state, "good", { stdout: response({ "reg.example.com": ["good", "pw"] }) });
    const k = createKeyring(s.options);
    assert.deepEqual(users(await k.lookup("reg.example.com/app")), ["good"]);
    assert.ok(
      s.logs.some((l) =>
        /^warn .*kubelet provider hang: error execing credential provider plugin hang for image reg\.example\.com\/app: killed after the 0\.3s timeout; skipped$/.test(
          l,
        ),
      ),
      s.logs.join("\n"),
    );
  });

  test("concurrent lookups of one image share one plugin run", async (t) => {
    const s = await setup(t, [{ name: "slow", matchImages: ["reg.example.com"] }]);
    await plugin(s.bin, s.state, "slow", { stdout: response({ "reg.example.com": ["shared", "pw"] }), release: true });
    const k = createKeyring(s.options);
    const N = 10;
    const all = Promise.all(Array.from({ length: N }, (_, i) => k.lookup(`reg.example.com/app:${i}`)));
    const joined = () => s.logs.filter((l) => l.includes("waiting for the running slow plugin")).length;
    await waitFor(() => joined() === N - 1 && s.calls("slow") === 1, "all lookups to join the run");
    await writeFile(join(s.state, "release"), "");
    for (const r of await all) assert.deepEqual(users(r), ["shared"]);
    assert.equal(s.calls("slow"), 1);
  });

  test("a missing binary, or a provider that needs a pod's service-account token, is skipped", async (t) => {
    const s = await setup(t, [
      { name: "absent", matchImages: ["reg.example.com"] },
      {
        name: "sa",
        matchImages: ["reg.example.com"],
        tokenAttributes: {
          serviceAccountTokenAudience: "aud",
          cacheType: "ServiceAccount",
          requireServiceAccount: true,
        },
      },
      { name: "good", matchImages: ["reg.example.com"] },
    ]);
    await plugin(s.bin, s.state, "sa");
    await plugin(s.bin, s.state, "good", { stdout: response({ "reg.example.com": ["good", "pw"] }) });
    const k = createKeyring(s.options);
    assert.deepEqual(users(await k.lookup("reg.example.com/app")), ["good"]);
    assert.equal(s.calls("sa"), 0);
    assert.ok(
      s.logs.some((l) =>
        /^warn .*kubelet provider absent: plugin binary executable .*absent did not exist; skipped/.test(l),
      ),
    );
  });

  test("a config the kubelet would refuse turns the providers off, with its message; other sources answer", async (t) => {
    const bad = JSON.stringify({
      apiVersion: "kubelet.config.k8s.io/v1",
      kind: "CredentialProviderConfig",
      providers: [
        { name: "p", matchImages: ["reg.example.com"], defaultCacheDuration: "1m", apiVersion: V1, extra: 1 },
      ],
    });
    const s = await setup(t, bad);
    await plugin(s.bin, s.state, "p");
    await writeFile(
      join(s.home, "docker.json"),
      JSON.stringify({ auths: { "reg.example.com": { username: "docker", password: "pw" } } }),
    );
    const k = createKeyring({ ...s.options, dockerConfig: join(s.home, "docker.json") });
    assert.deepEqual(users(await k.lookup("reg.example.com/app")), ["docker"]);
    assert.deepEqual(users(await k.lookup("reg.example.com/app")), ["docker"]);
    const errors = s.logs.filter((l) => l.startsWith("error"));
    assert.equal(errors.length, 1, "reported once");
    assert.match(
      errors[0] ?? "",
      /kubelet credential providers are off: .*strict decoding error: unknown field "providers\[0\]\.extra"/,
    );
    assert.equal(s.calls("p"), 0);
  });

  test("kubeletBinDir is required with kubeletConfig", () => {
    assert.throws(() => createKeyring({ kubeletConfig: "/etc/kubernetes/credential-providers.yaml" }), TypeError);
  });
});
