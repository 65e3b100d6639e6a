// The strict checker used against the built binary must itself refuse what the kubelet refuses
// (else the integration tests could not fail), and accept what the kubelet accepts.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  checkResponse,
  checkRun,
  KubeletRejection,
  keyringLookup,
  parseJsonKeepingKeys,
} from "../support/kubelet-checker.ts";

const V1 = "credentialprovider.kubelet.k8s.io/v1";
const IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app";
const HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const opts = { apiVersion: V1, image: IMAGE };

const good = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    kind: "CredentialProviderResponse",
    apiVersion: V1,
    cacheKeyType: "Registry",
    cacheDuration: "6h0m0s",
    auth: { [HOST]: { username: "AWS", password: "pw" } },
    ...over,
  });

const rejects = (stdout: string, stage: RegExp, o: Partial<Parameters<typeof checkResponse>[1]> = {}) =>
  assert.throws(
    () => checkResponse(stdout, { ...opts, ...o }),
    (e: unknown) => e instanceof KubeletRejection && stage.test(e.message),
  );

describe("kubelet checker accepts what the kubelet accepts", () => {
  test("the canonical AWS example (plugin_test.go)", () => {
    const r = checkResponse(
      '{"kind":"CredentialProviderResponse","apiVersion":"credentialprovider.kubelet.k8s.io/v1","cacheKeyType":"Registry","cacheDuration":"10m0s","auth":{"*.registry.io":{"username":"user","password":"password"}}}\n',
      { apiVersion: V1, image: "a.registry.io/x" },
    );
    assert.equal(r.response.cacheDurationNs, 600e9);
    assert.deepEqual(r.lookup, [{ username: "user", password: "password" }]);
  });
  test("no auth, zero duration; every API version", () => {
    for (const v of ["v1", "v1beta1", "v1alpha1"]) {
      const api = `credentialprovider.kubelet.k8s.io/${v}`;
      const r = checkResponse(
        `{"kind":"CredentialProviderResponse","apiVersion":"${api}","cacheKeyType":"Registry","cacheDuration":"0s"}`,
        { apiVersion: api, image: IMAGE },
      );
      assert.deepEqual(r.response.auth, {});
      assert.deepEqual(r.lookup, []);
    }
  });
  test("kubelet-valid durations other than Go's String() form pass with the contract off", () => {
    for (const d of ["12h", "1.5h", "0", "-1s", ".5s", "1h2m3s4ms5us6ns", "3µs", "3μs"]) {
      checkResponse(good({ cacheDuration: d }), { ...opts, strictContract: false });
    }
  });
  test("null fields decode to their zero values", () => {
    const r = checkResponse(good({ cacheDuration: null, auth: null }), opts);
    assert.equal(r.response.cacheDuration, null);
    assert.deepEqual(r.response.auth, {});
  });
  test("pretty-printed JSON and a trailing newline are fine", () => {
    checkResponse(`${JSON.stringify(JSON.parse(good()), null, 2)}\n\n`, opts);
  });
  test("an SA token as password is fine only with cacheType Token", () => {
    const stdout = good({ auth: { [HOST]: { username: "u", password: "sa-token" } } });
    checkResponse(stdout, { ...opts, serviceAccountToken: "sa-token", cacheType: "Token" });
    rejects(stdout, /service account token as the password/, {
      serviceAccountToken: "sa-token",
      cacheType: "ServiceAccount",
    });
  });
});

