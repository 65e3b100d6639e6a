// A proxy that refuses the tunnel (407 without credentials, 401 for wrong ones, 5xx when it cannot
// reach the host) is named as the cause — never the identity's key, secret or a parse error of the
// proxy's HTML page — for every cloud, on the program under test (executable or launcher), through
// a real proxy (Debian's tinyproxy with BasicAuth). The proxy's password is never printed, even with
// every debug knob on; and every HTTP exchange line of the debug log has its time, proxied too.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, type TestContext, test } from "node:test";
import { baseEnv, DEBUG_KNOBS, runCli } from "../support/cli.ts";
import { awsEnv, type FakeAws } from "../support/fake-aws.ts";
import { type FakeAzure, fakeAzureHome, TENANT } from "../support/fake-azure.ts";
import type { FakeGoogle } from "../support/fake-google.ts";
import { PROXIED_ACR, startProxiedFakes } from "../support/proxy-fakes.ts";
import { startTinyproxy, type Tinyproxy } from "../support/tinyproxy.ts";
import { tmpTree } from "../support/tmp.ts";

const USER = "proxyuser";
const PASSWORD = "Pr0xy-Passw0rd-7f3a9c";
const WRONG = "Wr0ng-Passw0rd-51d2e8";

const ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const GAR = "europe-west4-docker.pkg.dev";
const ACR = PROXIED_ACR;

/** `url` with user and password. */
const withAuth = (url: string, user: string, password: string): string =>
  url.replace("http://", `http://${user}:${password}@`);

/** The child env through `proxyUrl` (both variables), NO_PROXY cleared. */
const via = (env: Record<string, string>, proxyUrl: string, extra: Record<string, string> = {}) => {
  const e: Record<string, string> = { ...env, HTTPS_PROXY: proxyUrl, HTTP_PROXY: proxyUrl, ...extra };
  delete e.NO_PROXY;
  delete e.no_proxy;
  return e;
};

/** Neither stream carries `secret` (as is, URL-encoded, or base64 in a Proxy-Authorization). */
const noSecret = (r: { stdout: string; stderr: string }, secret: string, user = USER) => {
  const forms = [secret, encodeURIComponent(secret), Buffer.from(`${user}:${secret}`).toString("base64")];
  for (const form of forms) {
    assert.ok(!r.stdout.includes(form), `stdout contains the proxy password (${form.slice(0, 6)}…)`);
    assert.ok(!r.stderr.includes(form), `stderr contains the proxy password (${form.slice(0, 6)}…)`);
  }
};

/** Every HTTP exchange line of the debug log has its time (a refused tunnel logged "(? ms)"). */
const timed = (stderr: string, registry: string) => {
  const exchanges = stderr.split("\n").filter((l) => l.includes("debug: http: "));
  assert.ok(exchanges.length > 0, `${registry}: no exchange logged`);
  for (const l of exchanges) assert.match(l, /\(\d+ ms\)$/, `${registry}: an exchange without its time: ${l}`);
};

