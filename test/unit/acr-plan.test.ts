// The pure parts of the Azure provider: which identity sources a configuration implies and in
// which order, the label and cache key, the Entra authority per registry cloud, the scope, and
// the refresh token's expiry, and how SDK errors are shortened.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { AzureIdentity } from "../../src/config.ts";
import { EMPTY_CONFIG } from "../../src/config.ts";
import { ConfigError } from "../../src/errors.ts";
import { azureIdentity, managedIdentityHost, planAzure } from "../../src/identity/azure.ts";
import {
  ACR_SCOPE,
  authorityFor,
  brief,
  jwtPayload,
  refreshTokenExpiry,
  scopeFor,
} from "../../src/providers/azure/acr.ts";
import { type AcrRoute, resolveRoute } from "../../src/resolver.ts";
import type { Env, Settings } from "../../src/settings.ts";

const SP = { AZURE_TENANT_ID: "t1", AZURE_CLIENT_ID: "c1", AZURE_CLIENT_SECRET: "s" };

const kinds = (env: Env, rule?: AzureIdentity) =>
  planAzure(env, rule).sources.map((s) => (s.unavailable ? `(${s.kind})` : s.kind));

test("default chain: environment, workload, managed, cli; unconfigured links are skipped without a call", () => {
  assert.deepEqual(kinds({}), ["(environment)", "(workload)", "managed", "cli"]);
  assert.deepEqual(kinds(SP), ["environment", "(workload)", "managed", "cli"]);
  assert.deepEqual(kinds({ AZURE_TENANT_ID: "t1", AZURE_CLIENT_ID: "c1", AZURE_CLIENT_CERTIFICATE_PATH: "/c.pem" }), [
    "environment",
    "(workload)",
    "managed",
    "cli",
  ]);
  assert.deepEqual(kinds({ AZURE_TENANT_ID: "t1", AZURE_CLIENT_ID: "c1", AZURE_FEDERATED_TOKEN_FILE: "/t" }), [
    "(environment)",
    "workload",
    "managed",
    "cli",
  ]);
  // A secret without a tenant is not a service principal.
  assert.deepEqual(kinds({ AZURE_CLIENT_ID: "c1", AZURE_CLIENT_SECRET: "s" }), [
    "(environment)",
    "(workload)",
    "managed",
    "cli",
  ]);
});

test("rule overrides: tenant and client id from the config file complete the environment's", () => {
  assert.deepEqual(kinds({ AZURE_CLIENT_SECRET: "s" }, { tenantId: "t9", clientId: "c9" }), [
    "environment",
    "(workload)",
    "managed",
    "cli",
  ]);
  const plan = planAzure(SP, { tenantId: "t9", clientId: "c9" });
  assert.equal(plan.tenantId, "t9");
  assert.equal(plan.clientId, "c9");
});

test("which credential: config `credential` first, else AZURE_TOKEN_CREDENTIALS, else the chain", () => {
  assert.deepEqual(kinds(SP, { credential: "cli" }), ["cli"]);
  assert.deepEqual(kinds({}, { credential: "managed" }), ["managed"]);
  assert.deepEqual(kinds({ AZURE_TOKEN_CREDENTIALS: "dev" }), ["cli"]);
  assert.deepEqual(kinds({ AZURE_TOKEN_CREDENTIALS: "prod" }), ["(environment)", "(workload)", "managed"]);
  assert.deepEqual(kinds({ AZURE_TOKEN_CREDENTIALS: "ManagedIdentityCredential" }), ["managed"]);
  assert.deepEqual(kinds({ AZURE_TOKEN_CREDENTIALS: "dev" }, { credential: "managed" }), ["managed"]);
  assert.deepEqual(kinds({ AZURE_TOKEN_CREDENTIALS: "dev" }, { credential: "default" }), ["cli"]);
  const bad = planAzure({ AZURE_TOKEN_CREDENTIALS: "AzurePowerShellCredential" });
  assert.match(bad.invalid ?? "", /AZURE_TOKEN_CREDENTIALS=AzurePowerShellCredential is not supported/);
});

