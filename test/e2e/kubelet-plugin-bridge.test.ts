// End to end: kubelet plugins → Docker clients. Our config file names a CredentialProviderConfig
// and bin dir; a third-party-style plugin (a shell script that speaks the kubelet protocol, like
// any vendor's credential provider) holds the registry's password. skopeo, configured with
// credHelpers: cloud, pulls from a real docker-registry through our BUILT helper, which runs the
// plugin and answers in Docker shape. The plugin counts its runs: the `get` and every `get` skopeo
// makes are separate processes, and the answer (cacheDuration 5m) is kept in the shared token
// cache, so the plugin runs once. Host names resolve to 127.0.0.11 only inside a private mount
// namespace.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { BIN, runCli } from "../support/cli.ts";
import { type OciImageInfo, readOciImage } from "../support/image.ts";
import { e2eSkip } from "../support/namespace.ts";
import { pushImage, type Registry, skopeoPull, startRegistry } from "../support/registry.ts";
import { lines, sq } from "../support/scripts.ts";
import { makeCa } from "../support/tls.ts";
import { tmpTree } from "../support/tmp.ts";

const IP = "127.0.0.11";
const HOST = "registry.plugin-bridge.test";
const V1 = "credentialprovider.kubelet.k8s.io/v1";

const skip = e2eSkip(["skopeo", "docker-registry", "htpasswd", "openssl"]);

describe("kubelet plugins serve Docker clients (get runs the node's kubelet providers)", { skip }, () => {
  let registry: Registry | undefined;
  let work = "";
  let pushed: OciImageInfo | undefined;
  const password = `vendor-${randomBytes(24).toString("hex")}`;

  before(async () => {
    work = await tmpTree(undefined);
    await mkdir(join(work, "ca"));
    const ca = await makeCa(join(work, "ca"));
    registry = await startRegistry({ ca, ip: IP, hostnames: [HOST], users: { robot: password } });
    pushed = await pushImage(registry, `${HOST}/team/app:v1`, "robot", password, { hello: "via-plugin" });
    await mkdir(join(work, "bin"));
    await symlink(BIN, join(work, "bin", "docker-credential-cloud"));
    // The node's kubelet setup: a vendor plugin and its CredentialProviderConfig.
    const plugins = join(work, "plugins");
    await mkdir(plugins);
    await writeFile(
      join(plugins, "vendor-credential-provider"),
      `#!/bin/sh
cat > ${sq(join(work, "plugin-request"))}
echo run >> ${sq(join(work, "plugin-runs"))}
printf '%s\\n' ${sq(
        JSON.stringify({
          kind: "CredentialProviderResponse",
          apiVersion: V1,
          cacheKeyType: "Registry",
          cacheDuration: "5m",
          auth: { [HOST]: { username: "robot", password } },
        }),
      )}
`,
    );
    await chmod(join(plugins, "vendor-credential-provider"), 0o755);
    await writeFile(
      join(work, "credential-providers.yaml"),
      `apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
  - name: vendor-credential-provider
    matchImages: ["*.plugin-bridge.test"]
    defaultCacheDuration: 1m
    apiVersion: ${V1}
`,
    );
  });
  after(async () => {
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const helperEnv = (home: string, config: string): Record<string, string> => ({
    PATH: `${join(work, "bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_CACHE_HOME: join(home, ".cache"),
    XDG_DATA_HOME: join(home, ".local", "share"),
    TMPDIR: home,
    AWS_EC2_METADATA_DISABLED: "true",
    NODE_EXTRA_CA_CERTS: "",
    DOCKER_CREDENTIAL_CLOUD_CONFIG: config,
    DOCKER_CREDENTIAL_CLOUD_STORE: "file",
  });

  test("skopeo pulls with the plugin's credentials; without the setting it gets none", async () => {
    assert.ok(registry && pushed);
    const home = join(work, "home");
    await mkdir(home, { recursive: true });
    const on = join(work, "on.yaml");
    await writeFile(
      on,
      `kubelet:\n  providerConfig: ${join(work, "credential-providers.yaml")}\n  binDir: ${join(work, "plugins")}\n`,
    );
    const off = join(work, "off.yaml");
    await writeFile(off, "version: 1\n");

    const got = await runCli(["get"], HOST, helperEnv(home, on));
    assert.equal(got.code, 0, got.stdout + got.stderr);
    assert.deepEqual(JSON.parse(got.stdout), { ServerURL: HOST, Username: "robot", Secret: password });
    assert.deepEqual(JSON.parse(await readFile(join(work, "plugin-request"), "utf8")), {
      kind: "CredentialProviderRequest",
      apiVersion: V1,
      image: HOST,
    });
    assert.doesNotMatch(got.stderr, new RegExp(password));

    const { r, dest } = await skopeoPull(registry, {
      image: `${HOST}/team/app:v1`,
      auth: { credHelpers: { [HOST]: "cloud" } },
      dir: work,
      env: helperEnv(home, on),
    });
    assert.equal(r.code, 0, `skopeo: ${r.stderr}\n${registry.logs().slice(-1500)}`);
    const img = await readOciImage(dest, "x");
    assert.equal(img.manifestDigest, pushed.manifestDigest);
    assert.equal(img.files.get("hello.txt")?.toString(), "via-plugin");
    assert.equal(lines(join(work, "plugin-runs")).length, 1, "skopeo's get was answered from the token cache");

    const none = await runCli(["get"], HOST, helperEnv(home, off));
    assert.equal(none.code, 1);
    assert.match(none.stdout, /credentials not found/);
    const denied = await skopeoPull(registry, {
      image: `${HOST}/team/app:v1`,
      auth: { credHelpers: { [HOST]: "cloud" } },
      dir: work,
      env: helperEnv(home, off),
    });
    assert.notEqual(denied.r.code, 0, "without the bridge the private registry refuses the pull");
    assert.equal(lines(join(work, "plugin-runs")).length, 1, "without the setting no plugin runs");
  });
});
