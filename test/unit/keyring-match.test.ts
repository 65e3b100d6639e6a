// The kubelet's BasicDockerKeyring: key normalization, the order credentials come back in, the
// Docker Hub fallback (cases from keyring_test.go and spec §1.7), and the CRI AuthConfigs built
// from them (server_address, de-duplication).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { serverAddressFor, toAuthConfigs } from "../../src/keyring/keyring.ts";
import { type Found, KeyIndex, normalizeKey } from "../../src/keyring/match.ts";
import { normalizeImage } from "../../src/registry/image.ts";

const KEYS: [string, string | null][] = [
  ["https://index.docker.io/v1/", "index.docker.io"],
  ["index.docker.io/v1/", "index.docker.io"],
  ["http://reg.io", "reg.io"],
  ["https://reg.io/", "reg.io"],
  ["reg.io/v2/team", "reg.io/team"],
  ["reg.io/v1/", "reg.io"],
  ["reg.io/v1", "reg.io/v1"],
  ["reg.io/team/app", "reg.io/team/app"],
  ["reg.io:5000", "reg.io:5000"],
  ["https://reg.io:5000/v2/", "reg.io:5000"],
  ["*.azurecr.*", "*.azurecr.*"],
  ["*", "*"],
  ["reg.io?x=1", "reg.io"],
  ["%invalid%", null],
  ["reg.io:port", null],
  ["[::1", null],
];

describe("normalizeKey", () => {
  for (const [raw, want] of KEYS) test(`${raw} → ${want}`, () => assert.equal(normalizeKey(raw), want));
});

const f = (source: string, username = source): Found => ({ credential: { username, password: "p" }, source });
const sources = (found: readonly Found[]) => found.map((x) => x.source);

describe("KeyIndex lookup order", () => {
  test("most specific key first, then by source order within a key, '*'-keys after names", () => {
    const k = new KeyIndex();
    k.add("*.io", f("glob"));
    k.add("reg.io", f("host-1"));
    k.add("reg.io/team", f("team"));
    k.add("https://reg.io", f("host-2"));
    k.add("reg.io/team/app", f("app"));
    k.add("other.io", f("other"));
    assert.deepEqual(sources(k.lookup("reg.io/team/app")), ["app", "team", "host-1", "host-2", "glob"]);
    assert.deepEqual(sources(k.lookup("reg.io/else")), ["host-1", "host-2", "glob"]);
  });

  test("keys sort in reverse byte order: digits and letters before '*'", () => {
    const k = new KeyIndex();
    for (const key of [
      "*.dkr.ecr.*.amazonaws.com",
      "123456789012.dkr.ecr.us-east-1.amazonaws.com",
      "*.*.*.*.amazonaws.com",
    ]) {
      k.add(key, f(key));
    }
    assert.deepEqual(k.keys(), [
      "123456789012.dkr.ecr.us-east-1.amazonaws.com",
      "*.dkr.ecr.*.amazonaws.com",
      "*.*.*.*.amazonaws.com",
    ]);
    assert.deepEqual(sources(k.lookup("123456789012.dkr.ecr.us-east-1.amazonaws.com/app")), k.keys());
  });

  test("ports must match; an unparsable key is refused", () => {
    const k = new KeyIndex();
    assert.equal(k.add("reg.io:5000", f("5000")), true);
    assert.equal(k.add("reg.io", f("none")), true);
    assert.equal(k.add("%zz", f("bad")), false);
    assert.deepEqual(sources(k.lookup("reg.io:5000/app")), ["5000"]);
    assert.deepEqual(sources(k.lookup("reg.io/app")), ["none"]);
  });

  // keyring_test.go TestDockerKeyringForGlob: each glob finds target + "/foo/bar".
  const GLOBS: [string, string][] = [
    ["https://hello.kubernetes.io", "hello.kubernetes.io"],
    ["https://*.docker.io", "prefix.docker.io"],
    ["https://prefix.*.io", "prefix.docker.io"],
    ["https://prefix.docker.*", "prefix.docker.io"],
    ["https://*.docker.io/path", "prefix.docker.io/path"],
    ["https://prefix.*.io/path", "prefix.docker.io/path/subpath"],
    ["https://*.docker.io:8888", "prefix.docker.io:8888"],
    ["https://*.docker.io/path:1111", "prefix.docker.io/path:1111"],
    ["https://*.docker.io/v1/", "prefix.docker.io/path:1111"],
    ["https://*.docker.io/v2/", "prefix.docker.io/path:1111"],
    ["prefix.docker.io:1111", "prefix.docker.io:1111/path"],
    ["*.docker.io:1111", "prefix.docker.io:1111/path"],
  ];
  for (const [glob, target] of GLOBS) {
    test(`${glob} finds ${target}/foo/bar`, () => {
      const k = new KeyIndex();
      k.add(glob, f("x"));
      assert.deepEqual(sources(k.lookup(`${target}/foo/bar`)), ["x"]);
    });
  }

  // TestKeyringMiss
  const MISSES: [string, string][] = [
    ["https://hello.kubernetes.io", "world.mesos.org/foo/bar"],
    ["https://*.docker.com", "prefix.docker.io"],
    ["https://suffix.*.io", "prefix.docker.io"],
    ["https://prefix.docker.c*", "prefix.docker.io"],
    ["https://prefix.*.io/path:1111", "prefix.docker.io/path/subpath:1111"],
    ["suffix.*.io", "prefix.docker.io"],
  ];
  for (const [glob, target] of MISSES) {
    test(`${glob} misses ${target}`, () => {
      const k = new KeyIndex();
      k.add(glob, f("x"));
      assert.deepEqual(k.lookup(`${target}/foo/bar`), []);
    });
  }
});

