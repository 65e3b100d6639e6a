// The BUILT binary in kubelet plugin mode for Google registries, against the fake Google (real
// google-auth-library, real host names through the MITM proxy): the node's identity, and the pod's
// service-account token exchanged at STS (workload identity federation), with and without
// impersonation. Every answer goes through the kubelet-faithful checker.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { baseEnv, type CliResult, runCli, TRACE_LOADS } from "../support/cli.ts";
import { type FakeGoogle, startFakeGoogle } from "../support/fake-google.ts";
import { type CheckOptions, checkRun } from "../support/kubelet-checker.ts";
import { tmpTree } from "../support/tmp.ts";

const HOST = "europe-west4-docker.pkg.dev";
const IMAGE = `${HOST}/project/repo/app`;
const V1 = "credentialprovider.kubelet.k8s.io/v1";
const VERSIONS = [V1, "credentialprovider.kubelet.k8s.io/v1beta1", "credentialprovider.kubelet.k8s.io/v1alpha1"];
const NODE_SA = "node@fake-project.iam.gserviceaccount.com";
const POOL = "//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/k8s/providers/cluster-a";
const PULLER = "puller@fake-project.iam.gserviceaccount.com";
const SUBJECT = "system:serviceaccount:shop:web";
const POD_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6c2hvcDp3ZWIifQ.c2ln";
const PROVIDER_ANNOTATION = "docker-credential-cloud/gcp-workload-identity-provider";
const GSA_ANNOTATION = "iam.gke.io/gcp-service-account";
const GOOGLE_SDK = /node_modules\/(?:google-auth-library|gaxios|gcp-metadata)\//;

let fake: FakeGoogle;
before(async () => {
  fake = await startFakeGoogle();
});
after(() => fake?.close());

const prepare = () => {
  fake.reset();
  fake.trustSts({ audience: POOL, subjectToken: POD_TOKEN, subject: SUBJECT });
  fake.allowImpersonation(`federated:${POOL}#${SUBJECT}`, PULLER);
};

/** The node: a service-account key as its ADC; the fake's proxy and CA; no metadata server. */
const nodeEnv = async (t: Parameters<typeof tmpTree>[0]): Promise<Record<string, string>> => {
  const home = await tmpTree(t, { "node-sa.json": JSON.stringify(fake.serviceAccountKey(NODE_SA)) });
  return {
    ...baseEnv(home),
    PATH: `${fake.gcloudTrapDir}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    ...fake.env(),
    GOOGLE_APPLICATION_CREDENTIALS: join(home, "node-sa.json"),
  };
};

const request = (image: string, apiVersion = V1, extra: Record<string, unknown> = {}) =>
  `${JSON.stringify({ kind: "CredentialProviderRequest", apiVersion, image, ...extra })}\n`;
const saRequest = (annotations: Record<string, string>, token = POD_TOKEN) =>
  request(IMAGE, V1, { serviceAccountToken: token, serviceAccountAnnotations: annotations });

const kubelet = (input: string, env: Record<string, string>) => runCli(["kubelet"], input, env);

const checked = (r: CliResult, opts: Partial<CheckOptions> = {}) => {
  const c = checkRun(r, { apiVersion: V1, image: IMAGE, ...opts });
  const entry = c.response.auth[HOST];
  assert.ok(entry, JSON.stringify(c.response));
  assert.equal(entry.username, "oauth2accesstoken");
  assert.ok(!r.stderr.includes(entry.password), "stderr must not contain the token");
  return { ...c, password: entry.password };
};

const failed = (r: CliResult, message: RegExp) => {
  assert.notEqual(r.code, 0);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^docker-credential-cloud: [^\n]+\n$/, JSON.stringify(r.stderr));
  assert.match(r.stderr, message);
};

const clean = async () => {
  assert.deepEqual(fake.rejections, [], "the fake rejected something the client sent");
  assert.equal(await fake.gcloudCalls(), "", "gcloud must never be spawned");
};

describe("kubelet plugin mode: Google with the node's identity", () => {
  for (const apiVersion of VERSIONS) {
    test(`${apiVersion}: the node's service account token, strictly valid`, async (t) => {
      prepare();
      const c = checked(await kubelet(request(IMAGE, apiVersion), await nodeEnv(t)), { apiVersion });
      assert.equal(fake.principalOf(c.password), `serviceAccount:${NODE_SA}`);
      assert.equal(c.response.cacheKeyType, "Registry");
      const secs = (c.response.cacheDurationNs as number) / 1e9;
      assert.ok(secs <= fake.ttlSeconds / 2 && secs >= fake.ttlSeconds / 2 - 5, `${c.response.cacheDuration}`);
      await clean();
    });
  }

  for (const image of ["gcr.io/project/app", "eu.gcr.io/project/app", "docker.us-central1.rep.pkg.dev/p/r/app"]) {
    test(`other Google hosts: ${image}`, async (t) => {
      prepare();
      const c = checkRun(await kubelet(request(image), await nodeEnv(t)), { apiVersion: V1, image });
      const host = image.split("/")[0] as string;
      assert.equal(fake.principalOf(c.response.auth[host]?.password ?? ""), `serviceAccount:${NODE_SA}`);
    });
  }

  test("a second run is served from the shared cache and loads no Google SDK", async (t) => {
    prepare();
    const env = await nodeEnv(t);
    const first = checked(await kubelet(request(IMAGE), env));
    const calls = fake.count("oauth2.googleapis.com");
    const trace = join(env.HOME as string, "loads.txt");
    const second = checked(
      await kubelet(request(IMAGE), { ...env, NODE_OPTIONS: `--import ${TRACE_LOADS}`, DCC_TRACE_LOADS: trace }),
    );
    assert.equal(second.password, first.password);
    assert.equal(fake.count("oauth2.googleapis.com"), calls, "no second token request");
    assert.doesNotMatch(await readFile(trace, "utf8"), GOOGLE_SDK);
  });

  test("no Google identity on the node: exit 1, one line", async (t) => {
    prepare();
    const env = { ...baseEnv(await tmpTree(t)), ...fake.env() };
    failed(await kubelet(request(IMAGE), env), /Google|identity/i);
  });
});

