// Proves the e2e harness with real clients only (no product code):
//   - a real docker-registry answering as an ECR host name, pulled by skopeo through a
//     docker-credential-* helper named in the auth file's credHelpers;
//   - the MITM proxy answering for oauth2.googleapis.com via curl and a Node child.
// Run: node_modules/.bin/node --test test/e2e/harness.test.ts   (as root; skips otherwise)
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { OciImageInfo } from "../support/image.ts";
import { readOciImage } from "../support/image.ts";
import { startMitmProxy } from "../support/mitm.ts";
import type { RunResult } from "../support/namespace.ts";
import { e2eSkip, run, which } from "../support/namespace.ts";
import type { Registry } from "../support/registry.ts";
import { pushImage, skopeoPull, startRegistry } from "../support/registry.ts";
import type { Ca } from "../support/tls.ts";
import { makeCa } from "../support/tls.ts";

const ECR_HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const REGISTRY_IP = "127.0.0.2"; // unique per test file: files run in parallel and each registry binds <ip>:443
const REPO = "harness/hello";
const NODE = join(import.meta.dirname, "..", "..", "node_modules", ".bin", "node");
const AUTH_ERROR = /authentication required|unauthorized/i;

const registrySkip = e2eSkip(["skopeo", "docker-registry", "htpasswd", "openssl"]);

