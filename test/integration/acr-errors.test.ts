// ACR failure modes and safety, through the BUILT CLI against the fake Azure:
// - no Azure identity at all → "credentials not found" + a stderr hint, remembered (negative cache)
//   until the identity files change;
// - an identity that exists but fails (bad secret; the registry answering 401/403; an ARM-audience
//   token a registry refuses) → one line naming the registry, the identity and the fix, exit 1;
// - look-alike hosts never reach Entra or the exchange, even with a working identity;
// - a cache hit loads no SDK and makes no call.
// Run `npm run build` first.
import assert from "node:assert/strict";
import { mkdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli, TRACE_LOADS } from "../support/cli.ts";
import { type FakeAzure, fakeAzRuns, fakeAzureHome, startFakeAzure, TENANT } from "../support/fake-azure.ts";
import type { tmpTree } from "../support/tmp.ts";

const NOT_FOUND = "credentials not found in native keychain\n";
const SP = { AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: "sp-app", AZURE_CLIENT_SECRET: "sp-secret-value" };

describe("ACR: errors, look-alikes and the cache", () => {
  let fake: FakeAzure;

  before(async () => {
    fake = await startFakeAzure({
      clients: { "sp-app": { secret: "sp-secret-value" } },
      registries: {
        "myregistry.azurecr.io": {},
        "noaccess1.azurecr.io": { deny: 401 },
        "noaccess3.azurecr.io": { deny: 403 },
        "acronly1.azurecr.io": { audiences: ["https://containerregistry.azure.net"] },
        "redirect1.azurecr.io": { redirectTo: "collector.evil.test" },
        "collector.evil.test": {},
      },
    });
  });

  after(() => fake?.close());

  /** A fresh HOME with a logged-out fake `az` first on PATH; returns env and the az log. */
  const setup = (t: Parameters<typeof tmpTree>[0], extra: Record<string, string>, config?: unknown) =>
    fakeAzureHome(
      fake,
      t,
      // Nothing listens on port 9: no managed identity on this "machine".
      { AZURE_POD_IDENTITY_AUTHORITY_HOST: "http://127.0.0.1:9", ...extra },
      { config },
    );

  test("no Azure identity: not found + hint, then remembered until `az login` changes ~/.azure", async (t) => {
    const { home, env, azLog } = await setup(t, {});
    const mark = fake.calls.length;
    const connects = fake.proxy.connects.length;
    const first = await runCli(["get"], "myregistry.azurecr.io", env);
    assert.equal(first.stdout, NOT_FOUND);
    assert.equal(first.code, 1);
    assert.match(first.stderr, /warn: no Azure identity for myregistry\.azurecr\.io/);
    assert.match(first.stderr, /managed: .*; cli: Please run 'az login'/);
    assert.match(first.stderr, /set one up: az login/);
    assert.equal(first.stderr.trim().split("\n").length, 1, "one line on stderr");
    assert.equal((await fakeAzRuns(azLog)).length, 1, "the CLI was asked once");
    assert.equal(fake.calls.length, mark, "no Entra or registry call");
    assert.equal(fake.proxy.connects.length, connects);

    // Negative cache: the next pull (any ACR registry) asks no identity source at all.
    const second = await runCli(["get"], "otherregistry.azurecr.io", env);
    assert.equal(second.stdout, NOT_FOUND);
    assert.match(second.stderr, /no Azure identity/);
    assert.equal((await fakeAzRuns(azLog)).length, 1, "negative cache: the CLI was not run again");

    // `az login` rewrites ~/.azure/azureProfile.json: the remembered absence is void.
    await mkdir(join(home, ".azure"), { recursive: true });
    await writeFile(join(home, ".azure", "azureProfile.json"), "{}");
    const future = new Date(Date.now() + 5000);
    await utimes(join(home, ".azure", "azureProfile.json"), future, future);
    const third = await runCli(["get"], "myregistry.azurecr.io", env);
    assert.equal(third.stdout, NOT_FOUND);
    assert.equal((await fakeAzRuns(azLog)).length, 2, "the CLI was asked again");
  });

  test("a configured credential that is unavailable is also 'no identity' (with the config named)", async (t) => {
    const { env } = await setup(t, {}, { registries: [{ match: "*.azurecr.io", azure: { credential: "cli" } }] });
    const r = await runCli(["get"], "myregistry.azurecr.io", env);
    assert.equal(r.stdout, NOT_FOUND);
    assert.match(r.stderr, /config credential: cli: cli: Please run 'az login'/);
  });

  test("wrong client secret: exit 1, the identity and Entra's reason named, no exchange", async (t) => {
    const { env } = await setup(t, { ...SP, AZURE_CLIENT_SECRET: "wrong-secret" });
    const mark = fake.calls.length;
    const r = await runCli(["get"], "myregistry.azurecr.io", env);
    assert.equal(r.code, 1);
    assert.equal(r.stdout.split("\n").length, 2, "one line");
    assert.match(r.stdout, /environment service principal sp-app \(client secret\)/);
    assert.match(r.stdout, /myregistry\.azurecr\.io/);
    assert.match(r.stdout, /AADSTS7000215/);
    assert.match(r.stdout, /check AZURE_CLIENT_SECRET/);
    assert.ok(!r.stdout.includes("wrong-secret"), "the secret is never echoed");
    assert.equal(fake.calls.slice(mark).filter((c) => c.kind === "registry").length, 0);
  });

  for (const [host, status] of [
    ["noaccess1.azurecr.io", 401],
    ["noaccess3.azurecr.io", 403],
  ] as const) {
    test(`the exchange answers ${status}: registry, identity and the AcrPull fix named, exit 1`, async (t) => {
      const { env } = await setup(t, SP);
      const r = await runCli(["get"], host, env);
      assert.equal(r.code, 1);
      assert.equal(r.stdout.split("\n").length, 2, "one line");
      assert.match(
        r.stdout,
        new RegExp(
          `^docker-credential-cloud: ${host.replaceAll(".", "\\.")} refused the Entra token of environment service principal sp-app .*HTTP ${status}.*AcrPull`,
        ),
      );
      assert.ok(!/eyJ/.test(r.stdout + r.stderr), "no token in the output");
      // A refusal is not "no identity": nothing negative-cached, the next call asks again.
      const mark = fake.calls.length;
      await runCli(["get"], host, env);
      assert.equal(fake.calls.slice(mark).filter((c) => c.path === "/oauth2/exchange").length, 1);
    });
  }

  test("an ARM-audience token refused by the registry: the message points at the ACR scope", async (t) => {
    const { env } = await setup(t, SP, {
      registries: [{ match: "acronly1.azurecr.io", azure: { scope: "https://management.azure.com/.default" } }],
    });
    const r = await runCli(["get"], "acronly1.azurecr.io", env);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /HTTP 401.*audience https:\/\/management\.azure\.com is not accepted/);
    assert.match(r.stdout, /use the ACR scope https:\/\/containerregistry\.azure\.net\/\.default/);
  });

  test("a redirect from the exchange is not followed: the Entra token goes to the registry only", async (t) => {
    const { env } = await setup(t, SP);
    const mark = fake.calls.length;
    const r = await runCli(["get"], "redirect1.azurecr.io", env);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /the token exchange at https:\/\/redirect1\.azurecr\.io\/oauth2\/exchange failed \(HTTP 307/,
    );
    const hosts = fake.calls.slice(mark).map((c) => c.host);
    assert.ok(hosts.includes("redirect1.azurecr.io"));
    assert.ok(!hosts.includes("collector.evil.test"), `calls went to: ${hosts.join(", ")}`);
  });

  test("look-alike hosts never reach Entra or the exchange, even with a working identity", async (t) => {
    const { env } = await setup(t, SP, {
      registries: [{ match: "*.azurecr.io", azure: { tenantId: TENANT } }],
    });
    const mark = fake.calls.length;
    const connects = fake.proxy.connects.length;
    for (const host of [
      "x.azurecr.io.evil.com",
      "myregistry.azurecr.io.evil.com",
      "evil.com/x.azurecr.io",
      "https://evil.com/myregistry.azurecr.io",
      "myregistry.azurecr.io@evil.com",
      "myregistry.azurecr.io:8443",
      "myregistry.constructor",
    ]) {
      const r = await runCli(["get"], host, env);
      assert.equal(r.stdout, NOT_FOUND, host);
      assert.equal(r.code, 1, host);
    }
    assert.deepEqual(fake.calls.slice(mark), [], "the fake saw no call");
    assert.deepEqual(fake.proxy.connects.slice(connects), [], "no connection was even attempted");
    // The same identity does reach the fake for the genuine host (so the silence above is meaningful).
    const ok = await runCli(["get"], "myregistry.azurecr.io", env);
    assert.equal(ok.code, 0, ok.stdout);
    assert.equal(fake.calls.slice(mark).filter((c) => c.path === "/oauth2/exchange").length, 1);
  });

  test("a cache hit for an ACR host loads no SDK and makes no call", async (t) => {
    const { home, env } = await setup(t, SP);
    const trace = join(home, "loads.txt");
    const traced = { ...env, NODE_OPTIONS: `--import ${TRACE_LOADS}`, DCC_TRACE_LOADS: trace };
    const miss = await runCli(["get"], "myregistry.azurecr.io", traced);
    assert.equal(miss.code, 0, miss.stdout);
    const missLoads = await readFile(trace, "utf8");
    // The provider module: dist/providers/acr.js, or its chunk (dist/cli/acr-<hash>.js) when bundled.
    const providerModule = /\/providers\/acr\.js$|\/acr-[A-Za-z0-9]+\.js$|^src\/providers\/azure\/acr\.ts$/m;
    assert.match(missLoads, /@azure\/identity/, "the trace sees the SDK on a miss");
    assert.match(missLoads, providerModule, "and the provider module");
    await rm(trace);
    const mark = fake.calls.length;
    const hit = await runCli(["get"], "myregistry.azurecr.io", traced);
    assert.equal(hit.code, 0, hit.stdout);
    assert.equal(hit.stdout, miss.stdout, "the same token");
    const hitLoads = (await readFile(trace, "utf8")).split("\n").filter(Boolean);
    assert.ok(hitLoads.length > 0);
    const sdk = hitLoads.filter((u) => /node_modules\/(@azure|@aws-sdk|google-auth-library|@napi-rs|yaml)/.test(u));
    assert.deepEqual(sdk, [], "no SDK module on a hit");
    assert.ok(!hitLoads.some((u) => providerModule.test(u)), "not even the provider module");
    assert.deepEqual(fake.calls.slice(mark), [], "no call on a hit");
  });
});
