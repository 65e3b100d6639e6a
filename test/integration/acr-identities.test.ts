// Every Azure identity source, through the BUILT CLI (`get`), against the fake Azure: Entra ID and
// the registry keep their real host names behind the MITM proxy, managed identity is plain http on
// 127.0.0.1. Each test checks what the fake received (route, headers, form fields, secrets) and
// that the answer is the GUID user with the refresh token the exchange minted for that identity.
// Run `npm run build` first.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli } from "../support/cli.ts";
import {
  ACR_AUDIENCE,
  ACR_USER,
  ARM_AUDIENCE,
  type Call,
  type FakeAzure,
  fakeAzRuns,
  fakeAzureHome,
  jwtClaims,
  startFakeAzure,
  TENANT,
} from "../support/fake-azure.ts";
import { run } from "../support/namespace.ts";
import { tmpTree } from "../support/tmp.ts";

const REGISTRY = "myregistry.azurecr.io";
const SP = { AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: "sp-app", AZURE_CLIENT_SECRET: "sp-secret-value" };

describe("ACR: each identity source against its fake", () => {
  let fake: FakeAzure;
  let work: string;
  let certPath: string;
  let azToken: string;

  before(async () => {
    work = await tmpTree(undefined);
    // A client certificate for ClientCertificateCredential: key and certificate in one PEM.
    certPath = join(work, "client.pem");
    const keyFile = join(work, "client.key");
    const crtFile = join(work, "client.crt");
    const r = await run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      crtFile,
      "-days",
      "2",
      "-subj",
      "/CN=dcc-test-client",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const certPem = await readFile(crtFile, "utf8");
    await writeFile(certPath, `${await readFile(keyFile, "utf8")}${certPem}`);
    fake = await startFakeAzure({
      clients: {
        "sp-app": { secret: "sp-secret-value" },
        "cert-app": { certPem },
        "wi-app": { federatedTokens: ["projected-sa-token-for-wi-app"] },
      },
      registries: { [REGISTRY]: {}, "myregistry.azurecr.cn": {}, "myregistry.azurecr.us": {} },
      extraAuthorities: ["login.contoso.test"],
      imds: { systemAssigned: true, clientIds: ["mi-user-client"] },
      appService: { header: "app-service-secret-header" },
    });
    azToken = fake.mintAccessToken({ aud: ACR_AUDIENCE, src: "cli" });
  });

  after(async () => {
    await fake?.close();
    const { rm } = await import("node:fs/promises");
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** A fresh HOME (so a fresh cache) with a fake `az` first on PATH; returns env and the az log. */
  const setup = (
    t: Parameters<typeof tmpTree>[0],
    extra: Record<string, string>,
    opts: { az?: "ok" | "login"; config?: unknown } = {},
  ) => fakeAzureHome(fake, t, extra, { ...opts, token: azToken });

  /** Runs `get host` and returns the docker answer, the refresh token's claims and the new calls. */
  const get = async (env: Record<string, string>, host = REGISTRY) => {
    const mark = fake.calls.length;
    const r = await runCli(["get"], host, env);
    assert.equal(r.code, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    const answer = JSON.parse(r.stdout) as { ServerURL: string; Username: string; Secret: string };
    assert.equal(answer.ServerURL, host);
    assert.equal(answer.Username, ACR_USER);
    const claims = jwtClaims(answer.Secret);
    assert.ok(claims, "the secret is the registry's refresh token");
    return { answer, claims, calls: fake.calls.slice(mark), stderr: r.stderr };
  };

  const only = (calls: Call[], pred: (c: Call) => boolean): Call => {
    const found = calls.filter(pred);
    assert.equal(found.length, 1, `calls: ${calls.map((c) => `${c.method} ${c.host}${c.path}`).join(", ")}`);
    return found[0] as Call;
  };

  /** The exchange call: form fields as ACR expects them, for an access token from `src`. */
  const assertExchange = (calls: Call[], src: string, host = REGISTRY, aud = ACR_AUDIENCE) => {
    const ex = only(calls, (c) => c.kind === "registry" && c.path === "/oauth2/exchange");
    assert.equal(ex.host, host);
    assert.equal(ex.method, "POST");
    assert.match(ex.headers["content-type"] ?? "", /^application\/x-www-form-urlencoded/);
    assert.deepEqual(Object.keys(ex.form).sort(), ["access_token", "grant_type", "service", "tenant"]);
    assert.equal(ex.form.grant_type, "access_token");
    assert.equal(ex.form.service, host);
    assert.equal(ex.form.tenant, TENANT);
    const aad = fake.tokens.get(ex.form.access_token ?? "");
    assert.equal(aad?.src, src, "the access token came from the expected identity");
    assert.equal(aad?.aud, aud);
    assert.equal(ex.status, 200);
    assert.deepEqual(fake.unexpected, []);
  };

  test("the fake IMDS and App Service endpoints refuse requests without their header, and odd routes", async () => {
    const url = `${fake.metadataUrl}/metadata/identity/oauth2/token/?api-version=2018-02-01&resource=${encodeURIComponent(ACR_AUDIENCE)}`;
    const mark = fake.unexpected.length;
    assert.equal((await fetch(url)).status, 400, "no Metadata: true");
    assert.equal((await fetch(url, { headers: { Metadata: "true" } })).status, 200);
    assert.equal((await fetch(url.replace("token/?", "token?"), { headers: { Metadata: "true" } })).status, 400);
    const app = `${fake.appServiceEndpoint}?api-version=2019-08-01&resource=${encodeURIComponent(ACR_AUDIENCE)}`;
    assert.equal((await fetch(app)).status, 401, "no X-IDENTITY-HEADER");
    assert.equal((await fetch(app, { headers: { "X-IDENTITY-HEADER": "app-service-secret-header" } })).status, 200);
    assert.equal(fake.unexpected.length, mark + 1, "the route without MSAL's trailing slash is not IMDS's");
    fake.unexpected.splice(mark);
  });

  test("environment service principal with a client secret", async (t) => {
    const { env, home } = await setup(t, SP);
    const { answer, claims, calls } = await get(env);
    const tok = only(calls, (c) => c.kind === "entra");
    assert.equal(tok.host, "login.microsoftonline.com");
    assert.equal(tok.path, `/${TENANT}/oauth2/v2.0/token`);
    assert.equal(tok.form.client_id, "sp-app");
    assert.equal(tok.form.client_secret, "sp-secret-value");
    assert.equal(tok.form.scope, `${ACR_AUDIENCE}/.default`);
    assertExchange(calls, "secret");
    assert.equal(claims.src, "secret");
    // Cached until half the refresh token's exp: the cache entry carries exactly that expiry.
    const cache = JSON.parse(await readFile(join(home, ".cache", "docker-credential-cloud", "tokens.json"), "utf8"));
    const entries = Object.values(cache.entries) as { secret?: string; expiresAt: number }[];
    const entry = entries.find((e) => e.secret === answer.Secret);
    assert.equal(entry?.expiresAt, (claims.exp as number) * 1000);
  });

  test("environment service principal with a client certificate (signed assertion checked)", async (t) => {
    const { env } = await setup(t, {
      AZURE_TENANT_ID: TENANT,
      AZURE_CLIENT_ID: "cert-app",
      AZURE_CLIENT_CERTIFICATE_PATH: certPath,
    });
    const { claims, calls } = await get(env);
    const tok = only(calls, (c) => c.kind === "entra");
    assert.equal(tok.form.client_assertion_type, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    assert.equal(tok.form.client_secret, undefined);
    assertExchange(calls, "certificate");
    assert.equal(claims.src, "certificate");
  });

  test("workload identity: AZURE_FEDERATED_TOKEN_FILE is sent as the client assertion", async (t) => {
    const home = await tmpTree(t, { "token/sa-token": "projected-sa-token-for-wi-app\n" });
    const { env } = await setup(t, {
      AZURE_TENANT_ID: TENANT,
      AZURE_CLIENT_ID: "wi-app",
      AZURE_FEDERATED_TOKEN_FILE: join(home, "token", "sa-token"),
      AZURE_AUTHORITY_HOST: "https://login.microsoftonline.com/",
    });
    const { claims, calls } = await get(env);
    const tok = only(calls, (c) => c.kind === "entra");
    assert.equal(tok.path, `/${TENANT}/oauth2/v2.0/token`);
    assert.equal(tok.form.client_id, "wi-app");
    assert.equal(tok.form.client_assertion, "projected-sa-token-for-wi-app");
    assertExchange(calls, "federated");
    assert.equal(claims.src, "federated");
  });

  test("managed identity via IMDS (system-assigned): exact route, Metadata: true, ACR resource", async (t) => {
    const { env } = await setup(t, {});
    const { claims, calls } = await get(env);
    const imds = only(calls, (c) => c.kind === "metadata");
    assert.equal(imds.method, "GET");
    assert.equal(imds.path, "/metadata/identity/oauth2/token/");
    assert.equal(imds.headers.metadata, "true");
    assert.deepEqual(imds.query, { "api-version": "2018-02-01", resource: ACR_AUDIENCE });
    assert.equal(calls.filter((c) => c.kind === "entra").length, 0);
    assertExchange(calls, "imds");
    assert.equal(claims.src, "imds");
  });

  test("managed identity via IMDS with a user-assigned client id (AZURE_CLIENT_ID)", async (t) => {
    const { env } = await setup(t, { AZURE_CLIENT_ID: "mi-user-client" });
    const { calls } = await get(env);
    const imds = only(calls, (c) => c.kind === "metadata");
    assert.equal(imds.query.client_id, "mi-user-client");
    assert.equal(imds.headers.metadata, "true");
    assertExchange(calls, "imds-user");
  });

  test("managed identity client id from the config file overrides the environment", async (t) => {
    const { env } = await setup(
      t,
      { AZURE_CLIENT_ID: "some-other-client" },
      { config: { registries: [{ match: REGISTRY, azure: { credential: "managed", clientId: "mi-user-client" } }] } },
    );
    const { calls } = await get(env);
    assert.equal(only(calls, (c) => c.kind === "metadata").query.client_id, "mi-user-client");
    assertExchange(calls, "imds-user");
  });

  test("managed identity via App Service: X-IDENTITY-HEADER and the 2019-08-01 API", async (t) => {
    const { env } = await setup(t, {
      IDENTITY_ENDPOINT: fake.appServiceEndpoint,
      IDENTITY_HEADER: "app-service-secret-header",
    });
    const { claims, calls } = await get(env);
    const msi = only(calls, (c) => c.kind === "metadata");
    assert.equal(msi.path, "/msi/token");
    assert.equal(msi.headers["x-identity-header"], "app-service-secret-header");
    assert.deepEqual(msi.query, { "api-version": "2019-08-01", resource: ACR_AUDIENCE });
    assertExchange(calls, "appservice");
    assert.equal(claims.src, "appservice");
  });

  test("Azure CLI: exact argv; falls through from an unavailable managed identity", async (t) => {
    const { env, azLog } = await setup(
      t,
      { AZURE_POD_IDENTITY_AUTHORITY_HOST: "http://127.0.0.1:9" }, // nothing listens: no managed identity
      { az: "ok" },
    );
    const { claims, calls } = await get(env);
    assert.deepEqual(await fakeAzRuns(azLog), [
      ["account", "get-access-token", "--output", "json", "--resource", "https://containerregistry.azure.net"],
    ]);
    assertExchange(calls, "cli");
    assert.equal(claims.src, "cli");
  });

  test("Azure CLI chosen in the config file, with its tenant passed as --tenant", async (t) => {
    const { env, azLog } = await setup(t, SP, {
      az: "ok",
      config: { registries: [{ match: "*.azurecr.io", azure: { credential: "cli", tenantId: TENANT } }] },
    });
    const { calls } = await get(env);
    assert.deepEqual(await fakeAzRuns(azLog), [
      [
        "account",
        "get-access-token",
        "--output",
        "json",
        "--resource",
        "https://containerregistry.azure.net",
        "--tenant",
        TENANT,
      ],
    ]);
    assert.equal(calls.filter((c) => c.kind === "entra" || c.kind === "metadata").length, 0, "only the CLI was used");
    assertExchange(calls, "cli");
  });

  test("AZURE_TOKEN_CREDENTIALS=dev restricts the chain to the CLI", async (t) => {
    const { env, azLog } = await setup(t, { ...SP, AZURE_TOKEN_CREDENTIALS: "dev" }, { az: "ok" });
    const { calls } = await get(env);
    assert.equal((await fakeAzRuns(azLog)).length, 1);
    assertExchange(calls, "cli");
  });

  test("ARM scope from the config file: the Entra token is for ARM and the registry accepts it", async (t) => {
    const { env } = await setup(t, SP, {
      config: { registries: [{ match: REGISTRY, azure: { scope: "https://management.azure.com/.default" } }] },
    });
    const { calls } = await get(env);
    assert.equal(only(calls, (c) => c.kind === "entra").form.scope, "https://management.azure.com/.default");
    assertExchange(calls, "secret", REGISTRY, ARM_AUDIENCE);
  });

  test("sovereign clouds: azurecr.cn → China authority, azurecr.us → login.microsoftonline.us", async (t) => {
    for (const [host, authority] of [
      // MSAL's built-in metadata aliases login.chinacloudapi.cn to this token host.
      ["myregistry.azurecr.cn", "login.partner.microsoftonline.cn"],
      ["myregistry.azurecr.us", "login.microsoftonline.us"],
    ] as const) {
      const { env } = await setup(t, { ...SP, AZURE_AUTHORITY_HOST: "https://login.microsoftonline.com" });
      const { calls } = await get(env, host);
      const tok = only(calls, (c) => c.kind === "entra");
      assert.equal(tok.host, authority);
      assert.equal(tok.path, `/${TENANT}/oauth2/v2.0/token`);
      assert.equal(calls.filter((c) => c.path.includes("discovery")).length, 0, "known authority: no discovery");
      assertExchange(calls, "secret", host);
    }
  });

  test("custom authority from the config file: instance discovery off, OIDC metadata from that host", async (t) => {
    const { env } = await setup(t, SP, {
      config: { registries: [{ match: REGISTRY, azure: { authorityHost: "https://login.contoso.test" } }] },
    });
    const { calls } = await get(env);
    const entra = calls.filter((c) => c.kind === "entra");
    assert.deepEqual(
      entra.map((c) => `${c.method} ${c.host}${c.path}`),
      [
        `GET login.contoso.test/${TENANT}/v2.0/.well-known/openid-configuration`,
        `POST login.contoso.test/${TENANT}/oauth2/v2.0/token`,
      ],
      "no /common/discovery/instance call (it would need the internet)",
    );
    assertExchange(calls, "secret");
  });
});
