// Kubelet plugin responses read the kubelet's way (strict, in its order, its messages), and the
// per-provider answer cache (cacheKeyType, cacheDuration, image → registry → global).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  decodePluginResponse,
  duplicateKey,
  encodePluginRequest,
  interpretPluginRun,
  PluginCache,
  type PluginResponse,
} from "../../src/keyring/plugin.ts";

const V1 = "credentialprovider.kubelet.k8s.io/v1";
const V1BETA1 = "credentialprovider.kubelet.k8s.io/v1beta1";
const resp = (over: Record<string, unknown> = {}) =>
  JSON.stringify({ kind: "CredentialProviderResponse", apiVersion: V1, cacheKeyType: "Registry", ...over });

test("the request: the kubelet's bytes", () => {
  assert.equal(
    encodePluginRequest(V1, "test.registry.io/foobar"),
    `{"kind":"CredentialProviderRequest","apiVersion":"${V1}","image":"test.registry.io/foobar"}\n`,
  );
});

describe("decodePluginResponse accepts", () => {
  test("the canonical AWS answer", () => {
    const r = decodePluginResponse(
      `${resp({ cacheDuration: "10m0s", auth: { "*.registry.io": { username: "user", password: "password" } } })}\n`,
      V1,
    );
    assert.deepEqual(r, {
      cacheKeyType: "Registry",
      cacheDurationMs: 600_000,
      auth: [["*.registry.io", { username: "user", password: "password" }]],
    });
  });

  test("no auth, null auth, null entries and fields, null cacheDuration", () => {
    assert.deepEqual(decodePluginResponse(resp(), V1).auth, []);
    assert.deepEqual(decodePluginResponse(resp({ auth: null }), V1).auth, []);
    assert.deepEqual(decodePluginResponse(resp({ auth: { a: null, b: { username: null } } }), V1).auth, [
      ["a", { username: "", password: "" }],
      ["b", { username: "", password: "" }],
    ]);
    assert.equal(decodePluginResponse(resp({ cacheDuration: null }), V1).cacheDurationMs, null);
  });

  for (const [d, ms] of [
    ["0", 0],
    ["0s", 0],
    ["1.5h", 5_400_000],
    ["6h0m0s", 21_600_000],
    ["-1s", -1000],
  ] as const) {
    test(`cacheDuration ${d}`, () =>
      assert.equal(decodePluginResponse(resp({ cacheDuration: d }), V1).cacheDurationMs, ms));
  }

  for (const t of ["Image", "Registry", "Global"]) {
    test(`cacheKeyType ${t}`, () => assert.equal(decodePluginResponse(resp({ cacheKeyType: t }), V1).cacheKeyType, t));
  }
});

const REFUSED: [string, string, string, RegExp][] = [
  ["not JSON", "not json", V1, /^error reading GVK from response/],
  ["a log line first", `starting\n${resp()}`, V1, /^error reading GVK from response/],
  ["two objects", `${resp()}${resp()}`, V1, /^error reading GVK from response/],
  ["an array", "[]", V1, /^error reading GVK from response/],
  [
    "another apiVersion",
    resp(),
    V1BETA1,
    /^apiVersion from credential plugin response did not match expected apiVersion/,
  ],
  ["no apiVersion", JSON.stringify({ kind: "CredentialProviderResponse", cacheKeyType: "Image" }), V1, /did not match/],
  ["an unknown field", resp({ extra: 1 }), V1, /^error decoding .*unknown field "extra"/],
  ["a wrongly-cased field", resp({ CacheDuration: "1s" }), V1, /unknown field "CacheDuration"/],
  [
    "an unknown auth field",
    resp({ auth: { r: { username: "u", password: "p", auth: "x" } } }),
    V1,
    /unknown field "auth\[r\]\.auth"/,
  ],
  [
    "a duplicate field",
    `{"kind":"CredentialProviderResponse","apiVersion":"${V1}","cacheKeyType":"Image","cacheKeyType":"Registry"}`,
    V1,
    /duplicate field "cacheKeyType"/,
  ],
  ["a numeric cacheDuration", resp({ cacheDuration: 10 }), V1, /^error decoding .*cacheDuration/],
  ["cacheDuration 1d", resp({ cacheDuration: "1d" }), V1, /^error decoding .*time: unknown unit "d"/],
  ["cacheDuration 10", resp({ cacheDuration: "10" }), V1, /^error decoding .*missing unit/],
  ["a numeric password", resp({ auth: { r: { username: "u", password: 1 } } }), V1, /^error decoding /],
  ["another kind", resp({ kind: "CredentialProviderRequest" }), V1, /^error decoding .*unexpected kind/],
  [
    "no cacheKeyType",
    JSON.stringify({ kind: "CredentialProviderResponse", apiVersion: V1 }),
    V1,
    /valid cacheKeyType: ""/,
  ],
  ["cacheKeyType registry", resp({ cacheKeyType: "registry" }), V1, /valid cacheKeyType: "registry"/],
];