test("managed identity host follows MSAL's environment checks, in its order", () => {
  assert.equal(managedIdentityHost({}), "IMDS");
  assert.equal(managedIdentityHost({ IDENTITY_ENDPOINT: "http://x", IDENTITY_HEADER: "h" }), "App Service");
  assert.equal(
    managedIdentityHost({ IDENTITY_ENDPOINT: "http://x", IDENTITY_HEADER: "h", IDENTITY_SERVER_THUMBPRINT: "t" }),
    "Service Fabric",
  );
  assert.equal(managedIdentityHost({ MSI_ENDPOINT: "http://x" }), "Cloud Shell");
  assert.equal(managedIdentityHost({ MSI_ENDPOINT: "http://x", MSI_SECRET: "s" }), "Azure Machine Learning");
  assert.equal(managedIdentityHost({ IDENTITY_ENDPOINT: "http://x", IMDS_ENDPOINT: "http://y" }), "Azure Arc");
});

test("labels name the identity that will answer, and never a secret", () => {
  const sp = azureIdentity({ ...SP, AZURE_CLIENT_SECRET: "very-secret-value" }, "/h");
  assert.equal(sp.label, "environment service principal c1 (client secret) in tenant t1");
  assert.ok(!sp.label.includes("very-secret-value"));
  assert.equal(azureIdentity({}, "/h").label, "managed identity (IMDS, system-assigned) or Azure CLI");
  assert.equal(
    azureIdentity({ AZURE_CLIENT_ID: "mi-1" }, "/h").label,
    "managed identity (IMDS, client mi-1) or Azure CLI",
  );
  assert.equal(azureIdentity({}, "/h", { credential: "cli", tenantId: "t2" }).label, "Azure CLI in tenant t2");
  assert.equal(
    azureIdentity({ AZURE_TENANT_ID: "t1", AZURE_CLIENT_ID: "c1", AZURE_FEDERATED_TOKEN_FILE: "/t" }, "/h").label,
    "workload identity c1 in tenant t1",
  );
});

test("cache key: changes with the identity (client, rule, source), not with a rotated secret, and holds no secret", () => {
  const k = (env: Env, rule?: AzureIdentity) => azureIdentity(env, "/h", rule).key;
  assert.equal(k(SP), k({ ...SP }));
  // A rotated secret is the same principal: its cached registry token stays valid.
  assert.equal(k(SP), k({ ...SP, AZURE_CLIENT_SECRET: "rotated" }));
  assert.notEqual(k(SP), k({ ...SP, AZURE_CLIENT_ID: "c2" }));
  assert.notEqual(k(SP), k(SP, { scope: "https://management.azure.com/.default" }));
  assert.notEqual(k({}), k({ IDENTITY_ENDPOINT: "http://127.0.0.1:1/msi/token" }));
  const key = k({ ...SP, AZURE_CLIENT_SECRET: "very-secret-value" });
  assert.match(key, /^[0-9a-f]+$/, "a digest");
  assert.ok(!key.includes("very-secret-value"));
});

