// The keyring where an audit against the kubelet's source found it wrong (issue 12, defects 1–6):
// source order across the Docker-config and plugin keyrings, the Docker Hub login next to a
// plugin's docker.io key, character classes in keys, unpadded base64 `auth`, a configured binary
// that only shares our name, and a whole Secret object as a pull secret. Plugins are real
// programs (shell scripts) run through a real CredentialProviderConfig.
import assert from "node:assert/strict";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { createKeyring, type KeyringOptions } from "../../src/index.ts";
import { baseEnv } from "../support/cli.ts";
import { sq } from "../support/scripts.ts";
import { tmpTree } from "../support/tmp.ts";

type T = Parameters<typeof tmpTree>[0];
const V1 = "credentialprovider.kubelet.k8s.io/v1";
const b64 = (s: string) => Buffer.from(s).toString("base64");

const pluginScript = (auth: Record<string, [string, string]>, mark?: string) => `#!/bin/sh
cat > /dev/null
${mark ? `: > ${sq(mark)}\n` : ""}printf '%s\\n' ${sq(
  JSON.stringify({
    kind: "CredentialProviderResponse",
    apiVersion: V1,
    cacheKeyType: "Registry",
    cacheDuration: "0s",
    auth: Object.fromEntries(Object.entries(auth).map(([k, [username, password]]) => [k, { username, password }])),
  }),
)}
`;

const setup = async (
  t: T,
  o: { docker?: unknown; plugins?: { name: string; matchImages: string[]; script: string; args?: string[] }[] },
): Promise<{ home: string; logs: string[]; options: KeyringOptions }> => {
  const home = await tmpTree(t, {});
  const bin = join(home, "plugins");
  await mkdir(bin);
  const logs: string[] = [];
  const log = (l: string) => (m: string) => logs.push(`${l} ${m}`);
  const options: KeyringOptions = {
    env: baseEnv(home),
    dockerConfig: false,
    builtins: false,
    logger: { error: log("error"), warn: log("warn"), info: log("info"), debug: log("debug") },
    logLevel: "debug",
  };
  if (o.docker !== undefined) {
    await writeFile(join(home, "config.json"), JSON.stringify(o.docker));
    options.dockerConfig = join(home, "config.json");
  }
  if (o.plugins) {
    for (const p of o.plugins) {
      await writeFile(join(bin, p.name), p.script);
      await chmod(join(bin, p.name), 0o755);
    }
    await writeFile(
      join(home, "kubelet.json"),
      JSON.stringify({
        apiVersion: "kubelet.config.k8s.io/v1",
        kind: "CredentialProviderConfig",
        providers: o.plugins.map((p) => ({
          name: p.name,
          matchImages: p.matchImages,
          defaultCacheDuration: "0s",
          apiVersion: V1,
          ...(p.args ? { args: p.args } : {}),
        })),
      }),
    );
    options.kubeletConfig = join(home, "kubelet.json");
    options.kubeletBinDir = bin;
  }
  return { home, logs, options };
};

const users = (r: { username?: string }[]) => r.map((a) => a.username);