describe("kubelet plugin mode: Google with service-account tokens", () => {
  test("STS exchange at the annotated pool provider, then impersonation of the annotated account", async (t) => {
    prepare();
    const r = await kubelet(saRequest({ [PROVIDER_ANNOTATION]: POOL, [GSA_ANNOTATION]: PULLER }), await nodeEnv(t));
    const c = checked(r, { serviceAccountToken: POD_TOKEN, cacheType: "ServiceAccount" });
    assert.equal(fake.principalOf(c.password), `serviceAccount:${PULLER}`);
    assert.equal(fake.count("sts.googleapis.com"), 1);
    assert.equal(fake.count("oauth2.googleapis.com"), 0, "the node's key is not used");
    assert.ok(!r.stderr.includes(POD_TOKEN));
    await clean();
  });

  test("direct federated access (no service account to impersonate)", async (t) => {
    prepare();
    const c = checked(await kubelet(saRequest({ [PROVIDER_ANNOTATION]: POOL }), await nodeEnv(t)), {
      serviceAccountToken: POD_TOKEN,
    });
    assert.equal(fake.principalOf(c.password), `federated:${POOL}#${SUBJECT}`);
    assert.equal(fake.count("iamcredentials.googleapis.com"), 0);
    await clean();
  });

  test("the pool provider from the config file's rule when the annotation is absent", async (t) => {
    prepare();
    const env = await nodeEnv(t);
    const config = join(env.HOME as string, "config.json");
    await writeFile(
      config,
      JSON.stringify({ registries: [{ match: "*-docker.pkg.dev", google: { workloadIdentityProvider: POOL } }] }),
    );
    const c = checked(await kubelet(saRequest({}), { ...env, DOCKER_CREDENTIAL_CLOUD_CONFIG: config }), {
      serviceAccountToken: POD_TOKEN,
    });
    assert.equal(fake.principalOf(c.password), `federated:${POOL}#${SUBJECT}`);
  });

  test("no pool provider anywhere: exit 1 naming what to set; nothing sent, no fallback to the node", async (t) => {
    prepare();
    const r = await kubelet(saRequest({}), await nodeEnv(t));
    failed(r, /workloadIdentityProvider/);
    assert.equal(fake.count("sts.googleapis.com"), 0);
    assert.equal(fake.count("oauth2.googleapis.com"), 0);
    assert.ok(!r.stderr.includes(POD_TOKEN));
  });

  test("STS refuses a token it does not trust: exit 1, one line, the token not printed", async (t) => {
    prepare();
    const other = "eyJhbGciOiJSUzI1NiJ9.dW50cnVzdGVk.c2ln";
    const r = await kubelet(saRequest({ [PROVIDER_ANNOTATION]: POOL }, other), await nodeEnv(t));
    failed(r, /STS|token|federation|pool/i);
    assert.ok(!r.stderr.includes(other));
  });

  test("cached per token: the same pod's next pull is a hit, another pod's token fetches", async (t) => {
    prepare();
    const env = await nodeEnv(t);
    const ann = { [PROVIDER_ANNOTATION]: POOL, [GSA_ANNOTATION]: PULLER };
    const a = checked(await kubelet(saRequest(ann), env), { serviceAccountToken: POD_TOKEN });
    const b = checked(await kubelet(saRequest(ann), env), { serviceAccountToken: POD_TOKEN });
    assert.equal(b.password, a.password);
    assert.equal(fake.count("sts.googleapis.com"), 1);
    const node = checked(await kubelet(request(IMAGE), env));
    assert.equal(fake.principalOf(node.password), `serviceAccount:${NODE_SA}`, "the node keeps its own token");
  });
});
