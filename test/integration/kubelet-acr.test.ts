// The BUILT binary in kubelet plugin mode for Azure Container Registry, against the fake Entra ID
// and registry (real @azure/identity, real host names through the MITM proxy): the node's identity
// (a service principal, a managed identity) and the pod's service-account token as a federated
// client assertion. ACR answers with the GUID username and the registry refresh token.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { baseEnv, type CliResult, runCli, TRACE_LOADS } from "../support/cli.ts";
import { ACR_USER, type FakeAzure, jwtClaims, startFakeAzure, TENANT } from "../support/fake-azure.ts";
import { type CheckOptions, checkRun } from "../support/kubelet-checker.ts";
import { tmpTree } from "../support/tmp.ts";

const REGISTRY = "myregistry.azurecr.io";
const IMAGE = `${REGISTRY}/team/app`;
const V1 = "credentialprovider.kubelet.k8s.io/v1";
const VERSIONS = [V1, "credentialprovider.kubelet.k8s.io/v1beta1", "credentialprovider.kubelet.k8s.io/v1alpha1"];
const POD_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6c2hvcDp3ZWIifQ.c2ln";
const CLIENT_ANNOTATION = "kubernetes.azure.com/acr-client-id";
const TENANT_ANNOTATION = "kubernetes.azure.com/acr-tenant-id";
const AZURE_SDK = /node_modules\/@azure\//;

let fake: FakeAzure;
before(async () => {
  fake = await startFakeAzure({
    tenants: [TENANT, "pod-tenant"],
    clients: { "node-sp": { secret: "node-secret" }, "pod-client": { federatedTokens: [POD_TOKEN] } },
    registries: { [REGISTRY]: {}, "denied.azurecr.io": { deny: 403 } },
    imds: { systemAssigned: true },
  });
});
after(() => fake?.close());

const request = (image: string, apiVersion = V1, extra: Record<string, unknown> = {}) =>
  `${JSON.stringify({ kind: "CredentialProviderRequest", apiVersion, image, ...extra })}\n`;
const saRequest = (annotations: Record<string, string>, image = IMAGE) =>
  request(image, V1, { serviceAccountToken: POD_TOKEN, serviceAccountAnnotations: annotations });
const POD_ANNOTATIONS = { [CLIENT_ANNOTATION]: "pod-client", [TENANT_ANNOTATION]: "pod-tenant" };

/** The node's identity: a service principal in the kubelet's environment. */
const spEnv = async (t: Parameters<typeof tmpTree>[0]): Promise<Record<string, string>> => ({
  ...baseEnv(await tmpTree(t)),
  ...fake.env(),
  AZURE_TENANT_ID: TENANT,
  AZURE_CLIENT_ID: "node-sp",
  AZURE_CLIENT_SECRET: "node-secret",
});

const kubelet = (input: string, env: Record<string, string>) => runCli(["kubelet"], input, env);

const checked = (r: CliResult, opts: Partial<CheckOptions> = {}) => {
  const image = opts.image ?? IMAGE;
  const c = checkRun(r, { apiVersion: V1, image, ...opts });
  const host = image.split("/")[0] as string;
  const entry = c.response.auth[host];
  assert.ok(entry, JSON.stringify(c.response));
  assert.equal(entry.username, ACR_USER, "the GUID username");
  assert.ok(!r.stderr.includes(entry.password));
  const claims = jwtClaims(entry.password);
  assert.ok(claims, "the password is the registry's refresh token");
  return { ...c, claims };
};

const failed = (r: CliResult, message: RegExp) => {
  assert.notEqual(r.code, 0);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^docker-credential-cloud: [^\n]+\n$/, JSON.stringify(r.stderr));
  assert.match(r.stderr, message);
};

