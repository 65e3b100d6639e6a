// A mirror host served with an Azure Container Registry's token (cloud-provider-azure #6845, its
// acr-credential-provider --registry-mirror), only by explicit configuration:
//   registries: [{ match: mcr.microsoft.com, provider: acr, azure: { loginServer: myacr.azurecr.io } }]
// The BUILT program in Docker-helper and kubelet modes against the fake Entra ID and registry (real
// host names through the MITM proxy): the exchange happens at the ACR (the mirror host is never
// contacted), the kubelet's answer is keyed by the mirror host and strictly valid, and look-alike
// hosts of the mirror still get nothing.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { baseEnv, runCli } from "../support/cli.ts";
import { ACR_USER, type FakeAzure, jwtClaims, startFakeAzure, TENANT } from "../support/fake-azure.ts";
import { checkRun } from "../support/kubelet-checker.ts";
import { tmpTree } from "../support/tmp.ts";

const MIRROR = "mcr.microsoft.com";
const ACR = "myacr.azurecr.io";
const V1 = "credentialprovider.kubelet.k8s.io/v1";
const CONFIG = JSON.stringify({ registries: [{ match: MIRROR, provider: "acr", azure: { loginServer: ACR } }] });
const LOOK_ALIKES = [`${MIRROR}.evil.example`, `evil${MIRROR}`, `x.${MIRROR}`, `${MIRROR}:5000`];

let fake: FakeAzure;
before(async () => {
  fake = await startFakeAzure({
    tenants: [TENANT],
    clients: { "node-sp": { secret: "node-secret" } },
    registries: { [ACR]: {} },
  });
});
after(() => fake?.close());

/** `config` null: no configuration file at all. */
const env = async (t: Parameters<typeof tmpTree>[0], config: string | null = CONFIG) => {
  const h = await tmpTree(t, config === null ? {} : { "config.json": config });
  return {
    ...baseEnv(h),
    ...fake.env(),
    AZURE_TENANT_ID: TENANT,
    AZURE_CLIENT_ID: "node-sp",
    AZURE_CLIENT_SECRET: "node-secret",
    ...(config === null ? {} : { DOCKER_CREDENTIAL_CLOUD_CONFIG: join(h, "config.json") }),
  };
};

const request = (image: string) => `${JSON.stringify({ kind: "CredentialProviderRequest", apiVersion: V1, image })}\n`;

/** The calls since `mark`: the hosts contacted, and the exchanges with their `service`. */
const since = (mark: number) => {
  const calls = fake.calls.slice(mark);
  return {
    hosts: [...new Set(calls.map((c) => c.host))],
    exchanges: calls.filter((c) => c.path === "/oauth2/exchange").map((c) => c.host),
  };
};

describe("ACR mirrors: a configured host gets the ACR's token", () => {
  test("Docker helper: get for the mirror answers with the ACR's refresh token, exchanged at the ACR", async (t) => {
    const mark = fake.calls.length;
    const r = await runCli(["get"], `${MIRROR}\n`, await env(t));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.ServerURL, MIRROR);
    assert.equal(out.Username, ACR_USER);
    assert.equal(jwtClaims(out.Secret)?.aud, ACR, "the ACR's own refresh token");
    const s = since(mark);
    assert.deepEqual(s.exchanges, [ACR]);
    assert.ok(!s.hosts.includes(MIRROR), `the mirror host is never contacted: ${s.hosts}`);
    assert.deepEqual(fake.unexpected, []);
  });

  test("kubelet: the answer is keyed by the mirror host, strictly valid", async (t) => {
    const mark = fake.calls.length;
    const image = `${MIRROR}/dotnet/runtime`;
    const c = checkRun(await runCli(["kubelet"], request(image), await env(t)), { apiVersion: V1, image });
    assert.deepEqual(Object.keys(c.response.auth), [MIRROR]);
    assert.equal(c.response.auth[MIRROR]?.username, ACR_USER);
    assert.equal(jwtClaims(c.response.auth[MIRROR]?.password ?? "")?.aud, ACR);
    assert.deepEqual(c.lookup.length, 1, "the kubelet's keyring finds it for the image");
    assert.deepEqual(since(mark).exchanges, [ACR]);
  });

  test("without the configuration the mirror host gets nothing, in both modes", async (t) => {
    const mark = fake.calls.length;
    const e = await env(t, null);
    const docker = await runCli(["get"], `${MIRROR}\n`, e);
    assert.equal(docker.code, 1, docker.stdout + docker.stderr);
    assert.match(docker.stdout, /credentials not found/);
    const image = `${MIRROR}/dotnet/runtime`;
    const c = checkRun(await runCli(["kubelet"], request(image), e), { apiVersion: V1, image });
    assert.equal(c.response.auth[MIRROR], undefined);
    assert.equal(c.response.cacheDurationNs, 0);
    assert.deepEqual(since(mark).hosts, []);
  });

  for (const host of LOOK_ALIKES) {
    test(`a look-alike of the mirror, ${host}, gets nothing in either mode`, async (t) => {
      const mark = fake.calls.length;
      const e = await env(t);
      const docker = await runCli(["get"], `${host}\n`, e);
      assert.equal(docker.code, 1);
      assert.match(docker.stdout, /credentials not found/);
      const image = `${host}/dotnet/runtime`;
      const c = checkRun(await runCli(["kubelet"], request(image), e), { apiVersion: V1, image });
      assert.equal(c.response.auth[host], undefined);
      assert.deepEqual(since(mark).hosts, [], "no Entra or registry call");
    });
  }

  for (const [why, rule, message] of [
    [
      "a wildcard match",
      { match: "*.microsoft.com", provider: "acr", azure: { loginServer: ACR } },
      /only for a literal match/,
    ],
    [
      "a login server that is not an ACR",
      { match: MIRROR, provider: "acr", azure: { loginServer: `${ACR}.evil.example` } },
      /is not an Azure container registry login server/,
    ],
    ["another provider", { match: MIRROR, provider: "google", azure: { loginServer: ACR } }, /needs provider acr/],
  ] as const) {
    test(`azure.loginServer with ${why} is a configuration error naming the key`, async (t) => {
      const mark = fake.calls.length;
      const r = await runCli(["get"], `${MIRROR}\n`, await env(t, JSON.stringify({ registries: [rule] })));
      assert.equal(r.code, 1);
      assert.match(r.stdout, /registries\[0\]\.azure\.loginServer/);
      assert.match(r.stdout, message);
      assert.deepEqual(since(mark).hosts, []);
    });
  }
});
