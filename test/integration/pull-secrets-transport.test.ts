// How pull-secrets reaches the API server, on BOTH programs (the single-file executable, where
// Bun's fetch ignores @kubernetes/client-node's undici dispatcher, and the Node launcher): the
// cluster CA from the kubeconfig (nothing else trusted), a client certificate and key that a
// server demanding one accepts, the bearer token, the kubeconfig's proxy-url through a real proxy
// (Debian's tinyproxy, its log checked), and the proxy variables left to the cloud calls.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { baseEnv, EXECUTABLE, LAUNCHER, runCli } from "../support/cli.ts";
import { awsEnv, type FakeAws, startFakeAws } from "../support/fake-aws.ts";
import { type FakeKube, startFakeKube } from "../support/fake-kube.ts";
import { run } from "../support/namespace.ts";
import { startTinyproxy, type Tinyproxy } from "../support/tinyproxy.ts";
import { type Ca, issueCert, makeCa } from "../support/tls.ts";
import { tmpTree } from "../support/tmp.ts";

const HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const AKID = "AKIAFAKEPULLSECRETT1";
const SECRET = "fake-pull-secrets-transport";
const NAME = "cloud-registry-credentials";

/** A clientAuth certificate signed by `ca` (support/tls.ts issues serverAuth leaves only). */
const clientCert = async (ca: Ca, dir: string): Promise<{ certFile: string; keyFile: string }> => {
  const keyFile = join(dir, "client.key");
  const certFile = join(dir, "client.crt");
  const csr = join(dir, "client.csr");
  const ext = join(dir, "client.ext");
  await writeFile(ext, "basicConstraints = critical,CA:FALSE\nextendedKeyUsage = clientAuth\n");
  const ossl = async (args: string[]) => {
    const r = await run("openssl", args, { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
  };
  await ossl(
    ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"].concat([
      "-keyout",
      keyFile,
      "-out",
      csr,
      "-subj",
      "/CN=pull-secrets-test/O=system:masters",
    ]),
  );
  await ossl(
    ["x509", "-req", "-in", csr, "-CA", ca.certFile, "-CAkey", ca.keyFile, "-CAcreateserial"].concat([
      "-out",
      certFile,
      "-days",
      "2",
      "-sha256",
      "-extfile",
      ext,
    ]),
  );
  return { certFile, keyFile };
};

