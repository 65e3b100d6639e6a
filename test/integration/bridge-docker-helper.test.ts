// Docker helpers → the kubelet: our built binary with args ["kubelet", "--docker-helper", NAME]
// fronts a real Docker-helper program (a shell script on PATH) and its answers are read by the
// kubelet-faithful checker — what the kubelet would accept and hand to the runtime.
import assert from "node:assert/strict";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { baseEnv, runCli } from "../support/cli.ts";
import { checkRun } from "../support/kubelet-checker.ts";
import { sq } from "../support/scripts.ts";
import { tmpTree } from "../support/tmp.ts";

const V1 = "credentialprovider.kubelet.k8s.io/v1";
const request = (image: string) => `${JSON.stringify({ kind: "CredentialProviderRequest", apiVersion: V1, image })}\n`;

const helperEnv = async (t: Parameters<typeof tmpTree>[0], body: string) => {
  const home = await tmpTree(t, {});
  const bin = join(home, "bin");
  await mkdir(bin);
  const file = join(bin, "docker-credential-thirdparty");
  await writeFile(
    file,
    `#!/bin/sh\nread -r server || true\nprintf '%s\\n' "$server" >> ${sq(join(home, "asked"))}\n${body}`,
  );
  await chmod(file, 0o755);
  const env = { ...baseEnv(home), PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}` };
  return { home, env };
};

const ARGS = ["kubelet", "--docker-helper", "thirdparty"];

describe("Docker helper fronted for the kubelet", () => {
  test("credentials become a strictly valid response the kubelet uses; Docker Hub is asked as Docker asks", async (t) => {
    const { home, env } = await helperEnv(
      t,
      `printf '{"ServerURL":"%s","Username":"u","Secret":"s3cret"}\\n' "$server"\n`,
    );
    const r = await runCli(ARGS, request("reg.example.com:5000/team/app"), env);
    const c = checkRun(r, { apiVersion: V1, image: "reg.example.com:5000/team/app" });
    assert.deepEqual(c.lookup, [{ username: "u", password: "s3cret" }]);
    assert.equal(c.response.cacheDuration, null, "no expiry known: the provider's defaultCacheDuration applies");
    const hub = await runCli(ARGS, request("docker.io/library/nginx"), env);
    assert.deepEqual(checkRun(hub, { apiVersion: V1, image: "docker.io/library/nginx" }).lookup, [
      { username: "u", password: "s3cret" },
    ]);
    assert.deepEqual((await readFile(join(home, "asked"), "utf8")).split("\n").filter(Boolean), [
      "reg.example.com:5000",
      "https://index.docker.io/v1/",
    ]);
    const fixed = await runCli([...ARGS, "--cache-duration", "10m"], request("reg.example.com/x"), env);
    assert.equal(checkRun(fixed, { apiVersion: V1, image: "reg.example.com/x" }).response.cacheDuration, "10m0s");
  });

  test("a JWT secret's exp becomes half its remaining life", async (t) => {
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const jwt = `e30.${Buffer.from(JSON.stringify({ exp })).toString("base64url")}.sig`;
    const { env } = await helperEnv(
      t,
      `printf '%s\\n' ${sq(JSON.stringify({ ServerURL: "x", Username: "00000000-0000-0000-0000-000000000000", Secret: jwt }))}\n`,
    );
    const c = checkRun(await runCli(ARGS, request("reg.example.com/x"), env), {
      apiVersion: V1,
      image: "reg.example.com/x",
    });
    const ns = c.response.cacheDurationNs ?? 0;
    assert.ok(ns > 1700e9 && ns <= 1800e9, `about 30m, got ${c.response.cacheDuration}`);
  });

  test("credentials not found is an empty answer cached for 0s; a failing helper is one line on stderr and exit 1", async (t) => {
    const nf = await helperEnv(t, "echo 'credentials not found in native keychain'\nexit 1\n");
    const c = checkRun(await runCli(ARGS, request("reg.example.com/x"), nf.env), {
      apiVersion: V1,
      image: "reg.example.com/x",
    });
    assert.deepEqual(c.lookup, []);
    assert.equal(c.response.cacheDuration, "0s");
    const broken = await helperEnv(t, "echo 'boom: backend down' >&2\nexit 3\n");
    const r = await runCli(ARGS, request("reg.example.com/x"), broken.env);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^docker-credential-cloud: docker-credential-thirdparty get reg\.example\.com: .*\n$/);
    const missing = await runCli(["kubelet", "--docker-helper", "absent"], request("reg.example.com/x"), broken.env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /docker-credential-absent is not on PATH/);
  });
});