describe("Docker Hub fallback", () => {
  test("index.docker.io credentials serve Hub images only when nothing else matched", () => {
    const k = new KeyIndex();
    k.add("https://index.docker.io/v1/", f("hub"));
    assert.deepEqual(sources(k.lookup(normalizeImage("nginx").repository)), ["hub"]);
    assert.deepEqual(sources(k.lookup(normalizeImage("user/app").repository)), ["hub"]);
    assert.deepEqual(k.lookup("world.mesos.org/foo/bar"), [], "not for other registries");
    k.add("docker.io", f("direct"));
    assert.deepEqual(sources(k.lookup("docker.io/library/nginx")), ["direct"], "a direct match wins");
  });
});

describe("CRI AuthConfigs", () => {
  test("server_address is an https URL of the registry containerd contacts", () => {
    assert.equal(serverAddressFor(normalizeImage("nginx")), "https://registry-1.docker.io");
    assert.equal(serverAddressFor(normalizeImage("reg.io:5000/a")), "https://reg.io:5000");
    assert.equal(
      serverAddressFor(normalizeImage("123456789012.dkr.ecr.us-east-1.amazonaws.com/a")),
      "https://123456789012.dkr.ecr.us-east-1.amazonaws.com",
    );
    // containerd: url.Parse(server_address).Host must equal the host it contacts.
    assert.equal(new URL(serverAddressFor(normalizeImage("[::1]:5000/a"))).host, "[::1]:5000");
  });

  test("identical credentials come back once, at their first place; fields map one to one", () => {
    const found: Found[] = [
      { credential: { username: "u", password: "p" }, source: "a" },
      { credential: { identityToken: "it" }, source: "b" },
      { credential: { username: "u", password: "p" }, source: "c" },
      { credential: { username: "", password: "" }, source: "anon" },
      { credential: { registryToken: "rt", auth: "dTpw" }, source: "d" },
    ];
    assert.deepEqual(toAuthConfigs(found, "https://r"), [
      { serverAddress: "https://r", username: "u", password: "p" },
      { serverAddress: "https://r", identityToken: "it" },
      { serverAddress: "https://r", username: "", password: "" },
      { serverAddress: "https://r", auth: "dTpw", registryToken: "rt" },
    ]);
  });
});