describe("pull-secrets: cluster CA, client certificate, token and proxy-url on both programs", () => {
  let kube: FakeKube;
  let aws: FakeAws;
  let proxy: Tinyproxy;
  let work = "";
  let ca: Ca;
  let client: { certFile: string; keyFile: string };
  let cfg = "";
  // An "API server" that accepts connections and never says a word (a hung apiserver, a dead LB).
  let silent: Server;
  const sockets: Socket[] = [];

  before(async () => {
    silent = createServer((s) => {
      s.on("error", () => {});
      sockets.push(s);
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    work = await tmpTree(undefined);
    ca = await makeCa(work);
    const leaf = await issueCert(ca, ["127.0.0.1"]);
    client = await clientCert(ca, work);
    // The server demands a client certificate signed by the CA (and the bearer token, as always).
    const tls = { key: leaf.keyPem, cert: leaf.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true };
    kube = await startFakeKube({ tls });
    kube.addNamespace("team-a");
    aws = await startFakeAws({ keys: { [AKID]: SECRET } });
    proxy = await startTinyproxy(work, []);
    cfg = join(work, "pull-secrets.yaml");
    await writeFile(cfg, `registries: [${HOST}]\nnamespaces: { include: ["team-*"] }\n`);
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    silent?.close();
    proxy?.close();
    await kube?.close();
    await aws?.close();
  });

  /** A kubeconfig: CA as data, certificate and key as files (both ways the library reads). */
  const kubeconfig = async (name: string, o: { ca?: boolean; cert?: boolean; proxyUrl?: string; server?: string }) => {
    const file = join(work, name);
    const cluster: Record<string, string> = { server: o.server ?? kube.url };
    if (o.ca) cluster["certificate-authority-data"] = Buffer.from(ca.certPem).toString("base64");
    if (o.proxyUrl) cluster["proxy-url"] = o.proxyUrl;
    const user: Record<string, string> = { token: kube.token };
    if (o.cert) Object.assign(user, { "client-certificate": client.certFile, "client-key": client.keyFile });
    await writeFile(
      file,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster }],
        users: [{ name: "u", user }],
        contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
        "current-context": "x",
      }),
    );
    return file;
  };

  for (const [program, bin] of [
    ["executable", EXECUTABLE],
    ["Node launcher", LAUNCHER],
  ] as const) {
    const once = async (kc: string, extra: Record<string, string> = {}) =>
      runCli(
        ["pull-secrets", "--kubeconfig", kc, "--config", cfg, "--once"],
        "",
        { ...baseEnv(await tmpTree(undefined)), ...awsEnv(aws, AKID, SECRET), ...extra },
        { bin },
      );
    const kubePort = () => new URL(kube.url).port;

    test(`${program}: the kubeconfig's CA and client certificate are used; without either, no API call succeeds`, async () => {
      kube.remove("secrets", "team-a", NAME);
      const before = kube.requests.length;
      const noCa = await once(await kubeconfig("no-ca.json", { cert: true }));
      assert.notEqual(noCa.code, 0, "a server certificate from an untrusted CA must fail");
      const noCert = await once(await kubeconfig("no-cert.json", { ca: true }));
      assert.notEqual(noCert.code, 0, "the server demands a client certificate");
      assert.equal(kube.requests.length, before, "no request got through TLS");
      assert.equal(kube.get("secrets", "team-a", NAME), undefined);

      const ok = await once(await kubeconfig("mtls.json", { ca: true, cert: true }));
      assert.equal(ok.code, 0, ok.stderr);
      assert.ok(kube.get("secrets", "team-a", NAME), "the secret was written");
      assert.ok(
        kube.requests.slice(before).every((r) => r.auth === `Bearer ${kube.token}`),
        "every call carried the bearer token",
      );
    });

    test(`${program}: an API server that refuses, or never answers: one line naming it, exit 1, at the request deadline`, async () => {
      // A port nothing listens on (one just closed; fetch refuses well-known ones such as 9 itself).
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
      const refused = `https://127.0.0.1:${(closed.address() as { port: number }).port}`;
      await new Promise((resolve) => closed.close(resolve));
      const r = await once(await kubeconfig("refused.json", { ca: true, cert: true, server: refused }));
      assert.equal(r.code, 1, r.stderr);
      assert.equal(
        r.stderr.trim().split("\n").at(-1),
        `docker-credential-cloud: pull-secrets: cannot reach the Kubernetes API at ${refused}: ECONNREFUSED`,
      );
      const hung = `https://127.0.0.1:${(silent.address() as { port: number }).port}`;
      const h = await once(await kubeconfig("hung.json", { ca: true, cert: true, server: hung }), {
        DOCKER_CREDENTIAL_CLOUD_TIMEOUT: "1",
      });
      assert.equal(h.code, 1, h.stderr);
      assert.equal(
        h.stderr.trim().split("\n").at(-1),
        `docker-credential-cloud: pull-secrets: cannot reach the Kubernetes API at ${hung}: no answer within 1 s`,
      );
    });

    test(`${program}: HTTPS_PROXY is for the cloud calls; the API server is reached directly unless proxy-url says otherwise`, async () => {
      const mtls = await kubeconfig("mtls.json", { ca: true, cert: true });
      await proxy.take();
      const direct = await once(mtls, { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url });
      assert.equal(direct.code, 0, direct.stderr);
      const logged = await proxy.take();
      assert.ok(
        logged.some((l) => l.includes(new URL(aws.url).host)),
        `the cloud call went through the proxy: ${logged.join("; ")}`,
      );
      assert.deepEqual(
        logged.filter((l) => l.includes(`:${kubePort()}`)),
        [],
        "the API server was reached through HTTPS_PROXY",
      );

      const viaProxy = await once(await kubeconfig("proxied.json", { ca: true, cert: true, proxyUrl: proxy.url }));
      assert.equal(viaProxy.code, 0, viaProxy.stderr);
      const seen = await proxy.take();
      assert.ok(seen.includes(`CONNECT 127.0.0.1:${kubePort()} HTTP/1.1`), `proxy log: ${seen.join("; ")}`);
    });
  }
});
