// End to end: skopeo pulls from a real docker-registry answering as myregistry.azurecr.io
// (htpasswd user 00000000-0000-0000-0000-000000000000, password = the refresh token the fake ACR
// exchange returns), with credHelpers (or credsStore) naming the BUILT helper, which gets an Entra
// token for a service principal from the fake login.microsoftonline.com and exchanges it at the
// fake https://myregistry.azurecr.io/oauth2/exchange, both through the MITM proxy.
//
// ACR serves the exchange on the registry host itself, so skopeo and the helper must see different
// things for the same name: skopeo reaches the docker-registry (private /etc/hosts), the helper the
// fake (HTTPS_PROXY). skopeo honours HTTPS_PROXY too, so the proxy variables are set only for the
// helper, by a two-line wrapper named docker-credential-cloud that execs the built binary.
// Run as root (private /etc/hosts per skopeo process); skipped otherwise. Build first.
import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { BIN } from "../support/cli.ts";

// The Node launcher (`npm run test:launcher`) runs on the first `node` on PATH: this test's own.
const NODE_DIR = dirname(process.execPath);

import {
  ACR_USER,
  type FakeAzure,
  jwtClaims,
  makeRefreshToken,
  startFakeAzure,
  TENANT,
  writeFakeAz,
} from "../support/fake-azure.ts";
import { type OciImageInfo, readOciImage } from "../support/image.ts";
import { e2eSkip, type RunResult } from "../support/namespace.ts";
import { pushImage, type Registry, skopeoPull, startRegistry } from "../support/registry.ts";
import { type Ca, makeCa } from "../support/tls.ts";

const HOST = "myregistry.azurecr.io";
const REGISTRY_IP = "127.0.0.5"; // assigned to this file in support/registry.ts
const REPO = "e2e/hello";
const AUTH_ERROR = /authentication required|unauthorized/i;
const SP = { AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: "e2e-app", AZURE_CLIENT_SECRET: "e2e-secret" };

const skip = e2eSkip(["skopeo", "docker-registry", "htpasswd", "openssl"]);

const shq = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