describe("decodePluginResponse refuses, with the kubelet's message", () => {
  for (const [what, stdout, version, message] of REFUSED) {
    test(what, () => assert.throws(() => decodePluginResponse(stdout, version), { message }));
  }

  test("no message quotes a password", () => {
    const secret = "s3cr3t-password-value";
    for (const stdout of [
      resp({ auth: { r: { username: "u", password: secret } }, extra: 1 }),
      resp({ auth: { r: { username: "u", password: secret, x: 1 } } }),
      resp({ auth: { r: { username: "u", password: secret } }, cacheKeyType: "nope" }),
    ]) {
      assert.throws(
        () => decodePluginResponse(stdout, V1),
        (e: unknown) => !(e as Error).message.includes(secret),
      );
    }
  });
});

test("duplicateKey looks inside nested objects, not across them", () => {
  assert.equal(duplicateKey('{"a":{"x":1},"b":{"x":2}}'), null);
  assert.equal(duplicateKey('{"a":{"x":1,"x":2}}'), "x");
  assert.equal(duplicateKey('{"a":["x","x"],"b":"a"}'), null);
  assert.equal(duplicateKey('{"a\\"b":1,"a\\"b":2}'), 'a"b');
});

describe("interpretPluginRun", () => {
  test("a failed run: the kubelet's exec error with stderr; stdout ignored", () => {
    assert.throws(() => interpretPluginRun({ code: 1, stdout: resp(), stderr: "no identity\n" }, "p", "r.io/a", V1), {
      message: /^error execing credential provider plugin p for image r\.io\/a: exit status 1: no identity$/,
    });
    assert.throws(
      () =>
        interpretPluginRun(
          { code: null, stdout: "", stderr: "", failure: "killed after the 1s timeout" },
          "p",
          "i",
          V1,
        ),
      { message: /killed after the 1s timeout/ },
    );
  });
});

const answer = (cacheKeyType: PluginResponse["cacheKeyType"], user: string, cacheDurationMs: number | null = null) => ({
  cacheKeyType,
  cacheDurationMs,
  auth: [["r.io", { username: user, password: "p" }]] as [string, { username: string; password: string }][],
});
const userOf = (r: PluginResponse | undefined) => r?.auth[0]?.[1].username;

describe("PluginCache", () => {
  test("Image answers serve that image only; Registry answers its registry; Global every image", () => {
    const c = new PluginCache(() => 0);
    c.put("r.io/a", answer("Image", "image"), 60_000);
    assert.equal(userOf(c.get("r.io/a")), "image");
    assert.equal(c.get("r.io/b"), undefined);
    c.put("r.io/a", answer("Registry", "registry"), 60_000);
    assert.equal(userOf(c.get("r.io/b")), "registry");
    assert.equal(c.get("r.io:5000/b"), undefined, "another port is another registry");
    c.put("x.io/a", answer("Global", "global"), 60_000);
    assert.equal(userOf(c.get("q.io/z")), "global");
  });

  test("lookup order: image, then registry, then global", () => {
    const c = new PluginCache(() => 0);
    c.put("r.io/a", answer("Global", "global"), 60_000);
    c.put("r.io/a", answer("Registry", "registry"), 60_000);
    c.put("r.io/a", answer("Image", "image"), 60_000);
    assert.equal(userOf(c.get("r.io/a")), "image");
    assert.equal(userOf(c.get("r.io/b")), "registry");
    assert.equal(userOf(c.get("s.io/b")), "global");
  });

  test("cacheDuration, else the default; zero or negative is not kept; expiry is now > expiresAt", () => {
    let now = 1_000;
    const c = new PluginCache(() => now);
    c.put("a.io/x", answer("Image", "explicit", 10_000), 0);
    c.put("b.io/x", answer("Image", "default"), 5_000);
    c.put("c.io/x", answer("Image", "zero", 0), 5_000);
    c.put("d.io/x", answer("Image", "no-default"), 0);
    c.put("e.io/x", answer("Image", "negative", -5_000), 5_000);
    assert.equal(userOf(c.get("a.io/x")), "explicit");
    assert.equal(userOf(c.get("b.io/x")), "default");
    for (const i of ["c.io/x", "d.io/x", "e.io/x"]) assert.equal(c.get(i), undefined, i);
    now = 6_000;
    assert.equal(userOf(c.get("b.io/x")), "default", "still valid at exactly expiresAt");
    now = 6_001;
    assert.equal(c.get("b.io/x"), undefined);
    assert.equal(userOf(c.get("a.io/x")), "explicit");
    now = 11_001;
    assert.equal(c.get("a.io/x"), undefined);
  });

  test("empty answers are kept too", () => {
    const c = new PluginCache(() => 0);
    c.put("r.io/a", { cacheKeyType: "Registry", cacheDurationMs: null, auth: [] }, 60_000);
    assert.deepEqual(c.get("r.io/b")?.auth, []);
  });
});
