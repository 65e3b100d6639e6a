// Kubelet service-account token mode for ACR: resolveRoute with a Workload (the pod's projected
// token + its service account's annotations) and the ACR provider, called directly, against the
// fake Entra. The pod's token must be the federated client assertion, for the client id and
// tenant the annotations name; missing annotations are a ProviderError and nothing is sent.
//
// The provider runs in a child Node (src/*.ts through type stripping), because NODE_EXTRA_CA_CERTS,
// which makes the test CA trusted, is only read at process start.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { baseEnv, ROOT } from "../support/cli.ts";
import { ACR_USER, type FakeAzure, jwtClaims, startFakeAzure, TENANT } from "../support/fake-azure.ts";
import { run } from "../support/namespace.ts";
import { tmpTree } from "../support/tmp.ts";

const NODE = process.execPath;
const REGISTRY = "myregistry.azurecr.io";
const POD_TOKEN = "eyJhbGciOiJSUzI1NiJ9.pod-sa-token-payload.sig";
const src = (p: string) => pathToFileURL(join(ROOT, "src", p)).href;

// Reads {host, workload} on stdin, prints {ok, token, label} or {error, message}.
const CHILD = `
import { loadSettings } from ${JSON.stringify(src("settings.ts"))};
import { resolveRoute } from ${JSON.stringify(src("resolver.ts"))};
import { fetchToken } from ${JSON.stringify(src("providers/azure/acr.ts"))};
import { silentLogger } from ${JSON.stringify(src("log.ts"))};
const { host, workload } = JSON.parse(await new Response(process.stdin).text());
const settings = await loadSettings(process.env, process.env.HOME);
const route = resolveRoute(host, settings, workload);
const seen = { label: route.identity.label, cacheKey: route.cacheKey };
try {
  const token = await fetchToken(route, { ...settings, log: silentLogger, now: Date.now });
  console.log(JSON.stringify({ ok: true, token, ...seen }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: e.name, message: e.message, ...seen }));
}
`;

describe("ACR in kubelet service-account token mode", () => {
  let fake: FakeAzure;

  before(async () => {
    fake = await startFakeAzure({
      tenants: [TENANT, "pod-tenant"],
      // The node's own identity (a service principal in the environment) must NOT be used.
      clients: { "node-sp": { secret: "node-secret" }, "pod-client": { federatedTokens: [POD_TOKEN] } },
      registries: { [REGISTRY]: {} },
    });
  });

  after(() => fake?.close());

  const callProvider = async (t: Parameters<typeof tmpTree>[0], annotations: Record<string, string>) => {
    const home = await tmpTree(t);
    const env = {
      ...baseEnv(home),
      ...fake.env(),
      AZURE_TENANT_ID: TENANT,
      AZURE_CLIENT_ID: "node-sp",
      AZURE_CLIENT_SECRET: "node-secret",
    };
    const mark = fake.calls.length;
    const r = await run(NODE, ["--input-type=module", "-e", CHILD], {
      env,
      input: JSON.stringify({ host: REGISTRY, workload: { token: POD_TOKEN, annotations } }),
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 0, r.stderr);
    return { out: JSON.parse(r.stdout) as Record<string, unknown>, calls: fake.calls.slice(mark) };
  };

  test("the pod's token is the client assertion for the annotated client id and tenant", async (t) => {
    const { out, calls } = await callProvider(t, {
      "kubernetes.azure.com/acr-client-id": "pod-client",
      "kubernetes.azure.com/acr-tenant-id": "pod-tenant",
      "unrelated.example/annotation": "x",
    });
    assert.equal(out.ok, true, JSON.stringify(out));
    assert.match(String(out.label), /^kubelet service-account token #[0-9a-f]{8}$/);
    const token = out.token as { username: string; secret: string; expiresAt: number };
    assert.equal(token.username, ACR_USER);
    const claims = jwtClaims(token.secret);
    assert.equal(claims?.src, "federated");
    assert.equal(claims?.tid, "pod-tenant");
    assert.equal(token.expiresAt, (claims?.exp as number) * 1000);
    const entra = calls.filter((c) => c.kind === "entra");
    assert.equal(entra.length, 1);
    assert.equal(entra[0]?.path, "/pod-tenant/oauth2/v2.0/token");
    assert.equal(entra[0]?.form.client_id, "pod-client");
    assert.equal(entra[0]?.form.client_assertion, POD_TOKEN);
    assert.equal(entra[0]?.form.client_assertion_type, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    assert.equal(entra[0]?.form.client_secret, undefined, "not the node's service principal");
    const ex = calls.filter((c) => c.path === "/oauth2/exchange");
    assert.equal(ex.length, 1);
    assert.equal(ex[0]?.form.tenant, "pod-tenant");
    assert.deepEqual(fake.unexpected, []);
  });

  test("annotations missing → ProviderError naming them; nothing is sent", async (t) => {
    const cases: Record<string, string>[] = [
      {},
      { "kubernetes.azure.com/acr-client-id": "pod-client" },
      { "kubernetes.azure.com/acr-tenant-id": "pod-tenant" },
    ];
    for (const annotations of cases) {
      const { out, calls } = await callProvider(t, annotations);
      assert.equal(out.ok, false);
      assert.equal(out.error, "ProviderError");
      assert.match(
        String(out.message),
        /^myregistry\.azurecr\.io: the pod's service account lacks the kubernetes\.azure\.com\/acr-/,
      );
      for (const key of ["kubernetes.azure.com/acr-client-id", "kubernetes.azure.com/acr-tenant-id"]) {
        assert.equal(String(out.message).includes(key), !(key in annotations), `${key} is named iff missing`);
      }
      assert.deepEqual(calls, []);
    }
  });

  test("a different pod token or annotation set is a different cache key", async (t) => {
    const a = await callProvider(t, {
      "kubernetes.azure.com/acr-client-id": "pod-client",
      "kubernetes.azure.com/acr-tenant-id": "pod-tenant",
    });
    const b = await callProvider(t, { "kubernetes.azure.com/acr-client-id": "pod-client" });
    assert.match(String(a.out.cacheKey), /^acr\|myregistry\.azurecr\.io\|/);
    assert.match(String(b.out.cacheKey), /^acr\|myregistry\.azurecr\.io\|/);
    assert.notEqual(a.out.cacheKey, b.out.cacheKey);
  });
});
