// Azure: a network, DNS, TLS or timeout failure on the way to Entra ID is reported as such, before
// any blame on the secret; the debug log names each identity source and each HTTP exchange
// (method, host, status, time) without a body or token.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { runCli } from "../support/cli.ts";
import { type FakeAzure, fakeAzureHome, startFakeAzure, TENANT } from "../support/fake-azure.ts";

const SP = { AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: "sp-app", AZURE_CLIENT_SECRET: "sp-secret-value" };

describe("ACR: honest network errors", () => {
  let fake: FakeAzure;
  before(async () => {
    fake = await startFakeAzure({
      clients: { "sp-app": { secret: "sp-secret-value" } },
      registries: { "myregistry.azurecr.io": {}, "stalled.azurecr.io": { stall: true } },
    });
  });
  after(() => fake?.close());

  test("proxy refuses the connection: 'could not reach Entra ID', not 'check the secret'", async (t) => {
    const { env } = await fakeAzureHome(fake, t, { ...SP, HTTPS_PROXY: "http://127.0.0.1:9" });
    const r = await runCli(["get"], "myregistry.azurecr.io\n", env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /could not reach Entra ID for myregistry\.azurecr\.io \(ECONNREFUSED\)/);
    assert.doesNotMatch(r.stderr, /check AZURE_CLIENT_SECRET/);
  });

  test("an untrusted certificate: named as TLS, with the CA variables to set", async (t) => {
    const { env } = await fakeAzureHome(fake, t, { ...SP, NODE_EXTRA_CA_CERTS: "" });
    const r = await runCli(["get"], "myregistry.azurecr.io\n", env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /could not reach Entra ID/);
    assert.match(r.stderr, /NODE_EXTRA_CA_CERTS or SSL_CERT_FILE/);
    assert.doesNotMatch(r.stderr, /check AZURE_CLIENT_SECRET/);
  });

  // The exchange's own request timeout, on the program under test (the executable by default, whose
  // HTTP stack is Bun's): Entra answers, the registry accepts and never answers; the get ends at the
  // 1 s request timeout with the exchange named, not at the overall deadline.
  test("a registry that never answers the exchange: its request timeout ends the get, in one line", async (t) => {
    const { env } = await fakeAzureHome(fake, t, { ...SP, DOCKER_CREDENTIAL_CLOUD_TIMEOUT: "1" });
    const r = await runCli(["get"], "stalled.azurecr.io\n", env, { timeoutMs: 30_000 });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /could not reach https:\/\/stalled\.azurecr\.io\/oauth2\/exchange/);
    assert.doesNotMatch(r.stdout + r.stderr, /did not finish within/);
    assert.equal(r.stdout.trim().split("\n").length, 1);
  });

  test("debug log: each identity source and each HTTP exchange, no body or token", async (t) => {
    const { env } = await fakeAzureHome(fake, t, { ...SP, DOCKER_CREDENTIAL_CLOUD_LOG: "debug" });
    const r = await runCli(["get"], "myregistry.azurecr.io\n", env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /identity sources: default chain: .*\[selected\].*\[unavailable/);
    assert.match(r.stderr, /http: POST login\.microsoftonline\.com → 200 \(\d+ ms\)/);
    assert.match(r.stderr, /http: POST myregistry\.azurecr\.io → 200 \(\d+ ms\)/);
    const secret = (JSON.parse(r.stdout) as { Secret: string }).Secret;
    assert.ok(!r.stderr.includes(secret));
    assert.ok(!r.stderr.includes("sp-secret-value"));
  });
});
