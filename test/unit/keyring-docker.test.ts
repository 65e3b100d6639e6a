// Docker config files (auths, credHelpers, credsStore, legacy .dockercfg), what a credential
// helper's answer means, and how the keyring recognises this program in a config.
import assert from "node:assert/strict";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  DockerConfigReader,
  decodeAuthsEntry,
  defaultDockerConfigPaths,
  helperFor,
  helperServerUrl,
  parseDockerConfig,
} from "../../src/keyring/docker-config.ts";
import { interpretHelperRun } from "../../src/keyring/helper.ts";
import type { CredentialProvider } from "../../src/keyring/kubelet-config.ts";
import { isSelfProgram, selfPluginEnv } from "../../src/keyring/self.ts";
import { tmpTree } from "../support/tmp.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("auths entries", () => {
  const CASES: [string, unknown, unknown][] = [
    ["auth is user:pass", { auth: b64("u:p") }, { username: "u", password: "p" }],
    ["split at the first colon", { auth: b64("u:p:a:ss") }, { username: "u", password: "p:a:ss" }],
    [
      "auth wins over username/password",
      { auth: b64("a:b"), username: "x", password: "y" },
      { username: "a", password: "b" },
    ],
    ["username and password", { username: "x", password: "y" }, { username: "x", password: "y" }],
    ["identity token", { identitytoken: "it" }, { identityToken: "it" }],
    ["registry token", { registrytoken: "rt" }, { registryToken: "rt" }],
    ["a placeholder (credsStore) is no credential", {}, null],
    ["email only is no credential", { email: "a@b" }, null],
    ["auth that is not base64", { auth: "not base64!" }, "its auth field is not base64"],
    ["auth without a colon", { auth: b64("nocolon") }, 'its auth field does not decode to "username:password"'],
    ["not an object", "x", "not an object"],
  ];
  for (const [what, entry, want] of CASES) test(what, () => assert.deepEqual(decodeAuthsEntry(entry), want));
});

describe("config files", () => {
  test("config.json: auths in order, credHelpers, credsStore; broken entries are named, never quoted", () => {
    const warnings: string[] = [];
    const cfg = parseDockerConfig(
      {
        auths: {
          "https://index.docker.io/v1/": {},
          "reg.io": { auth: b64("u:secret-1") },
          "bad.io": { auth: "%%%secret-2" },
        },
        credHelpers: { "123456789012.dkr.ecr.us-east-1.amazonaws.com": "ecr-login", empty: "" },
        credsStore: "desktop",
      },
      "config.json",
      (m) => warnings.push(m),
    );
    assert.deepEqual(cfg.auths, [{ key: "reg.io", credential: { username: "u", password: "secret-1" } }]);
    assert.deepEqual(cfg.credHelpers, { "123456789012.dkr.ecr.us-east-1.amazonaws.com": "ecr-login" });
    assert.equal(cfg.credsStore, "desktop");
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? "", /bad\.io/);
    assert.ok(!warnings.join().includes("secret"));
  });

  test("legacy .dockercfg: the auths map at the top level; no helpers", () => {
    const cfg = parseDockerConfig(
      { "https://index.docker.io/v1/": { auth: b64("hub:pw"), email: "x@y" }, "reg.io": { auth: b64("r:pw") } },
      ".dockercfg",
      () => {},
    );
    assert.deepEqual(
      cfg.auths.map((a) => a.key),
      ["https://index.docker.io/v1/", "reg.io"],
    );
    assert.equal(cfg.credsStore, undefined);
  });

  test("default paths: $DOCKER_CONFIG, else ~/.docker; then ~/.dockercfg", () => {
    // The kubelet's own /var/lib/kubelet/config.json first (issue 12), then Docker's files.
    const kubelet = "/var/lib/kubelet/config.json";
    assert.deepEqual(defaultDockerConfigPaths({}, "/h"), [kubelet, "/h/.docker/config.json", "/h/.dockercfg"]);
    assert.deepEqual(defaultDockerConfigPaths({ DOCKER_CONFIG: "/d" }, "/h"), [
      kubelet,
      "/d/config.json",
      "/h/.dockercfg",
    ]);
  });

  test("the reader re-reads a file only when it changed, and skips missing and broken files", async (t) => {
    const dir = await tmpTree(t, { "a.json": JSON.stringify({ auths: { "a.io": { auth: b64("a:1") } } }) });
    const warnings: string[] = [];
    const reader = new DockerConfigReader(
      [join(dir, "a.json"), join(dir, "missing.json"), join(dir, "broken.json")],
      (m) => warnings.push(m),
    );
    await writeFile(join(dir, "broken.json"), "{ not json");
    const first = reader.read();
    assert.equal(first.length, 1);
    assert.equal(reader.read()[0], first[0], "unchanged file: the same parsed object");
    assert.equal(warnings.length, 1, "a broken file is reported once");
    assert.match(warnings[0] ?? "", /broken\.json: not valid JSON/);
    await writeFile(join(dir, "a.json"), JSON.stringify({ auths: { "a.io": { auth: b64("a:22") } } }));
    assert.deepEqual(reader.read()[0]?.auths[0]?.credential, { username: "a", password: "22" });
  });
});

