// `docker-credential-cloud lookup IMAGE --json`, the built CLI as a subprocess, against the
// library in this process with the same inputs: a Docker config, a kubelet plugin program, tiered
// pull secrets from files (one a whole Secret object) and a service-account token for a provider
// with tokenAttributes. Also the documented exit codes and that no secret reaches stderr.
import assert from "node:assert/strict";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { createKeyring } from "../../src/index.ts";
import { baseEnv, runCli } from "../support/cli.ts";
import { sq } from "../support/scripts.ts";
import { tmpTree } from "../support/tmp.ts";

const V1 = "credentialprovider.kubelet.k8s.io/v1";
const IMAGE = "reg.example.com/team/app:1";
const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("lookup verb", () => {
  test("lookup --json equals createKeyring().lookup() for the same inputs", async (t) => {
    const home = await tmpTree(t, {});
    const bin = join(home, "plugins");
    await mkdir(bin);
    // The plugin answers with the token it was sent, so the test sees it was passed.
    const script = `#!/bin/sh
req=$(cat)
case "$req" in *'"serviceAccountToken":"sa-token-1"'*) pw=got-sa-token;; *) pw=no-token;; esac
case "$req" in *'"example.com/role":"reader"'*) user=with-annotation;; *) user=without;; esac
printf '{"kind":"CredentialProviderResponse","apiVersion":"${V1}","cacheKeyType":"Image","cacheDuration":"0s","auth":{"reg.example.com":{"username":"%s","password":"%s"}}}\\n' "$user" "$pw"
`;
    await writeFile(join(bin, "sa-plugin"), script);
    await chmod(join(bin, "sa-plugin"), 0o755);
    await writeFile(
      join(bin, "plain-plugin"),
      `#!/bin/sh\ncat >/dev/null\nprintf '%s\\n' ${sq(JSON.stringify({ kind: "CredentialProviderResponse", apiVersion: V1, cacheKeyType: "Registry", cacheDuration: "0s", auth: { "reg.example.com/team": { username: "plain", password: "p" } } }))}\n`,
    );
    await chmod(join(bin, "plain-plugin"), 0o755);
    const kubelet = join(home, "kubelet.json");
    await writeFile(
      kubelet,
      JSON.stringify({
        apiVersion: "kubelet.config.k8s.io/v1",
        kind: "CredentialProviderConfig",
        providers: [
          { name: "plain-plugin", matchImages: ["reg.example.com"], defaultCacheDuration: "0s", apiVersion: V1 },
          {
            name: "sa-plugin",
            matchImages: ["reg.example.com"],
            defaultCacheDuration: "0s",
            apiVersion: V1,
            tokenAttributes: {
              serviceAccountTokenAudience: "reg.example.com",
              cacheType: "Token",
              requireServiceAccount: true,
              optionalServiceAccountAnnotationKeys: ["example.com/role"],
            },
          },
        ],
      }),
    );
    const docker = join(home, "docker.json");
    await writeFile(docker, JSON.stringify({ auths: { "reg.example.com": { auth: b64("docker:d") } } }));
    const s1 = join(home, "s1.json");
    await writeFile(
      s1,
      JSON.stringify({
        kind: "Secret",
        data: {
          ".dockerconfigjson": b64(
            JSON.stringify({ auths: { "reg.example.com": { username: "volume", password: "v" } } }),
          ),
        },
      }),
    );
    const s2 = join(home, "s2.json");
    await writeFile(
      s2,
      JSON.stringify({ auths: { "reg.example.com/team": { username: "sa-secret", password: "s" } } }),
    );
    const tokenFile = join(home, "token");
    await writeFile(tokenFile, "sa-token-1\n");
    const env = baseEnv(home);

    const r = await runCli(
      [
        "lookup",
        IMAGE,
        "--json",
        "--no-builtins",
        "--docker-config",
        docker,
        "--kubelet-config",
        kubelet,
        "--kubelet-bin-dir",
        bin,
        "--pull-secret-tier",
        s1,
        "--pull-secret-tier",
        s2,
        "--service-account-token",
        tokenFile,
        "--service-account-annotation",
        "example.com/role=reader",
      ],
      "",
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    const k = createKeyring({
      env,
      builtins: false,
      dockerConfig: [docker],
      kubeletConfig: kubelet,
      kubeletBinDir: bin,
      logLevel: "silent",
    });
    t.after(() => k.close());
    const lib = await k.lookup(IMAGE, {
      pullSecrets: [
        [JSON.parse(await (await import("node:fs/promises")).readFile(s1, "utf8"))],
        [JSON.parse(await (await import("node:fs/promises")).readFile(s2, "utf8"))],
      ],
      serviceAccountToken: "sa-token-1",
      serviceAccountAnnotations: { "example.com/role": "reader" },
    });
    assert.deepEqual(out, {
      apiVersion: "docker-credential-cloud.lookup/v1",
      image: IMAGE,
      repository: "reg.example.com/team/app",
      authConfigs: lib,
    });
    // The order the kubelet would try: the tiers in order, the Docker config, then the plugins.
    assert.deepEqual(
      lib.map((a) => `${a.username}:${a.password}`),
      ["volume:v", "sa-secret:s", "docker:d", "plain:p", "with-annotation:got-sa-token"],
    );
    assert.doesNotMatch(r.stderr, /sa-token-1|got-sa-token/);
  });

  test("exit codes: 2 for usage and an invalid image, 1 for an unreadable input, 0 with an empty answer", async (t) => {
    const home = await tmpTree(t, {});
    const env = baseEnv(home);
    const usage = await runCli(["lookup"], "", env);
    assert.equal(usage.code, 2);
    assert.equal(usage.stdout, "");
    assert.match(usage.stderr, /^docker-credential-cloud lookup: IMAGE is required\n/);
    assert.equal((await runCli(["lookup", "x", "--bogus"], "", env)).code, 2);
    const bad = await runCli(["lookup", "Bad Image!"], "", env);
    assert.equal(bad.code, 2);
    assert.equal(bad.stdout, "");
    const missing = await runCli(["lookup", IMAGE, "--pull-secret", join(home, "nope.json")], "", env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /pull secret .*nope\.json: ENOENT/);
    const none = await runCli(["lookup", "quay.io/x", "--json", "--no-builtins", "--no-docker-config"], "", env);
    assert.equal(none.code, 0);
    assert.deepEqual(JSON.parse(none.stdout).authConfigs, []);
  });
});
