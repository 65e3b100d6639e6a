// Corporate networks: the built CLI through a real forward proxy (Debian's tinyproxy) for every
// cloud. tinyproxy forwards the cloud host names to the fakes' MITM proxies (Upstream rules) and
// logs every request line, so the test sees exactly which CONNECTs (and plain proxied requests)
// each cloud made — and that metadata traffic never reached the proxy.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { createServer, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { BIN, baseEnv, runCli } from "../support/cli.ts";
import { awsEnv, type FakeAws, startFakeAws } from "../support/fake-aws.ts";
import { type FakeAzure, fakeAzureHome, TENANT } from "../support/fake-azure.ts";
import type { FakeGoogle } from "../support/fake-google.ts";
import { canUseNamespaces, NAMESPACE_SKIP_REASON, runWithHosts } from "../support/namespace.ts";
import { startProxiedFakes } from "../support/proxy-fakes.ts";
import { startTinyproxy, type Tinyproxy } from "../support/tinyproxy.ts";
import { tmpTree } from "../support/tmp.ts";

/** The child env: the proxy instead of the fake's own, NO_PROXY cleared unless a test sets it. */
const viaProxy = (env: Record<string, string>, proxy: Tinyproxy, extra: Record<string, string> = {}) => {
  const e: Record<string, string> = { ...env, HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url, ...extra };
  if (!("NO_PROXY" in extra)) delete e.NO_PROXY;
  delete e.no_proxy;
  return e;
};

