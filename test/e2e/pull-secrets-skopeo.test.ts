// Done-when of issue 11: `pull-secrets --once` (the BUILT CLI) against the fake Kubernetes API, with
// ECR, Artifact Registry and ACR credentials from the three clouds' fakes, writes a secret whose
// .dockerconfigjson, given to skopeo as its --authfile, pulls a private image from each registry
// host (a real docker-registry answering as all three, names mapped to loopback in a private
// mount namespace).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { baseEnv, runCli } from "../support/cli.ts";
import { awsEnv, type FakeAws, startFakeAws } from "../support/fake-aws.ts";
import { ACR_USER, type FakeAzure, makeRefreshToken, startFakeAzure, TENANT } from "../support/fake-azure.ts";
import { type FakeGoogle, startFakeGoogle } from "../support/fake-google.ts";
import { type FakeKube, kubeconfigFor, startFakeKube } from "../support/fake-kube.ts";
import { readOciImage } from "../support/image.ts";
import { e2eSkip } from "../support/namespace.ts";
import { pushImage, type Registry, skopeoPull, startRegistry } from "../support/registry.ts";
import { issueCert } from "../support/tls.ts";
import { tmpTree } from "../support/tmp.ts";

const IP = "127.0.0.10"; // assigned to this file in support/registry.ts
const ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const GAR = "europe-west4-docker.pkg.dev";
const ACR = "myregistry.azurecr.io";
const AKID = "AKIAFAKEPULLSECRETE2";
const AWS_SECRET = "fake-pull-secrets-e2e";
const ECR_PASSWORD = `pw-us-east-1-${AKID}`;
const GOOGLE_USER = "oauth2accesstoken";

const skip = e2eSkip(["skopeo", "docker-registry", "htpasswd", "openssl"]);

describe("pull-secrets --once → skopeo pulls with the secret as its authfile (ECR, Artifact Registry, ACR)", {
  skip,
}, () => {
  let work = "";
  let kube: FakeKube;
  let aws: FakeAws;
  let google: FakeGoogle;
  let azure: FakeAzure;
  let registry: Registry | undefined;
  const googleToken = `ya29.e2e-${randomBytes(16).toString("hex")}`;
  const acrToken = makeRefreshToken({ exp: Math.floor(Date.now() / 1000) + 3 * 3600, src: "e2e", aud: ACR });
  const pushed: Record<string, { manifestDigest: string; hello: string }> = {};

  before(async () => {
    work = await tmpTree(undefined);
    google = await startFakeGoogle();
    aws = await startFakeAws({ keys: { [AKID]: AWS_SECRET } });
    azure = await startFakeAzure({
      ca: google.ca,
      clients: { "e2e-app": { secret: "e2e-secret" } },
      registries: { [ACR]: { refreshToken: acrToken } },
    });
    const leaf = await issueCert(google.ca, ["127.0.0.1"]);
    kube = await startFakeKube({ tls: { key: leaf.keyPem, cert: leaf.certPem } });
    registry = await startRegistry({
      ca: google.ca,
      ip: IP,
      hostnames: [ECR, GAR, ACR],
      users: { AWS: ECR_PASSWORD, [GOOGLE_USER]: googleToken, [ACR_USER]: acrToken },
    });
    pushed[ECR] = await pushImage(registry, `${ECR}/team/app:v1`, "AWS", ECR_PASSWORD);
    pushed[GAR] = await pushImage(registry, `${GAR}/proj/images/app:v1`, GOOGLE_USER, googleToken);
    pushed[ACR] = await pushImage(registry, `${ACR}/e2e/app:v1`, ACR_USER, acrToken);
  });
  after(async () => {
    await registry?.stop();
    await kube?.close();
    await aws?.close();
    await azure?.close();
    await google?.close();
    await rm(work, { recursive: true, force: true });
  });

  test("each image is pulled with the namespace's secret, and nothing else", async () => {
    kube.addNamespace("apps");
    kube.addNamespace("web");
    const kubeconfig = join(work, "kubeconfig");
    await writeFile(kubeconfig, kubeconfigFor(kube, google.ca.certPem));
    const cfg = join(work, "pull-secrets.yaml");
    await writeFile(cfg, `registries:\n  - ${ECR}\n  - ${GAR}\n  - ${ACR}\nnamespaces: { include: ["*"] }\n`);
    google.nextTokens.push(googleToken);
    const home = join(work, "home");
    const r = await runCli(["pull-secrets", "--config", cfg, "--kubeconfig", kubeconfig, "--once"], "", {
      ...baseEnv(home),
      ...awsEnv(aws, AKID, AWS_SECRET),
      GCE_METADATA_HOST: google.metadataHost,
      METADATA_SERVER_DETECTION: "assume-present",
      ...azure.env(),
      AZURE_TENANT_ID: TENANT,
      AZURE_CLIENT_ID: "e2e-app",
      AZURE_CLIENT_SECRET: "e2e-secret",
      DOCKER_CREDENTIAL_CLOUD_LOG: "debug",
    });
    assert.equal(r.code, 0, `pull-secrets: ${r.stderr}`);
    for (const secret of [ECR_PASSWORD, googleToken, acrToken, AWS_SECRET, "e2e-secret"])
      assert.ok(!r.stderr.includes(secret) && !r.stdout.includes(secret), "no secret in the output, even at debug");
    const s = kube.get("secrets", "web", "cloud-registry-credentials");
    assert.ok(s, r.stdout);
    assert.equal(s.type, "kubernetes.io/dockerconfigjson");
    const authfile = JSON.parse(
      Buffer.from((s.data as Record<string, string>)[".dockerconfigjson"] ?? "", "base64").toString(),
    );
    assert.deepEqual(Object.keys(authfile.auths).sort(), [ACR, ECR, GAR].sort());

    const images = { [ECR]: "team/app", [GAR]: "proj/images/app", [ACR]: "e2e/app" };
    for (const [host, repo] of Object.entries(images)) {
      assert.ok(registry);
      const pullHome = join(work, `pull-${host}`);
      await mkdir(pullHome, { recursive: true });
      const env = { PATH: "/usr/bin:/bin", HOME: pullHome, TMPDIR: pullHome };
      const { r: pulled, dest } = await skopeoPull(registry, {
        image: `${host}/${repo}:v1`,
        auth: authfile,
        dir: work,
        env,
      });
      assert.equal(pulled.code, 0, `skopeo ${host}: ${pulled.stderr}\n${registry.logs().slice(-1500)}`);
      const img = await readOciImage(dest, "x");
      assert.equal(img.manifestDigest, pushed[host]?.manifestDigest);
      assert.equal(img.files.get("hello.txt")?.toString(), pushed[host]?.hello);
      // And the same pull without the secret is refused: the secret is what made it work.
      const { r: anon } = await skopeoPull(registry, { image: `${host}/${repo}:v1`, auth: {}, dir: work, env });
      assert.notEqual(anon.code, 0);
      assert.match(anon.stderr, /authentication required|unauthorized/i);
    }
  });
});
