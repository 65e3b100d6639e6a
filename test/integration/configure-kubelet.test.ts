// `configure kubelet` through the built CLI: links under the plugins' names, a config the
// kubelet's rules accept (src/keyring/kubelet-config.ts) whose entries match the right images, a plugin
// run through an installed link that the kubelet-faithful checker accepts, a merge that keeps
// other providers, idempotence, and --check naming the wrong line.
import assert from "node:assert/strict";
import { readdir, readFile, readlink, realpath, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { loadCredentialProviderConfig, providerMatchesImage } from "../../src/keyring/kubelet-config.ts";
import { BIN, baseEnv, runCli } from "../support/cli.ts";
import { checkRun } from "../support/kubelet-checker.ts";
import { tmpTree } from "../support/tmp.ts";

const configure = (home: string, ...args: string[]) =>
  runCli(
    ["configure", "kubelet", "--bin-dir", join(home, "bin"), "--config", join(home, "config.yaml"), ...args],
    "",
    baseEnv(home),
  );

describe("configure kubelet", () => {
  test("links, a valid config with the right matchImages, the flags and a NodeConfig; a re-run changes nothing", async (t) => {
    const home = await tmpTree(t);
    const r = await configure(home);
    assert.equal(r.code, 0, r.stderr);
    const self = await realpath(BIN);
    for (const n of ["ecr-credential-provider", "gcp-credential-provider", "acr-credential-provider"]) {
      assert.equal(await readlink(join(home, "bin", n)), self);
    }
    const cfg = await loadCredentialProviderConfig(join(home, "config.yaml"));
    const byName = Object.fromEntries(cfg.providers.map((p) => [p.name, p]));
    const ecr = byName["ecr-credential-provider"];
    const gcp = byName["gcp-credential-provider"];
    const acr = byName["acr-credential-provider"];
    assert.ok(ecr && gcp && acr);
    assert.ok(providerMatchesImage(ecr, "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:v1"));
    assert.ok(!providerMatchesImage(ecr, "myregistry.azurecr.io/app"));
    assert.ok(providerMatchesImage(gcp, "europe-docker.pkg.dev/p/r/app"));
    assert.ok(providerMatchesImage(acr, "myregistry.azurecr.io/app"));
    assert.ok(!providerMatchesImage(acr, "docker.io/library/nginx"));
    for (const p of cfg.providers) {
      assert.deepEqual(p.args, ["kubelet"]);
      assert.equal(p.apiVersion, "credentialprovider.kubelet.k8s.io/v1");
      assert.ok(p.defaultCacheDurationMs && p.defaultCacheDurationMs > 0);
    }
    assert.match(r.stdout, new RegExp(`--image-credential-provider-config=${join(home, "config.yaml")}`));
    assert.match(r.stdout, new RegExp(`--image-credential-provider-bin-dir=${join(home, "bin")}`));
    assert.match(r.stdout, /kind: NodeConfig/);
    const text = await readFile(join(home, "config.yaml"), "utf8");
    const again = await configure(home);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already configured/);
    assert.equal(await readFile(join(home, "config.yaml"), "utf8"), text);
    const check = await runCli(["configure", "kubelet", "--check", join(home, "config.yaml")], "", baseEnv(home));
    assert.equal(check.code, 0, check.stdout);
    assert.match(check.stdout, /valid/);
  });

  test("the kubelet's exec of an installed link gets a response the kubelet accepts", async (t) => {
    const home = await tmpTree(t);
    assert.equal((await configure(home, "--cloud", "aws")).code, 0);
    const request = JSON.stringify({
      kind: "CredentialProviderRequest",
      apiVersion: "credentialprovider.kubelet.k8s.io/v1",
      image: "docker.io/library/nginx",
    });
    const r = await runCli(["kubelet"], request, baseEnv(home), { bin: join(home, "bin", "ecr-credential-provider") });
    const checked = checkRun(r, {
      apiVersion: "credentialprovider.kubelet.k8s.io/v1",
      image: "docker.io/library/nginx",
    });
    assert.equal(checked.response.cacheDuration, "0s");
  });

  test("merges into an existing config: other providers and comments kept, one --name entry", async (t) => {
    const home = await tmpTree(t, {
      "config.yaml": `# node image's config
apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
  # the vendor's own
  - name: vendor-provider
    matchImages: ["registry.vendor.example"]
    defaultCacheDuration: 1h
    apiVersion: credentialprovider.kubelet.k8s.io/v1
`,
    });
    const r = await configure(home, "--name", "docker-credential-cloud", "--cloud", "aws", "--cloud", "azure");
    assert.equal(r.code, 0, r.stderr);
    const text = await readFile(join(home, "config.yaml"), "utf8");
    assert.match(text, /# the vendor's own/);
    const cfg = await loadCredentialProviderConfig(join(home, "config.yaml"));
    assert.deepEqual(
      cfg.providers.map((p) => p.name),
      ["vendor-provider", "docker-credential-cloud"],
    );
    assert.ok(providerMatchesImage(cfg.providers[1] as never, "x.azurecr.io/a"));
    assert.match(r.stdout, /backup of the previous file/);
  });

  test("--dry-run writes nothing; --program chooses the link target", async (t) => {
    const home = await tmpTree(t);
    const d = await configure(home, "--cloud", "google", "--dry-run");
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /would link to/);
    assert.match(d.stdout, /^\+apiVersion: kubelet\.config\.k8s\.io\/v1$/m);
    assert.deepEqual(await readdir(home), []);
    const p = await configure(
      home,
      "--cloud",
      "google",
      "--program",
      "/opt/docker-credential-cloud/current/bin/docker-credential-cloud",
    );
    assert.equal(p.code, 0, p.stderr);
    assert.equal(
      await readlink(join(home, "bin", "gcp-credential-provider")),
      "/opt/docker-credential-cloud/current/bin/docker-credential-cloud",
    );
  });

  test("refuses to replace another program in the bin dir without --force", async (t) => {
    const home = await tmpTree(t, { "bin/ecr-credential-provider": "#!/bin/sh\n" });
    const r = await configure(home, "--cloud", "aws");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /exists \(a file\).*--force/);
    assert.equal(await readFile(join(home, "bin", "ecr-credential-provider"), "utf8"), "#!/bin/sh\n");
    assert.equal((await configure(home, "--cloud", "aws", "--force")).code, 0);
  });

  test("--check names the wrong line", async (t) => {
    const home = await tmpTree(t);
    const cases: [string, string, RegExp][] = [
      [
        "unknown field",
        'apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n  - name: a\n    matchImages: ["a.io"]\n    defaultCacheDuration: 1m\n    apiVersion: credentialprovider.kubelet.k8s.io/v1\n    argz: [kubelet]\n',
        /:8: strict decoding error: unknown field "providers\[0\]\.argz"/,
      ],
      [
        "bad match image",
        'apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n  - name: a\n    matchImages:\n      - a.io\n      - "*.b.io:port"\n    defaultCacheDuration: 1m\n    apiVersion: credentialprovider.kubelet.k8s.io/v1\n',
        /:7: providers\.matchImages: Invalid value: "\*\.b\.io:port": match image is invalid/,
      ],
      [
        "negative duration, second provider",
        "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n  - name: a\n    matchImages: [a.io]\n    defaultCacheDuration: 1m\n    apiVersion: credentialprovider.kubelet.k8s.io/v1\n  - name: b\n    matchImages: [b.io]\n    defaultCacheDuration: -5m\n    apiVersion: credentialprovider.kubelet.k8s.io/v1\n",
        /:10: providers\.defaultCacheDuration: Invalid value: "-5m"/,
      ],
      [
        "missing apiVersion of a provider",
        "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n  - name: a\n    matchImages: [a.io]\n    defaultCacheDuration: 1m\n",
        /:4: providers\.apiVersion: Required value/,
      ],
      [
        "wrong type",
        "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n  - name: a\n    matchImages: a.io\n    defaultCacheDuration: 1m\n    apiVersion: credentialprovider.kubelet.k8s.io/v1\n",
        /:5: .*cannot unmarshal string into Go struct field providers\[0\]\.matchImages/,
      ],
      [
        "YAML syntax",
        "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n  - name: [a\n",
        /:\d+: error decoding config/,
      ],
    ];
    for (const [what, text, want] of cases) {
      const file = join(home, `${what.replaceAll(" ", "-")}.yaml`);
      await writeFile(file, text);
      const r = await runCli(["configure", "kubelet", "--check", file], "", baseEnv(home));
      assert.equal(r.code, 1, `${what}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout, want, what);
      // The kubelet's own loader refuses the same file.
      await assert.rejects(loadCredentialProviderConfig(file), what);
    }
  });
});