describe("through a real proxy (tinyproxy)", () => {
  let google: FakeGoogle;
  let azure: FakeAzure;
  let aws: FakeAws;
  let proxy: Tinyproxy;
  let dir: string;

  before(async () => {
    dir = await tmpTree(undefined);
    let upstreams: [string, string][];
    ({ google, azure, aws, upstreams } = await startProxiedFakes());
    proxy = await startTinyproxy(dir, upstreams);
  });
  after(async () => {
    proxy?.close();
    await google?.close();
    await azure?.close();
    await aws?.close();
  });

  test("Google: the token endpoint through the proxy (CONNECT oauth2.googleapis.com:443)", async (t) => {
    const home = await tmpTree(t);
    const key = join(home, "key.json");
    await writeFile(key, JSON.stringify(google.serviceAccountKey("puller@fake-project.iam.gserviceaccount.com")));
    await proxy.take();
    const env = viaProxy(
      { ...baseEnv(home), ...google.env(), GOOGLE_APPLICATION_CREDENTIALS: key, DOCKER_CREDENTIAL_CLOUD_LOG: "debug" },
      proxy,
    );
    const r = await runCli(["get"], "europe-west4-docker.pkg.dev\n", env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.ok((await proxy.take()).includes("CONNECT oauth2.googleapis.com:443 HTTP/1.1"));
    // The debug line for the exchange, on either runtime's HTTP stack; never a token.
    assert.match(r.stderr, /http: POST oauth2\.googleapis\.com → 200 \(\d+ ms\)/);
    assert.ok(!r.stderr.includes(JSON.parse(r.stdout).Secret), "no token in the log");
  });

  test("a CA bundle named by SSL_CERT_FILE or AWS_CA_BUNDLE is trusted (here: the fakes' test CA)", async (t) => {
    const caFile = google.env().NODE_EXTRA_CA_CERTS ?? "";
    for (const name of ["SSL_CERT_FILE", "AWS_CA_BUNDLE"]) {
      const home = await tmpTree(t);
      const key = join(home, "key.json");
      await writeFile(key, JSON.stringify(google.serviceAccountKey("puller@fake-project.iam.gserviceaccount.com")));
      const env = viaProxy(
        { ...baseEnv(home), ...google.env(), GOOGLE_APPLICATION_CREDENTIALS: key, NODE_EXTRA_CA_CERTS: "" },
        proxy,
      );
      const untrusted = await runCli(["get"], "europe-west4-docker.pkg.dev\n", env);
      assert.equal(untrusted.code, 1, "without the bundle the test CA is not trusted");
      const r = await runCli(["get"], "europe-west4-docker.pkg.dev\n", { ...env, [name]: caFile });
      assert.equal(r.code, 0, `${name}: ${r.stdout}${r.stderr}`);
    }
  });

  test("Google metadata server: direct, never through the proxy", async (t) => {
    const home = await tmpTree(t);
    const env = viaProxy({ ...baseEnv(home), ...google.env(), GCE_METADATA_HOST: google.metadataHost }, proxy);
    delete env.METADATA_SERVER_DETECTION;
    await proxy.take();
    const r = await runCli(["get"], "europe-west4-docker.pkg.dev\n", env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const seen = await proxy.take();
    assert.deepEqual(
      seen.filter((l) => l.includes(google.metadataHost)),
      [],
      `metadata reached the proxy: ${seen.join("; ")}`,
    );
  });

  test("Azure: Entra and the registry exchange through the proxy; IMDS direct", async (t) => {
    const sp = { AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: "sp-app", AZURE_CLIENT_SECRET: "sp-secret-value" };
    const { env } = await fakeAzureHome(azure, t, sp);
    await proxy.take();
    const r = await runCli(["get"], "myregistry.azurecr.io\n", viaProxy(env, proxy));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const seen = await proxy.take();
    assert.ok(seen.includes("CONNECT login.microsoftonline.com:443 HTTP/1.1"), seen.join("; "));
    assert.ok(seen.includes("CONNECT myregistry.azurecr.io:443 HTTP/1.1"), seen.join("; "));

    const mi = await fakeAzureHome(
      azure,
      t,
      {},
      {
        config: { registries: [{ match: "myregistry.azurecr.io", azure: { credential: "managed" } }] },
      },
    );
    const m = await runCli(["get"], "myregistry.azurecr.io\n", viaProxy(mi.env, proxy));
    assert.equal(m.code, 0, m.stdout + m.stderr);
    const after = await proxy.take();
    const imds = new URL(azure.metadataUrl).host;
    assert.deepEqual(
      after.filter((l) => l.includes(imds)),
      [],
      `IMDS reached the proxy: ${after.join("; ")}`,
    );
    assert.ok(after.includes("CONNECT myregistry.azurecr.io:443 HTTP/1.1"), after.join("; "));
  });

  test("AWS: ECR through the proxy; NO_PROXY (host:port, and *) sends it direct", async (t) => {
    const home = await tmpTree(t);
    const host = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
    const base = { ...baseEnv(home), ...awsEnv(aws, "AKIAPROXYTEST", "proxy-secret") };
    const fakeHost = new URL(aws.url).host;
    await proxy.take();
    const r = await runCli(["get"], `${host}\n`, viaProxy(base, proxy));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const seen = await proxy.take();
    assert.ok(
      seen.some((l) => l.includes(fakeHost)),
      `ECR did not go through the proxy: ${seen.join("; ")}`,
    );
    for (const noProxy of [fakeHost, "*", `example.com, ${new URL(aws.url).hostname}`]) {
      const home2 = await tmpTree(t);
      const env = viaProxy({ ...baseEnv(home2), ...awsEnv(aws, "AKIAPROXYTEST", "proxy-secret") }, proxy, {
        NO_PROXY: noProxy,
      });
      const d = await runCli(["get"], `${host}\n`, env);
      assert.equal(d.code, 0, d.stdout + d.stderr);
      assert.deepEqual(await proxy.take(), [], `NO_PROXY=${noProxy} was not honoured`);
    }
  });

  test("AWS instance metadata (IMDSv2): direct, never through the proxy; ECR through it", async (t) => {
    // IMDS on a second fake (another port), so the proxy log tells the two apart. The SDK's IMDS
    // client takes no agent; this guards against any runtime or wiring that would proxy it anyway.
    const imds = await startFakeAws({});
    t.after(() => imds.close());
    const home = await tmpTree(t);
    const env = viaProxy(
      { ...baseEnv(home), AWS_ENDPOINT_URL: aws.url, AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.url },
      proxy,
    );
    delete env.AWS_EC2_METADATA_DISABLED;
    await proxy.take();
    const r = await runCli(["get"], "123456789012.dkr.ecr.eu-west-1.amazonaws.com\n", env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(imds.calls.imds, 1, "the credentials came from IMDS");
    const seen = await proxy.take();
    assert.ok(
      seen.some((l) => l.includes(new URL(aws.url).host)),
      `ECR did not go through the proxy: ${seen.join("; ")}`,
    );
    assert.deepEqual(
      seen.filter((l) => l.includes(new URL(imds.url).host)),
      [],
      `IMDS reached the proxy: ${seen.join("; ")}`,
    );
  });

  // A bare domain in NO_PROXY covers its subdomains (as for Go's httpproxy, curl and gaxios), for
  // every cloud. The API hosts resolve to 127.0.0.1 in a private /etc/hosts, so a direct call ends
  // at a closed port on loopback; only the proxy's log tells the two paths apart.
  test("NO_PROXY with a bare domain (amazonaws.com) sends its subdomains direct, every cloud", {
    skip: canUseNamespaces() ? false : NAMESPACE_SKIP_REASON,
  }, async (t) => {
    const home = await tmpTree(t);
    const key = join(home, "key.json");
    await writeFile(key, JSON.stringify(google.serviceAccountKey("puller@fake-project.iam.gserviceaccount.com")));
    const api = {
      aws: "api.ecr.eu-west-1.amazonaws.com",
      google: "oauth2.googleapis.com",
      azure: "login.microsoftonline.com",
    };
    const cases: [string, string, string, Record<string, string>][] = [
      [
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        api.aws,
        "amazonaws.com",
        { AWS_ACCESS_KEY_ID: "AKIAPROXYTEST", AWS_SECRET_ACCESS_KEY: "proxy-secret" },
      ],
      ["europe-west4-docker.pkg.dev", api.google, "googleapis.com", { GOOGLE_APPLICATION_CREDENTIALS: key }],
      [
        "myregistry.azurecr.io",
        api.azure,
        "microsoftonline.com",
        { AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: "sp-app", AZURE_CLIENT_SECRET: "sp-secret-value" },
      ],
    ];
    const hosts = Object.fromEntries(Object.values(api).map((h) => [h, "127.0.0.1"]));
    for (const [registry, apiHost, domain, creds] of cases) {
      for (const noProxy of [undefined, domain, `example.com,${domain}:443`]) {
        const env = viaProxy({ ...baseEnv(await tmpTree(t)), ...creds, DOCKER_CREDENTIAL_CLOUD_TIMEOUT: "2" }, proxy);
        if (noProxy) env.no_proxy = noProxy;
        await proxy.take();
        const r = await runWithHosts(hosts, BIN, ["get"], { env, input: `${registry}\n`, timeoutMs: 30_000 });
        assert.equal(r.code, 1, `${registry}: ${r.stdout}${r.stderr}`);
        const seen = (await proxy.take()).filter((l) => l.includes(apiHost));
        if (noProxy) assert.deepEqual(seen, [], `no_proxy=${noProxy}: ${apiHost} went through the proxy`);
        else assert.ok(seen.length > 0, `without NO_PROXY ${apiHost} goes through the proxy`);
      }
    }
  });

  // Every request timeout the Node build relies on, proven on the program under test (the
  // executable by default, where Bun's node:http and fetch replace Node's): a proxy that accepts
  // connections and never answers stalls every cloud's first request, and each one ends at its own
  // per-request timeout (DOCKER_CREDENTIAL_CLOUD_TIMEOUT=1), not at the overall 3 s deadline nor at
  // the harness's kill.
  test("a proxy that accepts and never answers: each cloud ends at its request timeout, in one line", async (t) => {
    const held: Socket[] = [];
    const silent = createServer((s) => {
      held.push(s);
      s.on("error", () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const address = silent.address();
    const url = `http://127.0.0.1:${address && typeof address === "object" ? address.port : 0}`;
    t.after(() => {
      for (const s of held) s.destroy();
      silent.close();
    });
    const home = await tmpTree(t);
    const key = join(home, "key.json");
    await writeFile(key, JSON.stringify(google.serviceAccountKey("slow@fake-project.iam.gserviceaccount.com")));
    const sp = { AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: "sp-app", AZURE_CLIENT_SECRET: "sp-secret-value" };
    const cases: [string, Record<string, string>, RegExp][] = [
      [
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        { ...baseEnv(home), ...awsEnv(aws, "AKIAPROXYTEST", "proxy-secret") },
        /could not reach AWS \(ETIMEDOUT: .*1000 ms requestTimeout/,
      ],
      [
        "europe-west4-docker.pkg.dev",
        { ...baseEnv(home), ...google.env(), GOOGLE_APPLICATION_CREDENTIALS: key },
        /oauth2\.googleapis\.com did not answer within 1 s \(timeout\)/,
      ],
      ["myregistry.azurecr.io", (await fakeAzureHome(azure, t, sp)).env, /could not reach Entra ID .*\(timeout\)/],
    ];
    for (const [host, env, expected] of cases) {
      const e: Record<string, string> = {
        ...env,
        HTTPS_PROXY: url,
        HTTP_PROXY: url,
        DOCKER_CREDENTIAL_CLOUD_TIMEOUT: "1",
      };
      delete e.NO_PROXY;
      delete e.no_proxy;
      const r = await runCli(["get"], `${host}\n`, e, { timeoutMs: 30_000 });
      assert.equal(r.code, 1, `${host}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout, expected, host);
      assert.doesNotMatch(r.stdout, /did not finish within/, `${host}: the per-request timeout did not fire`);
      assert.equal(r.stdout.trim().split("\n").length, 1, host);
    }
  });
});