test("cache key: which secret-bearing sources are present is part of it (set/unset only, never the value)", () => {
  const k = (env: Env) => azureIdentity(env, "/h").key;
  const managed = { AZURE_TENANT_ID: "t1", AZURE_CLIENT_ID: "c1" };
  // A service principal's token must not be served to a managed-identity run with the same client id.
  assert.notEqual(k({ ...managed, AZURE_CLIENT_SECRET: "s" }), k(managed));
  // App Service (IDENTITY_HEADER) and Azure ML (MSI_SECRET) managed identities are other sources again.
  const appService = { ...managed, IDENTITY_ENDPOINT: "http://127.0.0.1:1/msi/token" };
  assert.notEqual(k({ ...appService, IDENTITY_HEADER: "h" }), k(appService));
  const ml = { ...managed, MSI_ENDPOINT: "http://127.0.0.1:1/msi/token" };
  assert.notEqual(k({ ...ml, MSI_SECRET: "m" }), k(ml));
  // Rotating any of them keeps the key: only presence counts.
  assert.equal(k({ ...appService, IDENTITY_HEADER: "h" }), k({ ...appService, IDENTITY_HEADER: "h2" }));
  assert.equal(k({ ...ml, MSI_SECRET: "m" }), k({ ...ml, MSI_SECRET: "m2" }));
  assert.equal(k({ ...managed, AZURE_CLIENT_SECRET: "s" }), k({ ...managed, AZURE_CLIENT_SECRET: "s2" }));
  // An empty value is "not set", as the SDK reads it.
  assert.equal(k({ ...managed, AZURE_CLIENT_SECRET: "" }), k(managed));
});

test("AZURE_TOKEN_CREDENTIALS names Object.prototype's properties: invalid, not a crash", () => {
  for (const v of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
    const plan = planAzure({ AZURE_TOKEN_CREDENTIALS: v });
    assert.match(plan.invalid ?? "", new RegExp(`AZURE_TOKEN_CREDENTIALS=${v} is not supported here`), v);
    assert.equal(azureIdentity({ AZURE_TOKEN_CREDENTIALS: v }, "/h").label, "invalid AZURE_TOKEN_CREDENTIALS");
  }
});

test("negative-cache watch list: the az config dir and the files `az login` rewrites", () => {
  const w = azureIdentity({ AZURE_FEDERATED_TOKEN_FILE: "/var/run/token" }, "/home/u").watch;
  assert.deepEqual(w, [
    "/home/u/.azure",
    "/home/u/.azure/azureProfile.json",
    "/home/u/.azure/msal_token_cache.json",
    "/var/run/token",
  ]);
  assert.equal(azureIdentity({ AZURE_CONFIG_DIR: "/cfg" }, "/home/u").watch[0], "/cfg");
});

const settings = (env: Env, rule?: AzureIdentity, extraSuffixes: string[] = []): Settings =>
  Object.freeze({
    env,
    home: "/nonexistent",
    config: {
      ...EMPTY_CONFIG,
      azure: { extraSuffixes },
      registries: rule ? [{ match: "*.azurecr.*", provider: "acr" as const, azure: rule }] : [],
    },
    configFile: null,
    cacheDir: null,
    dataDir: "/nonexistent",
    storeBackend: "file",
    negativeTtlMs: 0,
    requestTimeoutMs: 1000,
    logLevel: "silent",
  });

const acrRoute = (host: string, env: Env = {}, rule?: AzureIdentity, extra: string[] = []): AcrRoute => {
  const r = resolveRoute(host, settings(env, rule, extra));
  assert.equal(r?.provider, "acr");
  return r as AcrRoute;
};

test("authority follows the registry's cloud; only unknown authorities turn instance discovery off", () => {
  const env = { AZURE_AUTHORITY_HOST: "https://login.example.test" };
  assert.deepEqual(authorityFor(acrRoute("myregistry.azurecr.io"), env), {
    host: "https://login.microsoftonline.com",
    disableInstanceDiscovery: false,
  });
  assert.deepEqual(authorityFor(acrRoute("myregistry.azurecr.cn"), env), {
    host: "https://login.chinacloudapi.cn",
    disableInstanceDiscovery: false,
  });
  assert.deepEqual(authorityFor(acrRoute("myregistry.azurecr.us"), env), {
    host: "https://login.microsoftonline.us",
    disableInstanceDiscovery: false,
  });
  // A custom cloud: AZURE_AUTHORITY_HOST, else the SDK default.
  const scloud = acrRoute("myregistry.azurecr.microsoft.scloud", {}, undefined, ["azurecr.microsoft.scloud"]);
  assert.deepEqual(authorityFor(scloud, env), { host: "https://login.example.test", disableInstanceDiscovery: true });
  assert.deepEqual(authorityFor(scloud, {}), { host: undefined, disableInstanceDiscovery: false });
  // The rule wins over the cloud; a known host given with a path or trailing slash stays known.
  assert.deepEqual(
    authorityFor(acrRoute("myregistry.azurecr.io", {}, { authorityHost: "https://adfs.contoso.test/adfs" }), {}),
    {
      host: "https://adfs.contoso.test",
      disableInstanceDiscovery: true,
    },
  );
  assert.deepEqual(
    authorityFor(acrRoute("myregistry.azurecr.cn", {}, { authorityHost: "https://login.microsoftonline.us/" }), {}),
    { host: "https://login.microsoftonline.us", disableInstanceDiscovery: false },
  );
});

