// End to end, as a node would do it: the kubelet asks the BUILT plugin for credentials, decodes the
// answer strictly, looks the image up in its keyring, and the runtime pulls with those credentials
// in order until one works (here skopeo stands in for containerd's CRI pull). The registry is a
// real docker-registry with htpasswd and TLS answering as an ECR host; ECR/STS are the fake AWS.
// Its only user is the role a pod's service account names, so the pull succeeds with the pod's
// identity (service-account token mode) and not with the node's.
// Run: node_modules/.bin/node --test test/e2e/kubelet-pull.test.ts   (as root; skips otherwise)
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { baseEnv, runCli } from "../support/cli.ts";
import { awsEnv, type FakeAws, STS_CREDS, startFakeAws } from "../support/fake-aws.ts";
import type { OciImageInfo } from "../support/image.ts";
import { readOciImage } from "../support/image.ts";
import { type Auth, checkRun } from "../support/kubelet-checker.ts";
import { e2eSkip, type RunResult, runWithHosts } from "../support/namespace.ts";
import { pushImage, type Registry, startRegistry } from "../support/registry.ts";
import { makeCa } from "../support/tls.ts";

const ECR_HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const REGISTRY_IP = "127.0.0.7"; // this file's own address (see support/registry.ts)
const REPO = "shop/web";
const IMAGE = `${ECR_HOST}/${REPO}`;
const V1 = "credentialprovider.kubelet.k8s.io/v1";
const NODE_KEY = "AKIAFAKENODEKEY00007";
const NODE_SECRET = "node-secret-for-kubelet-e2e";
const ROLE = "arn:aws:iam::123456789012:role/shop-web-pull";
const POD_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6c2hvcDp3ZWIifQ.c2lnbmF0dXJl";
// What the fake ECR issues to the role's session in us-east-1: the registry's only password.
const POD_PASSWORD = `pw-us-east-1-${STS_CREDS.AssumeRoleWithWebIdentity.id}`;
const AUTH_ERROR = /authentication required|unauthorized/i;

const skip = e2eSkip(["skopeo", "docker-registry", "htpasswd", "openssl"]);

describe("kubelet plugin → keyring → pull from a real registry", { skip }, () => {
  let work = "";
  let registry: Registry | undefined;
  let fake: FakeAws | undefined;
  let pushed: OciImageInfo;
  let pulls = 0;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "dcc-kubelet-e2e-"));
    await mkdir(join(work, "ca"));
    const ca = await makeCa(join(work, "ca"));
    registry = await startRegistry({ ca, ip: REGISTRY_IP, hostnames: [ECR_HOST], users: { AWS: POD_PASSWORD } });
    pushed = await pushImage(registry, `${IMAGE}:v1`, "AWS", POD_PASSWORD, { hello: "from the pod's registry" });
    fake = await startFakeAws({ keys: { [NODE_KEY]: NODE_SECRET } });
  });

  after(async () => {
    await registry?.stop();
    await fake?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** The plugin as the kubelet runs it (args ["kubelet"], JSON on stdin), decoded strictly. */
  const ask = async (extra: Record<string, unknown>, cacheType?: "ServiceAccount") => {
    assert.ok(fake);
    const home = join(work, `home-plugin-${++pulls}`);
    await mkdir(home, { recursive: true });
    const r = await runCli(
      ["kubelet"],
      `${JSON.stringify({ kind: "CredentialProviderRequest", apiVersion: V1, image: IMAGE, ...extra })}\n`,
      { ...baseEnv(home), ...awsEnv(fake, NODE_KEY, NODE_SECRET) },
    );
    const token = extra.serviceAccountToken as string | undefined;
    return checkRun(r, {
      apiVersion: V1,
      image: IMAGE,
      ...(token ? { serviceAccountToken: token } : {}),
      ...(cacheType ? { cacheType } : {}),
    });
  };

  /** What the runtime does with the kubelet's list: try each credential in order, stop at the first success. */
  const pullWith = async (creds: Auth[]): Promise<{ r: RunResult; dest: string }> => {
    assert.ok(registry);
    const attempts = creds.length > 0 ? creds : [undefined];
    let last: { r: RunResult; dest: string } | undefined;
    for (const c of attempts) {
      const n = ++pulls;
      const home = join(work, `home-pull-${n}`);
      await mkdir(home, { recursive: true });
      const dest = join(work, `pulled-${n}`);
      const r = await runWithHosts(
        registry.hosts,
        "skopeo",
        [
          "copy",
          "--quiet",
          "--src-cert-dir",
          registry.certDir,
          ...(c ? ["--src-creds", `${c.username}:${c.password}`] : ["--src-no-creds"]),
          `docker://${IMAGE}:v1`,
          `oci:${dest}:x`,
        ],
        { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, TMPDIR: home }, timeoutMs: 60_000 },
      );
      last = { r, dest };
      if (r.code === 0) break;
    }
    assert.ok(last);
    return last;
  };

  test("service-account token mode: the pod's role pulls the image", async () => {
    const c = await ask(
      { serviceAccountToken: POD_TOKEN, serviceAccountAnnotations: { "eks.amazonaws.com/ecr-role-arn": ROLE } },
      "ServiceAccount",
    );
    assert.deepEqual(c.lookup, [{ username: "AWS", password: POD_PASSWORD }]);
    const { r, dest } = await pullWith(c.lookup);
    assert.equal(r.code, 0, `skopeo failed: ${r.stderr}\nregistry log:\n${registry?.logs().slice(-2000)}`);
    const img = await readOciImage(dest, "x");
    assert.equal(img.manifestDigest, pushed.manifestDigest);
    assert.equal(img.files.get("hello.txt")?.toString("utf8"), "from the pod's registry");
  });

  test("the node's identity gets valid credentials the registry refuses (only the pod's role may pull)", async () => {
    const c = await ask({});
    assert.equal(c.lookup.length, 1);
    assert.notEqual(c.lookup[0]?.password, POD_PASSWORD);
    const { r } = await pullWith(c.lookup);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, AUTH_ERROR);
  });

  test("without any credentials the pull is refused (the registry is private)", async () => {
    const { r } = await pullWith([]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, AUTH_ERROR);
  });
});