describe("kubelet plugin mode: ACR with the node's identity", () => {
  for (const apiVersion of VERSIONS) {
    test(`${apiVersion}: service principal → refresh token, strictly valid`, async (t) => {
      const mark = fake.calls.length;
      const c = checked(await kubelet(request(IMAGE, apiVersion), await spEnv(t)), { apiVersion });
      assert.equal(c.claims.src, "secret");
      assert.equal(c.claims.aud, REGISTRY);
      assert.equal(c.response.cacheKeyType, "Registry");
      // Half the refresh token's remaining life (3 h in the fake).
      const secs = (c.response.cacheDurationNs as number) / 1e9;
      const life = (c.claims.exp as number) - Date.now() / 1000;
      assert.ok(secs <= life / 2 + 2 && secs >= life / 2 - 10, `${c.response.cacheDuration} for ${life}s`);
      const exchange = fake.calls.slice(mark).filter((x) => x.path === "/oauth2/exchange");
      assert.equal(exchange.length, 1);
      assert.deepEqual(fake.unexpected, []);
    });
  }

  test("managed identity (IMDS)", async (t) => {
    const env = { ...baseEnv(await tmpTree(t)), ...fake.env() };
    const c = checked(await kubelet(request(IMAGE), env));
    assert.equal(c.claims.src, "imds");
  });

  test("a second run is served from the shared cache and loads no Azure SDK", async (t) => {
    const env = await spEnv(t);
    const first = checked(await kubelet(request(IMAGE), env));
    const mark = fake.calls.length;
    const trace = join(env.HOME as string, "loads.txt");
    const second = checked(
      await kubelet(request(IMAGE), { ...env, NODE_OPTIONS: `--import ${TRACE_LOADS}`, DCC_TRACE_LOADS: trace }),
    );
    assert.deepEqual(second.response.auth, first.response.auth);
    assert.equal(fake.calls.length, mark, "no call to Entra or the registry");
    assert.doesNotMatch(await readFile(trace, "utf8"), AZURE_SDK);
  });

  test("the registry refuses: exit 1, one line, nothing on stdout", async (t) => {
    failed(await kubelet(request("denied.azurecr.io/app"), await spEnv(t)), /denied\.azurecr\.io/);
  });

  test("a look-alike host is not answered", async (t) => {
    const image = `${REGISTRY}.evil.example/app`;
    const mark = fake.calls.length;
    const c = checkRun(await kubelet(request(image), await spEnv(t)), { apiVersion: V1, image });
    assert.deepEqual(c.response.auth, {});
    assert.equal(c.response.cacheDuration, "0s");
    assert.equal(fake.calls.length, mark);
  });
});

describe("kubelet plugin mode: ACR with service-account tokens", () => {
  test("the pod's token is the federated client assertion for the annotated client and tenant", async (t) => {
    const mark = fake.calls.length;
    const r = await kubelet(saRequest(POD_ANNOTATIONS), await spEnv(t));
    const c = checked(r, { serviceAccountToken: POD_TOKEN, cacheType: "ServiceAccount" });
    assert.equal(c.claims.src, "federated");
    assert.equal(c.claims.tid, "pod-tenant");
    const entra = fake.calls.slice(mark).filter((x) => x.kind === "entra" && x.path.endsWith("/oauth2/v2.0/token"));
    assert.equal(entra.length, 1);
    assert.equal(entra[0]?.form.client_id, "pod-client");
    assert.equal(entra[0]?.form.client_assertion, POD_TOKEN);
    assert.equal(entra[0]?.form.client_secret, undefined, "not the node's service principal");
    assert.ok(!r.stderr.includes(POD_TOKEN) && !r.stdout.includes(POD_TOKEN));
    assert.notEqual(c.response.auth[REGISTRY]?.password, POD_TOKEN);
  });

  for (const missing of [CLIENT_ANNOTATION, TENANT_ANNOTATION]) {
    test(`annotation ${missing} missing: exit 1 naming it; nothing sent`, async (t) => {
      const ann: Record<string, string> = { ...POD_ANNOTATIONS };
      delete ann[missing];
      const mark = fake.calls.length;
      failed(await kubelet(saRequest(ann), await spEnv(t)), new RegExp(missing.replace(/[./]/g, "\\$&")));
      assert.equal(fake.calls.length, mark);
    });
  }

  test("a token Entra does not trust for that client: exit 1, one line, the token not printed", async (t) => {
    const r = await kubelet(saRequest({ [CLIENT_ANNOTATION]: "node-sp", [TENANT_ANNOTATION]: TENANT }), await spEnv(t));
    failed(r, /node-sp|assertion|federated|Entra|AADSTS|invalid/i);
    assert.ok(!r.stderr.includes(POD_TOKEN));
  });

  test("cached per token and annotations; the node identity keeps its own token", async (t) => {
    const env = await spEnv(t);
    const a = checked(await kubelet(saRequest(POD_ANNOTATIONS), env), { serviceAccountToken: POD_TOKEN });
    const mark = fake.calls.length;
    const b = checked(await kubelet(saRequest(POD_ANNOTATIONS), env), { serviceAccountToken: POD_TOKEN });
    assert.equal(b.response.auth[REGISTRY]?.password, a.response.auth[REGISTRY]?.password);
    assert.equal(fake.calls.length, mark, "the same pod's next pull is a cache hit");
    const node = checked(await kubelet(request(IMAGE), env));
    assert.equal(node.claims.src, "secret");
  });
});