/** Single-quotes a value for embedding in a generated shell script. */
function shq(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Writes bin/docker-credential-<name>: answers `get` with Username AWS + `secret`, logging each host asked for. */
async function writeHelper(binDir: string, name: string, secret: string, logFile: string): Promise<void> {
  const file = join(binDir, `docker-credential-${name}`);
  await writeFile(
    file,
    [
      "#!/bin/sh",
      "# test-only docker credential helper (docker-credential-helpers protocol, `get` only)",
      '[ "$1" = get ] || { echo "unsupported action: $1" >&2; exit 1; }',
      'IFS= read -r host || [ -n "$host" ]',
      `printf '%s\\n' "$host" >> ${shq(logFile)}`,
      `printf '{"ServerURL":"%s","Username":"AWS","Secret":"%s"}\\n' "$host" ${shq(secret)}`,
      "",
    ].join("\n"),
  );
  await chmod(file, 0o700);
}

describe("registry harness: skopeo pulls through a credential helper", {
  skip: registrySkip,
}, () => {
  let work = "";
  let registry: Registry | undefined;
  let pushed: OciImageInfo;
  let binDir = "";
  let helperLog = "";
  let pulls = 0;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "dcc-harness-"));
    const ca = await makeCa(await mkdirp(join(work, "ca")));
    const password = `pw-${randomBytes(24).toString("hex")}`; // differs within bcrypt's first 72 bytes
    registry = await startRegistry({
      ca,
      ip: REGISTRY_IP,
      hostnames: [ECR_HOST],
      users: { AWS: password },
    });
    pushed = await pushImage(registry, `${ECR_HOST}/${REPO}:latest`, "AWS", password);
    binDir = await mkdirp(join(work, "bin"));
    helperLog = join(work, "helper.log");
    await writeFile(helperLog, "");
    await writeHelper(binDir, "harnesstest", password, helperLog);
    await writeHelper(binDir, "harnesstestwrong", `pw-${randomBytes(24).toString("hex")}`, helperLog);
  });

  after(async () => {
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function mkdirp(dir: string): Promise<string> {
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /** skopeo copy docker://ECR_HOST/REPO:latest → a fresh oci: dir, with the given auth file contents. */
  async function pull(auth: object): Promise<{ r: RunResult; dest: string }> {
    const n = ++pulls;
    const home = await mkdirp(join(work, `home${n}`)); // empty HOME: no ~/.docker fallbacks
    assert.ok(registry);
    return skopeoPull(registry, {
      image: `${ECR_HOST}/${REPO}:latest`,
      auth,
      dir: work,
      env: { PATH: `${binDir}:${process.env.PATH ?? "/usr/bin:/bin"}`, HOME: home, TMPDIR: home },
    });
  }

  test("credHelpers entry → helper is asked for the ECR host and the pull returns the pushed image", async () => {
    const logBefore = await readFile(helperLog, "utf8");
    const { r, dest } = await pull({
      credHelpers: { [ECR_HOST]: "harnesstest" },
    });
    assert.equal(r.code, 0, `skopeo failed: ${r.stderr}\nregistry log:\n${registry?.logs().slice(-2000)}`);
    const img = await readOciImage(dest, "x");
    assert.equal(img.manifestDigest, pushed.manifestDigest);
    assert.equal(img.files.get("hello.txt")?.toString("utf8"), pushed.hello);
    const asked = (await readFile(helperLog, "utf8")).slice(logBefore.length).trim().split("\n");
    assert.ok(asked.length >= 1 && asked.every((h) => h === ECR_HOST), `helper was asked for: ${asked.join(", ")}`);
  });

  test("empty auth file → the same pull fails with an authentication error", async () => {
    const logBefore = await readFile(helperLog, "utf8");
    const { r } = await pull({});
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, AUTH_ERROR);
    assert.equal(await readFile(helperLog, "utf8"), logBefore, "no helper should have run");
  });

  test("helper returning a wrong password → authentication error", async () => {
    const { r } = await pull({
      credHelpers: { [ECR_HOST]: "harnesstestwrong" },
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, AUTH_ERROR);
  });
});

describe("mitm proxy: real host names, fake answers", () => {
  let work = "";
  let ca: Ca;
  let proxy: Awaited<ReturnType<typeof startMitmProxy>> | undefined;
  const seen: { host: string; method: string; url: string; body: string }[] = [];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "dcc-mitm-"));
    ca = await makeCa(work);
    proxy = await startMitmProxy({
      ca,
      handler: async (req, res, host) => {
        let body = "";
        for await (const chunk of req) body += chunk;
        seen.push({ host, method: req.method ?? "", url: req.url ?? "", body });
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            access_token: "fake-token",
            expires_in: 3599,
            token_type: "Bearer",
            host,
          }),
        );
      },
    });
  });

  after(async () => {
    await proxy?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  // Proxy-related variables a developer may have set must not leak into children.
  function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
    return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: work, ...extra };
  }

  test("curl → CONNECT oauth2.googleapis.com:443 is terminated with a CA-trusted leaf", {
    skip: which("curl") ? false : "curl not installed",
  }, async () => {
    assert.ok(proxy);
    const r = await run(
      "curl",
      [
        "-sS",
        "--fail",
        "--proxy",
        proxy.url,
        "--cacert",
        ca.certFile,
        "-d",
        "grant_type=refresh_token",
        "https://oauth2.googleapis.com/token",
      ],
      { env: childEnv({}), timeoutMs: 20_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).access_token, "fake-token");
    assert.ok(proxy.connects.includes("oauth2.googleapis.com:443"), `connects: ${proxy.connects.join(", ")}`);
    assert.ok(
      seen.some(
        (s) =>
          s.host === "oauth2.googleapis.com" &&
          s.method === "POST" &&
          s.url === "/token" &&
          s.body === "grant_type=refresh_token",
      ),
    );
  });

  test("curl → plain absolute-URI proxy request reaches the handler with a path-only url", {
    skip: which("curl") ? false : "curl not installed",
  }, async () => {
    assert.ok(proxy);
    const r = await run(
      "curl",
      ["-sS", "--fail", "--proxy", proxy.url, "http://metadata.google.internal/computeMetadata/v1/?a=1"],
      {
        env: childEnv({}),
        timeoutMs: 20_000,
      },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.ok(
      seen.some(
        (s) => s.host === "metadata.google.internal" && s.method === "GET" && s.url === "/computeMetadata/v1/?a=1",
      ),
    );
  });

  test("node child with HTTPS_PROXY + NODE_USE_ENV_PROXY + NODE_EXTRA_CA_CERTS → login.microsoftonline.com", async () => {
    assert.ok(proxy);
    const script = `
      const https = require("node:https");
      const req = https.request("https://login.microsoftonline.com/tenant/oauth2/v2.0/token", { method: "POST" }, (res) => {
        let b = ""; res.on("data", (c) => b += c); res.on("end", () => { process.stdout.write(res.statusCode + " " + b); });
      });
      req.on("error", (e) => { console.error(e.message); process.exit(2); });
      req.end("client_id=x");`;
    const r = await run(NODE, ["-e", script], {
      env: childEnv({
        HTTPS_PROXY: proxy.url,
        NODE_USE_ENV_PROXY: "1",
        NODE_EXTRA_CA_CERTS: ca.certFile,
      }),
      timeoutMs: 20_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^200 /);
    assert.equal(JSON.parse(r.stdout.slice(4)).host, "login.microsoftonline.com");
    assert.ok(proxy.connects.includes("login.microsoftonline.com:443"), `connects: ${proxy.connects.join(", ")}`);
    assert.ok(
      seen.some(
        (s) =>
          s.host === "login.microsoftonline.com" && s.url === "/tenant/oauth2/v2.0/token" && s.body === "client_id=x",
      ),
    );
  });
});
