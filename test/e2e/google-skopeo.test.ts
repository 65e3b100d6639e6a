// End to end: skopeo pulls from a real docker-registry answering as europe-west4-docker.pkg.dev
// (htpasswd user oauth2accesstoken, password = the access token the fake Google issues), with
// credHelpers naming the BUILT helper, which gets the token from the fake metadata server or,
// through the MITM proxy, from the fake oauth2.googleapis.com with a service-account key.
// Run as root (private /etc/hosts per skopeo process); skipped otherwise. Build first.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { BIN } from "../support/cli.ts";
import { type FakeGoogle, startFakeGoogle } from "../support/fake-google.ts";
import { type OciImageInfo, readOciImage } from "../support/image.ts";
import { e2eSkip, type RunResult } from "../support/namespace.ts";
import { pushImage, type Registry, skopeoPull, startRegistry } from "../support/registry.ts";

const HOST = "europe-west4-docker.pkg.dev";
const REGISTRY_IP = "127.0.0.4"; // assigned to this file in support/registry.ts
const REPO = "fake-project/images/hello";
const USER = "oauth2accesstoken";
const AUTH_ERROR = /authentication required|unauthorized/i;

const skip = e2eSkip(["skopeo", "docker-registry", "htpasswd", "openssl"]);

describe("skopeo pulls from Artifact Registry through docker-credential-cloud", { skip }, () => {
  let work = "";
  let fake: FakeGoogle | undefined;
  let registry: Registry | undefined;
  let pushed: OciImageInfo;
  let pulls = 0;
  // ≤ 72 bytes: the registry's bcrypt only compares that much.
  const token = `ya29.e2e-${randomBytes(16).toString("hex")}`;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "dcc-google-e2e-"));
    fake = await startFakeGoogle();
    registry = await startRegistry({ ca: fake.ca, ip: REGISTRY_IP, hostnames: [HOST], users: { [USER]: token } });
    pushed = await pushImage(registry, `${HOST}/${REPO}:latest`, USER, token);
  });

  after(async () => {
    await registry?.stop();
    await fake?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** A fresh HOME with an auth file naming our helper for HOST; skopeo copy into an oci: dir. */
  const pull = async (env: Record<string, string>): Promise<{ r: RunResult; dest: string; home: string }> => {
    assert.ok(registry && fake);
    const home = join(work, `home${++pulls}`);
    await mkdir(home, { recursive: true });
    const { r, dest } = await skopeoPull(registry, {
      image: `${HOST}/${REPO}:latest`,
      auth: { credHelpers: { [HOST]: "cloud" } },
      dir: work,
      env: {
        // The gcloud trap first: the helper must never run gcloud. Then the built helper.
        PATH: `${fake.gcloudTrapDir}:${join(BIN, "..")}:${process.env.PATH ?? "/usr/bin:/bin"}`,
        HOME: home,
        TMPDIR: home,
        XDG_CONFIG_HOME: join(home, ".config"),
        XDG_CACHE_HOME: join(home, ".cache"),
        XDG_DATA_HOME: join(home, ".local", "share"),
        CLOUDSDK_CONFIG: join(home, ".config", "gcloud"),
        NODE_EXTRA_CA_CERTS: "",
        DOCKER_CREDENTIAL_CLOUD_LOG: "info",
        ...env,
      },
      timeoutMs: 90_000,
    });
    return { r, dest, home };
  };

  const assertPulled = async (r: RunResult, dest: string) => {
    assert.equal(r.code, 0, `skopeo failed: ${r.stderr}\nregistry log:\n${registry?.logs().slice(-2000)}`);
    const img = await readOciImage(dest, "x");
    assert.equal(img.manifestDigest, pushed.manifestDigest);
    assert.equal(img.files.get("hello.txt")?.toString("utf8"), pushed.hello);
  };

  test("metadata server identity (as on a GKE node)", async () => {
    assert.ok(fake);
    fake.reset();
    fake.nextTokens.push(token);
    const { r, dest, home } = await pull({ GCE_METADATA_HOST: fake.metadataHost });
    await assertPulled(r, dest);
    assert.equal(fake.principalOf(token), "metadata:default");
    assert.equal(
      fake.count("http", "/computeMetadata/v1/instance/service-accounts/default/token"),
      1,
      "one token for the whole pull",
    );
    assert.deepEqual(fake.rejections, []);
    assert.equal(await fake.gcloudCalls(), "");
    const cache = await readFile(join(home, ".cache", "docker-credential-cloud", "tokens.json"), "utf8");
    assert.ok(cache.includes(HOST));
  });

  test("service-account key through GOOGLE_APPLICATION_CREDENTIALS (oauth2.googleapis.com via the proxy)", async () => {
    assert.ok(fake);
    fake.reset();
    fake.nextTokens.push(token);
    const key = join(work, "sa.json");
    await writeFile(key, JSON.stringify(fake.serviceAccountKey("ci@fake-project.iam.gserviceaccount.com")));
    const { r, dest } = await pull({
      GOOGLE_APPLICATION_CREDENTIALS: key,
      METADATA_SERVER_DETECTION: "none",
      ...fake.env(),
      // skopeo honours the proxy too; only the helper's calls to Google should take it.
      NO_PROXY: `127.0.0.1,localhost,${HOST}`,
    });
    await assertPulled(r, dest);
    assert.equal(fake.principalOf(token), "serviceAccount:ci@fake-project.iam.gserviceaccount.com");
    assert.deepEqual(fake.proxy.connects, ["oauth2.googleapis.com:443"]);
    assert.deepEqual(fake.rejections, []);
  });

  test("no Google identity: the helper says not-found, skopeo tries anonymously and the registry refuses", async () => {
    assert.ok(fake);
    fake.reset();
    const { r } = await pull({ METADATA_SERVER_DETECTION: "none" });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, AUTH_ERROR);
    assert.equal(fake.seen.length, 0);
  });
});
