// Kubelet service-account token mode for Google, in process: resolveRoute with a Workload (the
// pod's projected token + its service account's annotations, as the kubelet adapter passes them)
// and the google provider, against the fake STS and IAM credentials endpoints. The node's own ADC
// is present and must not be used.
//
// This process reaches the fake's real host names through the MITM proxy: HTTPS_PROXY is read by
// gaxios per request, and the test CA is added to this process's default trust store.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import tls from "node:tls";
import { ProviderError } from "../../src/errors.ts";
import { createLogger } from "../../src/log.ts";
import {
  fetchToken,
  GKE_SERVICE_ACCOUNT_ANNOTATION,
  GOOGLE_USERNAME,
  WORKLOAD_PROVIDER_ANNOTATION,
} from "../../src/providers/google/google.ts";
import { resolveRoute, type Workload } from "../../src/resolver.ts";
import { loadSettings } from "../../src/settings.ts";
import { baseEnv } from "../support/cli.ts";
import { type FakeGoogle, startFakeGoogle } from "../support/fake-google.ts";
import { tmpTree } from "../support/tmp.ts";

const HOST = "us-docker.pkg.dev";
const POOL = "//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/k8s/providers/cluster-a";
const OTHER_POOL =
  "//iam.googleapis.com/projects/987654321/locations/global/workloadIdentityPools/k8s/providers/tenant-b";
const PULLER = "image-puller@fake-project.iam.gserviceaccount.com";
const POD_TOKEN = "eyJhbGciOiJSUzI1NiJ9.pod-token-payload.signature";

let fake: FakeGoogle;
const saved = { HTTPS_PROXY: process.env.HTTPS_PROXY, NO_PROXY: process.env.NO_PROXY };
before(async () => {
  fake = await startFakeGoogle();
  tls.setDefaultCACertificates([...tls.getCACertificates("default"), fake.ca.certPem]);
  process.env.HTTPS_PROXY = fake.proxy.url;
  process.env.NO_PROXY = "127.0.0.1,localhost";
  fake.trustSts({ audience: POOL, subjectToken: POD_TOKEN, subject: "system:serviceaccount:shop:web" });
  fake.trustSts({ audience: OTHER_POOL, subjectToken: POD_TOKEN, subject: "tenant-b:web" });
  fake.allowImpersonation(`federated:${POOL}#system:serviceaccount:shop:web`, PULLER);
});
after(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await fake?.close();
});

/** Settings as the CLI would build them, with the node's ADC (a service-account key) present. */
const settingsWith = async (t: Parameters<typeof tmpTree>[0], google: Record<string, string>) => {
  const node = fake.serviceAccountKey("node@fake-project.iam.gserviceaccount.com");
  const h = await tmpTree(t, { "node-sa.json": JSON.stringify(node) });
  await writeFile(join(h, "config.json"), JSON.stringify({ registries: [{ match: "*-docker.pkg.dev", google }] }));
  return loadSettings(
    {
      ...baseEnv(h),
      GOOGLE_APPLICATION_CREDENTIALS: join(h, "node-sa.json"),
      DOCKER_CREDENTIAL_CLOUD_CONFIG: join(h, "config.json"),
    },
    h,
  );
};

const run = async (settings: Awaited<ReturnType<typeof loadSettings>>, workload: Workload) => {
  const route = resolveRoute(HOST, settings, workload);
  assert.ok(route && route.provider === "google");
  assert.deepEqual(route.workload, workload);
  const logs: string[] = [];
  const token = await fetchToken(route, {
    ...settings,
    log: createLogger("debug", (l) => logs.push(l)),
    now: Date.now,
  });
  return { route, token, logs };
};