describe("kubelet-exact keyring (issue 12 defects)", () => {
  test("1: every Docker-config credential comes before any plugin credential, even a more specific plugin key", async (t) => {
    const { options } = await setup(t, {
      docker: { auths: { "reg.example.com": { username: "docker", password: "d" } } },
      plugins: [
        {
          name: "p",
          matchImages: ["reg.example.com"],
          script: pluginScript({ "reg.example.com/team": ["plugin", "p"] }),
        },
      ],
    });
    const k = createKeyring(options);
    t.after(() => k.close());
    assert.deepEqual(users(await k.lookup("reg.example.com/team/app")), ["docker", "plugin"]);
  });

  test("2: a Docker Hub login stays when a plugin answers for docker.io, and comes first", async (t) => {
    const { options } = await setup(t, {
      docker: { auths: { "https://index.docker.io/v1/": { username: "hub", password: "h" } } },
      plugins: [{ name: "p", matchImages: ["docker.io"], script: pluginScript({ "docker.io": ["plugin", "p"] }) }],
    });
    const k = createKeyring(options);
    t.after(() => k.close());
    assert.deepEqual(users(await k.lookup("nginx")), ["hub", "plugin"]);
  });

  test("3: character classes in keys match as filepath.Match does", async (t) => {
    const { options } = await setup(t, {
      docker: { auths: { "reg[ab].example.com": { username: "class", password: "c" } } },
    });
    const k = createKeyring(options);
    t.after(() => k.close());
    assert.deepEqual(users(await k.lookup("rega.example.com/x")), ["class"]);
    assert.deepEqual(users(await k.lookup("regb.example.com/x")), ["class"]);
    assert.deepEqual(users(await k.lookup("regc.example.com/x")), []);
  });

  test("4: unpadded base64 auth is accepted, in config.json and in pull secrets", async (t) => {
    const unpadded = b64("user:pw1").replace(/=+$/, "");
    assert.notEqual(unpadded, b64("user:pw1"), "the fixture really is unpadded");
    const { options } = await setup(t, { docker: { auths: { "reg.example.com": { auth: unpadded } } } });
    const k = createKeyring(options);
    t.after(() => k.close());
    assert.deepEqual(
      await k.lookup("reg.example.com/x", { pullSecrets: [{ auths: { "sec.example.com": { auth: unpadded } } }] }),
      [{ serverAddress: "https://reg.example.com", username: "user", password: "pw1" }],
    );
    assert.deepEqual(
      users(
        await k.lookup("sec.example.com/x", { pullSecrets: [{ auths: { "sec.example.com": { auth: unpadded } } }] }),
      ),
      ["user"],
    );
  });

  test("5: a provider named docker-credential-cloud whose binary is another program is run, not answered in process", async (t) => {
    const { home, options } = await setup(t, {
      plugins: [
        {
          name: "docker-credential-cloud",
          args: ["kubelet"],
          matchImages: ["*.dkr.ecr.us-east-1.amazonaws.com"],
          script: pluginScript({ "123456789012.dkr.ecr.us-east-1.amazonaws.com": ["third-party", "t"] }),
        },
      ],
    });
    const k = createKeyring({ ...options, builtins: true, env: { ...options.env, AWS_EC2_METADATA_DISABLED: "true" } });
    t.after(() => k.close());
    const r = await k.lookup("123456789012.dkr.ecr.us-east-1.amazonaws.com/app");
    assert.equal(users(r)[0], "third-party", `the program in the bin dir answered (${home})`);
  });

  test("6: a whole Kubernetes Secret object in pullSecrets is read (data and stringData)", async (t) => {
    const { logs, options } = await setup(t, {});
    const k = createKeyring(options);
    t.after(() => k.close());
    const cfg = JSON.stringify({ auths: { "reg.example.com": { username: "from-secret", password: "s" } } });
    const secret = {
      apiVersion: "v1",
      kind: "Secret",
      type: "kubernetes.io/dockerconfigjson",
      data: { ".dockerconfigjson": b64(cfg) },
    };
    assert.deepEqual(users(await k.lookup("reg.example.com/x", { pullSecrets: [secret] })), ["from-secret"]);
    const plain = { kind: "Secret", stringData: { ".dockerconfigjson": cfg } };
    assert.deepEqual(users(await k.lookup("reg.example.com/x", { pullSecrets: [plain] })), ["from-secret"]);
    const opaque = { kind: "Secret", type: "Opaque", data: { token: b64("x") } };
    assert.deepEqual(await k.lookup("reg.example.com/x", { pullSecrets: [opaque] }), []);
    assert.ok(
      logs.some((l) => /^warn docker-credential-cloud: pullSecrets\[0\]: a Secret of type Opaque/.test(l)),
      logs.join("\n"),
    );
  });
});