describe("a proxy that refuses the tunnel is named as the cause (tinyproxy)", () => {
  let google: FakeGoogle;
  let azure: FakeAzure;
  let aws: FakeAws;
  let auth: Tinyproxy;
  let unreachable: Tinyproxy;
  let dir: string;

  before(async () => {
    dir = await tmpTree(undefined);
    let upstreams: [string, string][];
    ({ google, azure, aws, upstreams } = await startProxiedFakes());
    // With credentials the clouds' hosts reach the fakes (through their MITM proxies); the real
    // AWS host ends at a closed port, whatever happens.
    auth = await startTinyproxy(dir, upstreams, { basicAuth: { user: USER, password: PASSWORD }, name: "auth" });
    // A proxy whose upstream is down: it answers every CONNECT with an error status.
    unreachable = await startTinyproxy(
      dir,
      [
        ["127.0.0.1:9", ".googleapis.com"],
        ["127.0.0.1:9", "login.microsoftonline.com"],
        ["127.0.0.1:9", ".amazonaws.com"],
      ],
      { name: "unreachable" },
    );
  });
  after(async () => {
    auth?.close();
    unreachable?.close();
    await google?.close();
    await azure?.close();
    await aws?.close();
  });

  /** Per cloud: the registry, the API host the token request tunnels to, and an env with an identity (https endpoints). */
  const clouds = async (t: TestContext): Promise<[string, string, Record<string, string>][]> => {
    const home = await tmpTree(t);
    const key = join(home, "key.json");
    await writeFile(key, JSON.stringify(google.serviceAccountKey("puller@fake-project.iam.gserviceaccount.com")));
    const sp = { AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: "sp-app", AZURE_CLIENT_SECRET: "sp-secret-value" };
    return [
      [
        ECR,
        "api.ecr.eu-west-1.amazonaws.com",
        { ...baseEnv(home), AWS_ACCESS_KEY_ID: "AKIAPROXYTEST", AWS_SECRET_ACCESS_KEY: "proxy-secret" },
      ],
      [GAR, "oauth2.googleapis.com", { ...baseEnv(home), ...google.env(), GOOGLE_APPLICATION_CREDENTIALS: key }],
      [ACR, "login.microsoftonline.com", (await fakeAzureHome(azure, t, sp)).env],
    ];
  };

  /** The one line on stdout (the cause, also on stderr for Docker), exit 1. */
  const failure = (r: { code: number | null; stdout: string; stderr: string }, registry: string): string => {
    assert.equal(r.code, 1, `${registry}: ${r.stdout}${r.stderr}`);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, 1, `${registry}: ${r.stdout}`);
    const line = lines[0] ?? "";
    // Not the identity's fault, nor a parse error of the proxy's page.
    assert.doesNotMatch(
      line,
      /check the service account key|AZURE_CLIENT_SECRET|JSON Parse|valid JSON|SyntaxError|<html|<\?xml|network error|could not provide|refused for/i,
      `${registry}: ${line}`,
    );
    return line;
  };

  test("no credentials in HTTPS_PROXY: 407, set credentials in HTTPS_PROXY or NO_PROXY", async (t) => {
    for (const [registry, api, env] of await clouds(t)) {
      const r = await runCli(["get"], `${registry}\n`, via(env, auth.url), { timeoutMs: 30_000 });
      const line = failure(r, registry);
      assert.ok(
        line.includes(
          `the proxy ${auth.url} refused the tunnel to ${api}:443: 407 Proxy Authentication Required — set credentials in HTTPS_PROXY (http://user:pass@…) or NO_PROXY`,
        ),
        `${registry}: ${line}`,
      );
      assert.ok(r.stderr.includes(line), `${registry}: the cause is on stderr too (Docker shows only stderr)`);
    }
  });

  test("wrong credentials: named as the proxy's refusal; the password never printed, every debug knob on", async (t) => {
    const proxyUrl = withAuth(auth.url, USER, WRONG);
    for (const [registry, api, env] of await clouds(t)) {
      const r = await runCli(["get"], `${registry}\n`, via(env, proxyUrl, DEBUG_KNOBS), { timeoutMs: 30_000 });
      const line = failure(r, registry);
      assert.match(
        line,
        new RegExp(`the proxy ${auth.url} refused the tunnel to ${api.replace(/\./g, "\\.")}:443: 40[17] `),
      );
      assert.match(line, /the proxy did not accept the credentials in HTTPS_PROXY/);
      assert.ok(r.stderr.length > 0, "the knobs produced logs");
      noSecret(r, WRONG);
      timed(r.stderr, registry);
    }
  });

  test("right credentials: every cloud gets its token; no password in the debug log; each exchange timed", async (t) => {
    const proxyUrl = withAuth(auth.url, USER, PASSWORD);
    const home = await tmpTree(t);
    const key = join(home, "key.json");
    await writeFile(key, JSON.stringify(google.serviceAccountKey("puller@fake-project.iam.gserviceaccount.com")));
    const sp = { AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: "sp-app", AZURE_CLIENT_SECRET: "sp-secret-value" };
    const cases: [string, Record<string, string>][] = [
      [ECR, { ...baseEnv(home), ...awsEnv(aws, "AKIAPROXYTEST", "proxy-secret") }],
      [GAR, { ...baseEnv(home), ...google.env(), GOOGLE_APPLICATION_CREDENTIALS: key }],
      [ACR, (await fakeAzureHome(azure, t, sp)).env],
    ];
    for (const [registry, env] of cases) {
      await auth.take();
      const r = await runCli(["get"], `${registry}\n`, via(env, proxyUrl, DEBUG_KNOBS), { timeoutMs: 30_000 });
      assert.equal(r.code, 0, `${registry}: ${r.stdout}${r.stderr.slice(-2000)}`);
      assert.ok((await auth.take()).length > 0, `${registry} went through the proxy`);
      noSecret(r, PASSWORD);
      timed(r.stderr, registry);
    }
  });

  test("a proxy that cannot reach the host (5xx on CONNECT): named, not the identity; the exchange timed", async (t) => {
    for (const [registry, api, env] of await clouds(t)) {
      const r = await runCli(
        ["get"],
        `${registry}\n`,
        via(env, unreachable.url, { DOCKER_CREDENTIAL_CLOUD_LOG: "debug" }),
        {
          timeoutMs: 30_000,
        },
      );
      timed(r.stderr, registry);
      const line = failure(r, registry);
      assert.match(
        line,
        new RegExp(
          `the proxy ${unreachable.url} refused the tunnel to ${api.replace(/\./g, "\\.")}:443: 5\\d\\d .*— the proxy could not reach`,
        ),
        `${registry}: ${line}`,
      );
    }
  });

  test("a plain-HTTP endpoint (AWS_ENDPOINT_URL=http://…) answered 407 by the proxy: the proxy, not the key", async (t) => {
    const home = await tmpTree(t);
    const env = { ...baseEnv(home), ...awsEnv(aws, "AKIAPROXYTEST", "proxy-secret") };
    const r = await runCli(["get"], `${ECR}\n`, via(env, auth.url), { timeoutMs: 30_000 });
    const line = failure(r, ECR);
    assert.match(
      line,
      /the proxy refused the request: 407 Proxy Authentication Required — set credentials in HTTP_PROXY/,
    );
  });
});