test("authority must be https: MSAL refuses anything else, so we say so first", () => {
  assert.throws(
    () => authorityFor(acrRoute("myregistry.azurecr.io", {}, { authorityHost: "http://login.contoso.test" }), {}),
    (e: unknown) =>
      e instanceof ConfigError && /azure\.authorityHost for myregistry\.azurecr\.io.*https/.test(e.message),
  );
  const scloud = acrRoute("myregistry.azurecr.microsoft.scloud", {}, undefined, ["azurecr.microsoft.scloud"]);
  assert.throws(() => authorityFor(scloud, { AZURE_AUTHORITY_HOST: "not a url" }), ConfigError);
});

test("scope: the ACR audience by default; a configured resource gets /.default", () => {
  assert.equal(scopeFor(acrRoute("myregistry.azurecr.io")), ACR_SCOPE);
  assert.equal(ACR_SCOPE, "https://containerregistry.azure.net/.default");
  assert.equal(
    scopeFor(acrRoute("myregistry.azurecr.io", {}, { scope: "https://management.azure.com/.default" })),
    "https://management.azure.com/.default",
  );
  assert.equal(
    scopeFor(acrRoute("myregistry.azurecr.io", {}, { scope: "https://management.usgovcloudapi.net" })),
    "https://management.usgovcloudapi.net/.default",
  );
});

const jwt = (claims: unknown) =>
  `${Buffer.from('{"alg":"RS256"}').toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.sig`;

test("refresh token expiry is the JWT's exp (seconds → ms); anything else is undefined", () => {
  assert.equal(refreshTokenExpiry(jwt({ exp: 1_900_000_000 })), 1_900_000_000_000);
  assert.equal(refreshTokenExpiry(jwt({ exp: "1900000000" })), undefined);
  assert.equal(refreshTokenExpiry(jwt({})), undefined);
  assert.equal(refreshTokenExpiry("opaque-token"), undefined);
  assert.equal(refreshTokenExpiry("a.!!!.c"), undefined);
  assert.deepEqual(jwtPayload(jwt({ tid: "t" })), { tid: "t" });
  assert.equal(jwtPayload(jwt([1, 2])), null);
});

test("SDK errors become one short line: MSAL's envelope and Entra's trace lines are dropped", () => {
  const msal = new Error(
    "invalid_client: Error(s): 7000215 - Timestamp: 2026-01-01 00:00:00Z - Description: AADSTS7000215: Invalid client secret provided. Trace ID: abc Correlation ID: def Timestamp: x - Correlation ID: def - Trace ID: abc",
  );
  assert.equal(brief(msal), "invalid_client: AADSTS7000215: Invalid client secret provided.");
  const multi = new Error(
    "WorkloadIdentityCredential: is unavailable.\n  See the troubleshooting guide for more information: https://aka.ms/x",
  );
  assert.equal(brief(multi), "WorkloadIdentityCredential: is unavailable.");
  const jwtEcho = new Error("bad token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln in request");
  assert.ok(!brief(jwtEcho).includes("eyJhbGciOiJSUzI1NiJ9"), "tokens are scrubbed");
  assert.ok(brief(new Error("x".repeat(1000))).length <= 300);
});
