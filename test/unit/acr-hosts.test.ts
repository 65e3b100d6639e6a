// ACR login servers against a table of real host names and look-alikes: what the anchored
// pattern accepts, which cloud (and so which Entra authority) it implies, and that every
// look-alike gets no route at all, so it can never be sent to a token exchange.
import assert from "node:assert/strict";
import { test } from "node:test";
import { EMPTY_CONFIG } from "../../src/config.ts";
import { type AzureCloud, parseAcrHost, parseServerUrl } from "../../src/registry/hosts.ts";
import { resolveRoute } from "../../src/resolver.ts";
import type { Settings } from "../../src/settings.ts";

const settings = (extraSuffixes: string[] = []): Settings =>
  Object.freeze({
    env: {},
    home: "/nonexistent",
    config: { ...EMPTY_CONFIG, azure: { extraSuffixes } },
    configFile: null,
    cacheDir: null,
    dataDir: "/nonexistent",
    storeBackend: "file",
    negativeTtlMs: 0,
    requestTimeoutMs: 1000,
    logLevel: "silent",
  });

// [what a client sends, registry name, cloud]
const REAL: [string, string, AzureCloud][] = [
  ["myregistry.azurecr.io", "myregistry", "AzurePublicCloud"],
  ["https://myregistry.azurecr.io", "myregistry", "AzurePublicCloud"],
  ["myregistry.azurecr.io:443", "myregistry", "AzurePublicCloud"],
  ["https://myregistry.azurecr.io/v2/", "myregistry", "AzurePublicCloud"],
  ["MyRegistry.AzureCR.io", "myregistry", "AzurePublicCloud"],
  ["myregistry.azurecr.io.", "myregistry", "AzurePublicCloud"],
  ["contoso.azurecr.io", "contoso", "AzurePublicCloud"],
  ["acr01.azurecr.io", "acr01", "AzurePublicCloud"],
  ["12345.azurecr.io", "12345", "AzurePublicCloud"],
  [`${"a".repeat(50)}.azurecr.io`, "a".repeat(50), "AzurePublicCloud"],
  // Domain-name-label scope: "<name>-<hash>".
  ["contosoacr-e7ggejfuhzhgedc8.azurecr.io", "contosoacr-e7ggejfuhzhgedc8", "AzurePublicCloud"],
  ["myregistry.azurecr.cn", "myregistry", "AzureChinaCloud"],
  ["myregistry.azurecr.us", "myregistry", "AzureUSGovernment"],
];

const LOOKALIKES = [
  "x.azurecr.io.evil.com",
  "myregistry.azurecr.io.evil.com",
  "evil.com/x.azurecr.io",
  "evil.com/myregistry.azurecr.io",
  "https://evil.com/myregistry.azurecr.io",
  "myregistry.azurecr.io@evil.com",
  "https://myregistry.azurecr.io@evil.com/",
  "myregistry.azurecr.io:8443",
  "myregistry.azurecr.io.",
  "evilazurecr.io",
  "my.registry.azurecr.io",
  "myregistry.westus.data.azurecr.io",
  "azurecr.io",
  "abcd.azurecr.io", // names have 5 characters at least
  `${"a".repeat(51)}.azurecr.io`,
  "my_registry.azurecr.io",
  "my-registry.azurecr.io.cn",
  "myregistry-.azurecr.io",
  "myregistry.azurecr.de", // Azure Germany was retired
  "myregistry.azurecr.com",
  "myregistry.constructor", // not Object.prototype.constructor
  "myregistry.__proto__",
  "myregistry.azurecr.microsoft.scloud", // extra suffixes need configuration
];

for (const [sent, registry, cloud] of REAL) {
  test(`ACR host ${sent} → ${registry} (${cloud})`, () => {
    const ref = parseServerUrl(sent);
    assert.ok(ref, "parses as a server URL");
    const acr = parseAcrHost(ref.host);
    assert.equal(acr?.registry, registry);
    assert.equal(acr?.cloud, cloud);
    const route = resolveRoute(ref.host, settings());
    assert.equal(route?.provider, "acr");
    assert.equal(route?.provider === "acr" ? route.cloud : undefined, cloud);
  });
}

for (const sent of LOOKALIKES) {
  test(`look-alike ${sent} gets no ACR route`, () => {
    const ref = parseServerUrl(sent);
    if (ref === null) return; // not even a host: "credentials not found"
    if (sent === "myregistry.azurecr.io.") {
      // The trailing dot is the same host (FQDN form), so it must route like it.
      assert.equal(ref.host, "myregistry.azurecr.io");
      return;
    }
    assert.equal(parseAcrHost(ref.host), null, `${ref.host} parsed as ACR`);
    assert.equal(resolveRoute(ref.host, settings())?.provider, undefined, `${ref.host} got a route`);
  });
}

test("extra suffixes: configured air-gapped clouds route as Custom; leading dots and case are forgiven", () => {
  for (const configured of ["azurecr.microsoft.scloud", ".azurecr.microsoft.scloud", "AzureCR.Microsoft.Scloud."]) {
    const acr = parseAcrHost("myregistry.azurecr.microsoft.scloud", [configured]);
    assert.equal(acr?.cloud, "Custom", configured);
    const route = resolveRoute("myregistry.azurecr.microsoft.scloud", settings([configured]));
    assert.equal(route?.provider, "acr");
  }
  assert.equal(parseAcrHost("myregistry.azurecr.eaglex.ic.gov", ["azurecr.microsoft.scloud"]), null);
  assert.equal(parseAcrHost("myregistry.azurecr.microsoft.scloud.evil.com", ["azurecr.microsoft.scloud"]), null);
});

test("extra suffixes: a single-label suffix is ignored, so a slip cannot claim a whole TLD", () => {
  assert.equal(parseAcrHost("myregistry.com", ["com"]), null);
  assert.equal(parseAcrHost("myregistry.com", [".com"]), null);
  assert.equal(resolveRoute("myregistry.com", settings(["com"])), null);
});