describe("skopeo pulls from ACR through docker-credential-cloud", { skip }, () => {
  let work = "";
  let ca: Ca;
  let fake: FakeAzure | undefined;
  let registry: Registry | undefined;
  let pushed: OciImageInfo;
  let binDir = "";
  let pulls = 0;
  // The refresh token the fake exchange hands out; a random jti early on keeps it unique within
  // bcrypt's 72 bytes (asserted below), so a wrong token really is refused.
  const refreshToken = makeRefreshToken({ exp: Math.floor(Date.now() / 1000) + 3 * 3600, src: "e2e", aud: HOST });

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "dcc-acr-e2e-"));
    ca = await makeCa(work);
    fake = await startFakeAzure({
      ca,
      clients: { "e2e-app": { secret: "e2e-secret" } },
      registries: { [HOST]: { refreshToken } },
    });
    registry = await startRegistry({ ca, ip: REGISTRY_IP, hostnames: [HOST], users: { [ACR_USER]: refreshToken } });
    pushed = await pushImage(registry, `${HOST}/${REPO}:latest`, ACR_USER, refreshToken);
    // The helper, as skopeo finds it on PATH, with the proxy settings only it should see.
    binDir = join(work, "bin");
    await mkdir(binDir);
    const proxyEnv = fake.env();
    await writeFile(
      join(binDir, "docker-credential-cloud"),
      [
        "#!/bin/sh",
        `export HTTPS_PROXY=${shq(proxyEnv.HTTPS_PROXY ?? "")} NO_PROXY=${shq(proxyEnv.NO_PROXY ?? "")}`,
        `exec ${shq(BIN)} "$@"`,
        "",
      ].join("\n"),
    );
    await chmod(join(binDir, "docker-credential-cloud"), 0o755);
    // A logged-out `az` first on PATH, so a developer's own Azure CLI login never leaks in.
    await writeFakeAz(binDir, { logFile: join(work, "az.log"), mode: "login" });
  });

  after(async () => {
    await registry?.stop();
    await fake?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const pull = async (
    auth: object,
    env: Record<string, string>,
    home?: string,
  ): Promise<{ r: RunResult; dest: string; home: string }> => {
    assert.ok(registry && fake);
    const h = home ?? join(work, `home${++pulls}`);
    await mkdir(h, { recursive: true });
    const { r, dest } = await skopeoPull(registry, {
      image: `${HOST}/${REPO}:latest`,
      auth,
      dir: work,
      env: {
        PATH: `${binDir}:${process.env.PATH ?? "/usr/bin:/bin"}`,
        HOME: h,
        TMPDIR: h,
        XDG_CONFIG_HOME: join(h, ".config"),
        XDG_CACHE_HOME: join(h, ".cache"),
        XDG_DATA_HOME: join(h, ".local", "share"),
        AZURE_CONFIG_DIR: join(h, ".azure"),
        // No managed identity on this "machine"; the test CA for the helper's TLS.
        AZURE_POD_IDENTITY_AUTHORITY_HOST: "http://127.0.0.1:9",
        NODE_EXTRA_CA_CERTS: ca.certFile,
        DOCKER_CREDENTIAL_CLOUD_LOG: "info",
        ...env,
      },
      timeoutMs: 90_000,
    });
    return { r, dest, home: h };
  };

  const assertPulled = async (r: RunResult, dest: string) => {
    assert.equal(r.code, 0, `skopeo failed: ${r.stderr}\nregistry log:\n${registry?.logs().slice(-2000)}`);
    const img = await readOciImage(dest, "x");
    assert.equal(img.manifestDigest, pushed.manifestDigest);
    assert.equal(img.files.get("hello.txt")?.toString("utf8"), pushed.hello);
  };

  const exchanges = () => (fake?.calls ?? []).filter((c) => c.host === HOST && c.path === "/oauth2/exchange");

  test("the fake refresh token differs from a fresh one within bcrypt's 72 bytes", () => {
    const other = makeRefreshToken({ exp: 1, src: "e2e", aud: HOST });
    assert.notEqual(
      Buffer.from(refreshToken).subarray(0, 72).toString(),
      Buffer.from(other).subarray(0, 72).toString(),
    );
  });

  // skopeo (containers/image) reads credHelpers but not credsStore, so both pulls use credHelpers;
  // the second one, in the same HOME, is served from the helper's shared cache.
  test("credHelpers → GUID user + refresh token; a second pull in the same HOME is a cache hit", async () => {
    assert.ok(fake);
    const before = exchanges().length;
    const first = await pull({ credHelpers: { [HOST]: "cloud" } }, SP);
    await assertPulled(first.r, first.dest);
    assert.equal(exchanges().length, before + 1, "one exchange for the whole pull");
    const ex = exchanges().at(-1);
    assert.equal(ex?.form.service, HOST);
    assert.equal(fake.tokens.get(ex?.form.access_token ?? "")?.src, "secret");
    assert.equal(jwtClaims(refreshToken)?.src, "e2e");
    const cache = await readFile(join(first.home, ".cache", "docker-credential-cloud", "tokens.json"), "utf8");
    assert.ok(cache.includes(HOST));
    assert.deepEqual(fake.unexpected, []);

    const second = await pull({ credHelpers: { [HOST]: "cloud" } }, SP, first.home);
    await assertPulled(second.r, second.dest);
    assert.equal(exchanges().length, before + 1, "served from the shared cache: no new exchange");
  });

  test("no Azure identity: the helper says not-found, skopeo tries anonymously and the registry refuses", async () => {
    assert.ok(fake);
    const before = fake.calls.length;
    const { r } = await pull({ credHelpers: { [HOST]: "cloud" } }, { PATH: `${binDir}:${NODE_DIR}:/usr/bin:/bin` });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, AUTH_ERROR);
    assert.equal(fake.calls.length, before, "nothing reached Entra or the exchange");
  });

  test("the registry's refusal of the token is a pull failure (the token really is the credential)", async () => {
    assert.ok(fake && registry);
    // A second fake whose exchange mints a different refresh token: the docker-registry refuses it.
    const other = await startFakeAzure({
      ca,
      clients: { "e2e-app": { secret: "e2e-secret" } },
      registries: { [HOST]: {} },
    });
    try {
      const wrapper = join(work, "bin-other");
      await mkdir(wrapper);
      await writeFile(
        join(wrapper, "docker-credential-cloud"),
        `#!/bin/sh\nexport HTTPS_PROXY=${shq(other.proxy.url)} NO_PROXY='127.0.0.1,localhost'\nexec ${shq(BIN)} "$@"\n`,
      );
      await chmod(join(wrapper, "docker-credential-cloud"), 0o755);
      const { r } = await pull(
        { credHelpers: { [HOST]: "cloud" } },
        { ...SP, PATH: `${wrapper}:${binDir}:${NODE_DIR}:/usr/bin:/bin` },
      );
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, AUTH_ERROR);
      assert.equal(other.calls.filter((c) => c.path === "/oauth2/exchange").length >= 1, true);
    } finally {
      await other.close();
    }
  });
});