describe("which helper Docker would use", () => {
  const cfg = parseDockerConfig(
    {
      credHelpers: {
        "reg.io": "exact",
        "https://other.io": "with-scheme",
        "https://index.docker.io/v1/": "hub",
        "ports.io:5000": "port",
      },
      credsStore: "store",
    },
    "c",
    () => {},
  );
  const CASES: [string, string][] = [
    ["reg.io", "exact"],
    ["other.io", "with-scheme"],
    ["docker.io", "hub"],
    ["ports.io:5000", "port"],
    ["ports.io", "store"],
    ["reg.io:5000", "store"],
    ["elsewhere.io", "store"],
  ];
  for (const [registry, want] of CASES)
    test(`${registry} → ${want}`, () => assert.equal(helperFor(cfg, registry), want));

  test("no credsStore: no helper", () => {
    assert.equal(
      helperFor(
        parseDockerConfig({ credHelpers: {} }, "c", () => {}),
        "reg.io",
      ),
      undefined,
    );
  });

  test("the server URL on stdin: Hub as Docker stores it, others as host[:port] (never index.docker.io)", () => {
    assert.equal(helperServerUrl("docker.io"), "https://index.docker.io/v1/");
    assert.equal(helperServerUrl("reg.io:5000"), "reg.io:5000");
    assert.equal(helperServerUrl("localhost:5000"), "localhost:5000");
  });
});

describe("a helper's answer", () => {
  const ok = (stdout: string) => ({ code: 0, stdout, stderr: "" });
  test("credentials", () => {
    assert.deepEqual(interpretHelperRun(ok('{"ServerURL":"r","Username":"u","Secret":"s"}\n')), {
      username: "u",
      password: "s",
    });
  });
  test("<token>: an identity token", () => {
    assert.deepEqual(interpretHelperRun(ok('{"ServerURL":"r","Username":"<token>","Secret":"rt"}')), {
      identityToken: "rt",
    });
  });
  test("empty username and secret: none", () => {
    assert.equal(interpretHelperRun(ok('{"ServerURL":"r","Username":"","Secret":""}')), null);
  });
  test("credentials not found, on stdout or stderr: none", () => {
    assert.equal(
      interpretHelperRun({ code: 1, stdout: "credentials not found in native keychain\n", stderr: "" }),
      null,
    );
    assert.equal(interpretHelperRun({ code: 1, stdout: "", stderr: "error: credentials not found\n" }), null);
  });
  test("other failures: one line, from stdout where helpers put errors", () => {
    assert.throws(() => interpretHelperRun({ code: 1, stdout: "boom\nmore\n", stderr: "" }), {
      message: "exit status 1: boom",
    });
    assert.throws(
      () => interpretHelperRun({ code: null, stdout: "", stderr: "", failure: "killed after the 1s timeout" }),
      {
        message: "killed after the 1s timeout",
      },
    );
  });
  test("exit 0 with something else than JSON: an error that does not quote stdout", () => {
    assert.throws(
      () => interpretHelperRun(ok("Username: u Secret: hunter2")),
      (e: unknown) => !(e as Error).message.includes("hunter2"),
    );
  });
});

const provider = (over: Partial<CredentialProvider>): CredentialProvider => ({
  name: "docker-credential-cloud",
  matchImages: ["*"],
  defaultCacheDuration: "1m",
  defaultCacheDurationMs: 60_000,
  apiVersion: "credentialprovider.kubelet.k8s.io/v1",
  args: ["kubelet"],
  env: [],
  tokenAttributes: null,
  ...over,
});

describe("recognising this program", () => {
  test("by name, or by where the file resolves", async (t) => {
    const dir = await tmpTree(t);
    await mkdir(join(dir, "opt", "bin"), { recursive: true });
    // An installed tree as the node installer lays it out: <tree>/bin/<launcher>, <tree>/app/package.json.
    await writeFile(join(dir, "opt", "bin", "docker-credential-cloud"), "#!/bin/sh\n", { mode: 0o755 });
    await mkdir(join(dir, "opt", "app"));
    await writeFile(join(dir, "opt", "app", "package.json"), JSON.stringify({ name: "docker-credential-cloud" }));
    await symlink(join(dir, "opt", "bin", "docker-credential-cloud"), join(dir, "ecr-provider"));
    await writeFile(join(dir, "other-provider"), "#!/bin/sh\n", { mode: 0o755 });
    // Our name on some other program (issue 12, defect 5): not us.
    await mkdir(join(dir, "elsewhere"));
    await writeFile(join(dir, "elsewhere", "docker-credential-cloud"), "#!/bin/sh\n", { mode: 0o755 });
    assert.equal(isSelfProgram("docker-credential-cloud", join(dir, "elsewhere", "docker-credential-cloud")), false);
    assert.equal(isSelfProgram("docker-credential-cloud", null), true);
    assert.equal(isSelfProgram("ecr-provider", join(dir, "ecr-provider")), true);
    assert.equal(isSelfProgram("other-provider", join(dir, "other-provider")), false);
    assert.equal(isSelfProgram("docker-credential-ecr-login", null), false);
  });

  test("in process only in plugin mode and with nothing but our variables in env", () => {
    assert.deepEqual(selfPluginEnv(provider({})), {});
    assert.deepEqual(selfPluginEnv(provider({ args: ["get"] })), {});
    assert.deepEqual(
      selfPluginEnv(provider({ env: [{ name: "DOCKER_CREDENTIAL_CLOUD_CACHE_DIR", value: "/var/cache" }] })),
      { DOCKER_CREDENTIAL_CLOUD_CACHE_DIR: "/var/cache" },
    );
    assert.equal(selfPluginEnv(provider({ args: [] })), null);
    assert.equal(selfPluginEnv(provider({ args: ["kubelet", "--v=3"] })), null);
    assert.equal(selfPluginEnv(provider({ env: [{ name: "AWS_ECR_ROLE_ARN", value: "arn" }] })), null);
  });
});