describe("google provider with a kubelet service-account token", () => {
  test("STS exchange at the configured pool provider, then the GKE-annotated service account", async (t) => {
    fake.reset();
    const settings = await settingsWith(t, { workloadIdentityProvider: POOL });
    const { route, token, logs } = await run(settings, {
      token: POD_TOKEN,
      annotations: { [GKE_SERVICE_ACCOUNT_ANNOTATION]: PULLER },
    });
    assert.equal(token.username, GOOGLE_USERNAME);
    assert.equal(fake.principalOf(token.secret), `serviceAccount:${PULLER}`);
    assert.ok(token.expiresAt > Date.now() + 3000_000);
    assert.deepEqual(fake.proxy.connects, ["sts.googleapis.com:443", "iamcredentials.googleapis.com:443"]);
    const form = new URLSearchParams(fake.seen.find((s) => s.host === "sts.googleapis.com")?.body);
    assert.equal(form.get("audience"), POOL);
    assert.equal(form.get("subject_token"), POD_TOKEN);
    assert.equal(form.get("subject_token_type"), "urn:ietf:params:oauth:token-type:jwt");
    assert.equal(fake.count("oauth2.googleapis.com"), 0, "the node's own credentials are not used");
    assert.match(route.identity.label, /^kubelet service-account token #/);
    assert.ok(
      logs.some((l) => l.includes(`STS pool k8s, provider cluster-a (project 123456789) → impersonate ${PULLER}`)),
      logs.join(""),
    );
    assert.ok(!logs.join("").includes(POD_TOKEN.split(".")[1] ?? "-"), "the pod token is never logged");
    assert.deepEqual(fake.rejections, []);
  });

  test("without a service-account annotation the federated token is used directly", async (t) => {
    fake.reset();
    const settings = await settingsWith(t, { workloadIdentityProvider: POOL });
    const { token } = await run(settings, { token: POD_TOKEN, annotations: {} });
    assert.equal(fake.principalOf(token.secret), `federated:${POOL}#system:serviceaccount:shop:web`);
    assert.deepEqual(fake.proxy.connects, ["sts.googleapis.com:443"]);
  });

  test("the pool provider annotation overrides the config (short projects/… form accepted)", async (t) => {
    fake.reset();
    const settings = await settingsWith(t, { workloadIdentityProvider: POOL });
    const { token } = await run(settings, {
      token: POD_TOKEN,
      annotations: { [WORKLOAD_PROVIDER_ANNOTATION]: OTHER_POOL.replace("//iam.googleapis.com/", "") },
    });
    assert.equal(fake.principalOf(token.secret), `federated:${OTHER_POOL}#tenant-b:web`);
  });

  test("no pool provider configured: a one-line error naming the config key, no traffic", async (t) => {
    fake.reset();
    const settings = await settingsWith(t, {});
    await assert.rejects(
      run(settings, { token: POD_TOKEN, annotations: {} }),
      (e: unknown) => e instanceof ProviderError && /set google\.workloadIdentityProvider/.test(e.message),
    );
    assert.equal(fake.seen.length, 0);
  });

  test("a token the pool does not trust: ProviderError from STS", async (t) => {
    fake.reset();
    const settings = await settingsWith(t, { workloadIdentityProvider: POOL });
    await assert.rejects(
      run(settings, { token: "eyJhbGciOiJSUzI1NiJ9.other-pod.sig", annotations: {} }),
      (e: unknown) =>
        e instanceof ProviderError &&
        /kubelet service-account token → STS .* HTTP 400 from sts\.googleapis\.com/.test(e.message) &&
        !e.message.includes("other-pod"),
    );
  });

  test("impersonation the pool principal may not do names roles/iam.workloadIdentityUser", async (t) => {
    fake.reset();
    const settings = await settingsWith(t, { workloadIdentityProvider: OTHER_POOL });
    await assert.rejects(
      run(settings, { token: POD_TOKEN, annotations: { [GKE_SERVICE_ACCOUNT_ANNOTATION]: PULLER } }),
      (e: unknown) =>
        e instanceof ProviderError &&
        /HTTP 403 from iamcredentials\.googleapis\.com/.test(e.message) &&
        /roles\/iam\.workloadIdentityUser/.test(e.message),
    );
  });
});