describe("kubelet checker refuses what the kubelet refuses", () => {
  const DECODE = /^error decoding credential provider plugin response from stdout/;
  const GVK = /^error reading GVK from response/;
  const cases: [string, string, RegExp][] = [
    ["empty stdout", "", GVK],
    ["a log line before the JSON", `starting\n${good()}`, GVK],
    ["a log line after the JSON", `${good()}\ndone\n`, GVK],
    ["two objects", `${good()}\n${good()}`, GVK],
    ["an array", `[${good()}]`, GVK],
    ["apiVersion a number", good({ apiVersion: 1 }), GVK],
    [
      "another version than the request's",
      good({ apiVersion: "credentialprovider.kubelet.k8s.io/v1beta1" }),
      /did not match expected apiVersion/,
    ],
    [
      "no apiVersion",
      JSON.stringify({ kind: "CredentialProviderResponse", cacheKeyType: "Registry" }),
      /did not match/,
    ],
    ["no kind", JSON.stringify({ apiVersion: V1, cacheKeyType: "Registry" }), /Object 'Kind' is missing/],
    ["kind of the request", good({ kind: "CredentialProviderRequest" }), DECODE],
    ["unknown kind", good({ kind: "Whatever" }), /no kind "Whatever" is registered/],
    ["unknown top-level field", good({ extra: 1 }), /unknown field "extra"/],
    [
      "wrongly-cased field",
      good({ cacheKeyType: undefined, CacheKeyType: "Registry" }),
      /unknown field "CacheKeyType"/,
    ],
    [
      "wrongly-cased kind key",
      good({ kind: undefined, Kind: "CredentialProviderResponse" }),
      /unknown field "Kind"|Object 'Kind'/,
    ],
    [
      "duplicate field",
      good().replace('"cacheKeyType":"Registry"', '"cacheKeyType":"Registry","cacheKeyType":"Image"'),
      /duplicate field "cacheKeyType"/,
    ],
    [
      "duplicate auth key",
      good().replace(/"auth":\{(.*)\}\}$/, (_m, inner) => `"auth":{${inner},${inner}}}`),
      /duplicate field "auth\./,
    ],
    [
      "duplicate field in an auth entry",
      good().replace('"password":"pw"', '"password":"pw","password":"x"'),
      /duplicate field/,
    ],
    [
      "an auth entry with an extra field",
      good({ auth: { [HOST]: { username: "u", password: "p", auth: "x" } } }),
      /unknown field "auth\..*\.auth"/,
    ],
    [
      "an auth entry with identitytoken",
      good({ auth: { [HOST]: { username: "u", password: "p", identitytoken: "t" } } }),
      /unknown field/,
    ],
    [
      "an auth entry with email",
      good({ auth: { [HOST]: { username: "u", password: "p", email: "e" } } }),
      /unknown field/,
    ],
    ["Username capitalised", good({ auth: { [HOST]: { Username: "u", password: "p" } } }), /unknown field/],
    ["password a number", good({ auth: { [HOST]: { username: "u", password: 5 } } }), DECODE],
    ["auth an array", good({ auth: [] }), DECODE],
    ["cacheDuration a number", good({ cacheDuration: 600 }), DECODE],
    ["cacheDuration 1d", good({ cacheDuration: "1d" }), /invalid duration "1d"/],
    ["cacheDuration without unit", good({ cacheDuration: "10" }), /invalid duration/],
    ["cacheDuration empty", good({ cacheDuration: "" }), /invalid duration/],
    ["cacheKeyType missing", good({ cacheKeyType: undefined }), /valid cacheKeyType/],
    ["cacheKeyType lower case", good({ cacheKeyType: "registry" }), /valid cacheKeyType/],
    ["cacheKeyType unknown", good({ cacheKeyType: "Host" }), /valid cacheKeyType/],
    ["a control character in a string", good().replace('"pw"', '"p\u0001w"'), GVK],
    ["a leading zero number", good({ cacheDuration: undefined }).replace("}}}", '}},"x":01}'), GVK],
  ];
  for (const [name, stdout, stage] of cases) test(name, () => rejects(stdout, stage));
});

describe("kubelet checker: our contract on top", () => {
  test("auth keys must match the image (kubelet globs)", () => {
    assert.throws(
      () => checkResponse(good({ auth: { "other.example.com": { username: "u", password: "p" } } }), opts),
      /auth key does not match/,
    );
    assert.throws(
      () => checkResponse(good({ auth: { [`${HOST}:5000`]: { username: "u", password: "p" } } }), opts),
      /auth key does not match/,
    );
    checkResponse(good({ auth: { "*.dkr.ecr.*.amazonaws.com": { username: "u", password: "p" } } }), opts);
  });
  test("cacheDuration must be Go's String() of whole seconds", () => {
    for (const d of ["21600s", "6h", "1.5s", "-1s", "360m0s", "6h00m0s"]) {
      assert.throws(() => checkResponse(good({ cacheDuration: d }), opts), /contract: cacheDuration/, d);
    }
    for (const d of ["0s", "59s", "1m0s", "5h59m59s", "12h0m0s"]) checkResponse(good({ cacheDuration: d }), opts);
  });
  test("a failed run is refused before stdout is read", () => {
    assert.throws(
      () => checkRun({ code: 1, stdout: good(), stderr: "boom\n" }, opts),
      /error execing credential provider plugin: exit status 1: boom/,
    );
  });
});

describe("keyring lookup (BasicDockerKeyring)", () => {
  const a = (u: string) => ({ username: u, password: "" });
  test("reverse-sorted keys, every match, scheme and /v2/ stripped", () => {
    const auth = {
      "*.azurecr.*": a("anon"),
      "r.azurecr.io": a("guid"),
      "https://r.azurecr.io/v2/team": a("team"),
      "other.azurecr.io": a("other"),
    };
    assert.deepEqual(
      keyringLookup(auth, "r.azurecr.io/team/app").map((x) => x.username),
      ["team", "guid", "anon"],
    );
  });
  test("Docker Hub fallback to index.docker.io", () => {
    assert.deepEqual(keyringLookup({ "index.docker.io": a("hub") }, "docker.io/library/nginx"), [a("hub")]);
    assert.deepEqual(keyringLookup({ "index.docker.io": a("hub") }, "quay.io/x"), []);
  });
});

describe("duplicate-detecting JSON parser", () => {
  test("keeps duplicates that JSON.parse would drop", () => {
    const v = parseJsonKeepingKeys('{"a":1,"a":2}');
    assert.deepEqual(v, {
      t: "obj",
      entries: [
        ["a", { t: "num", raw: "1" }],
        ["a", { t: "num", raw: "2" }],
      ],
    });
  });
  test("escapes", () => {
    assert.deepEqual(parseJsonKeepingKeys('"\\u00b5\\n\\/"'), { t: "str", v: "µ\n/" });
  });
});
