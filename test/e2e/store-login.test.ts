// End to end: `docker login` / `docker logout` with "credsStore": "cloud" store and erase through
// the BUILT helper (file backend: no D-Bus here), and skopeo then pulls from a real
// docker-registry with what was stored, while an ECR host on the same registry keeps getting
// fresh tokens from the (fake) cloud. Host names resolve to 127.0.0.6 only inside a private mount
// namespace. The Docker CLI logs in client-side when no daemon answers, which is what runs here.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { BIN, type CliResult, runCli } from "../support/cli.ts";
import { awsEnv, type FakeAws, startFakeAws } from "../support/fake-aws.ts";
import { type OciImageInfo, readOciImage } from "../support/image.ts";
import { e2eSkip, runWithHosts, which } from "../support/namespace.ts";
import { pushImage, type Registry, skopeoPull, startRegistry } from "../support/registry.ts";
import { makeCa } from "../support/tls.ts";
import { tmpTree } from "../support/tmp.ts";

/** The JSON a successful CLI run printed (the assertion shows everything when it did not succeed). */
const out = (r: CliResult) => {
  assert.equal(r.code, 0, `exit ${r.code}; stdout: ${r.stdout}; stderr: ${r.stderr}`);
  return JSON.parse(r.stdout);
};

const IP = "127.0.0.6";
const PRIVATE = "registry.store-e2e.test";
const ECR = "345678901234.dkr.ecr.eu-central-1.amazonaws.com";
// One registry serves both names from one storage: the repositories must differ.
const REPO: Record<string, string> = {
  "registry.store-e2e.test": "team/private",
  "345678901234.dkr.ecr.eu-central-1.amazonaws.com": "team/ecr",
};
const AKID = "AKIAFAKESTOREE2E0001";
const AWS_SECRET = "fake-store-e2e-secret";
const ECR_PASSWORD = `pw-eu-central-1-${AKID}`; // what the fake ECR issues (see fake-aws.ts)
const AUTH_ERROR = /authentication required|unauthorized/i;

const skip = e2eSkip(["skopeo", "docker-registry", "htpasswd", "openssl"]);

describe("docker login/logout with credsStore: cloud, then pulls", { skip }, () => {
  let aws: FakeAws;
  let registry: Registry | undefined;
  let work = "";
  let caFile = "";
  const password = `alice-${randomBytes(24).toString("hex")}`; // differs within bcrypt's 72 bytes
  const pushed: Record<string, OciImageInfo> = {};

  before(async () => {
    work = await tmpTree(undefined);
    aws = await startFakeAws({ keys: { [AKID]: AWS_SECRET } });
    await mkdir(join(work, "ca"));
    const ca = await makeCa(join(work, "ca"));
    caFile = ca.certFile;
    registry = await startRegistry({
      ca,
      ip: IP,
      hostnames: [PRIVATE, ECR],
      users: { alice: password, AWS: ECR_PASSWORD },
    });
    pushed[PRIVATE] = await pushImage(registry, `${PRIVATE}/${REPO[PRIVATE]}:v1`, "alice", password, {
      hello: "private",
    });
    pushed[ECR] = await pushImage(registry, `${ECR}/${REPO[ECR]}:v1`, "AWS", ECR_PASSWORD, { hello: "ecr" });
    await mkdir(join(work, "bin"));
    await symlink(BIN, join(work, "bin", "docker-credential-cloud"));
  });
  after(async () => {
    await registry?.stop();
    await aws?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** The helper's environment (docker and skopeo pass theirs on): HOME with the store and the cache. */
  const helperEnv = (home: string): Record<string, string> => ({
    PATH: `${join(work, "bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_CACHE_HOME: join(home, ".cache"),
    XDG_DATA_HOME: join(home, ".local", "share"),
    TMPDIR: home,
    AWS_EC2_METADATA_DISABLED: "true",
    NODE_EXTRA_CA_CERTS: "",
    ...awsEnv(aws, AKID, AWS_SECRET),
  });

  const pull = async (home: string, host: string) => {
    assert.ok(registry);
    return skopeoPull(registry, {
      image: `${host}/${REPO[host]}:v1`,
      // skopeo reads credHelpers (not credsStore): both registries go to the same helper.
      auth: { credHelpers: { [PRIVATE]: "cloud", [ECR]: "cloud" } },
      dir: work,
      env: helperEnv(home),
    });
  };

  const pulledImage = async (home: string, host: string) => {
    const { r, dest } = await pull(home, host);
    assert.equal(r.code, 0, `skopeo pull from ${host}: ${r.stderr}\n${registry?.logs().slice(-1500)}`);
    const img = await readOciImage(dest, "x");
    assert.equal(img.manifestDigest, pushed[host]?.manifestDigest);
    return img;
  };

  test("docker login stores, pulls use it, ECR still gets fresh tokens, docker logout erases", {
    skip: which("docker") ? false : "no docker CLI on PATH",
  }, async () => {
    const home = join(work, "docker-home");
    const dockerConfig = join(home, ".docker");
    await mkdir(dockerConfig, { recursive: true });
    await writeFile(join(dockerConfig, "config.json"), JSON.stringify({ credsStore: "cloud" }));
    assert.ok(registry);
    const docker = (args: string[], input?: string) =>
      runWithHosts(registry?.hosts ?? {}, "docker", args, {
        env: { ...helperEnv(home), DOCKER_CONFIG: dockerConfig, SSL_CERT_FILE: caFile },
        timeoutMs: 60_000,
        ...(input === undefined ? {} : { input }),
      });

    const wrong = await docker(["login", "--username", "alice", "--password-stdin", PRIVATE], "not-the-password");
    assert.notEqual(wrong.code, 0, "a wrong password is refused by the registry");
    assert.deepEqual(out(await runCli(["list"], "", helperEnv(home))), {}, "and nothing is stored");

    const login = await docker(["login", "--username", "alice", "--password-stdin", PRIVATE], password);
    assert.equal(login.code, 0, `docker login: ${login.stdout}${login.stderr}`);
    assert.match(login.stdout, /Login Succeeded/);
    assert.doesNotMatch(await readFile(join(dockerConfig, "config.json"), "utf8"), new RegExp(password));
    const listed = out(await runCli(["list"], "", helperEnv(home)));
    assert.deepEqual(Object.values(listed), ["alice"]);
    assert.equal(Object.keys(listed).length, 1);

    const img = await pulledImage(home, PRIVATE);
    assert.equal(img.files.get("hello.txt")?.toString(), "private");
    const calls = aws.calls.ecr ?? 0;
    const ecrImg = await pulledImage(home, ECR);
    assert.equal(ecrImg.files.get("hello.txt")?.toString(), "ecr");
    assert.equal(aws.calls.ecr, calls + 1, "the ECR host went to the cloud, not to the stored login");
    assert.deepEqual(aws.badSignatures, []);

    const logout = await docker(["logout", PRIVATE]);
    assert.equal(logout.code, 0, `docker logout: ${logout.stdout}${logout.stderr}`);
    assert.deepEqual(out(await runCli(["list"], "", helperEnv(home))), { [ECR]: "AWS" });
    const { r } = await pull(home, PRIVATE);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, AUTH_ERROR);
  });

  test("skopeo login/logout (credHelpers → cloud) store and erase the same way", async () => {
    const home = join(work, "skopeo-home");
    await mkdir(home, { recursive: true });
    const authfile = join(work, "skopeo-auth.json");
    await writeFile(authfile, JSON.stringify({ credHelpers: { [PRIVATE]: "cloud" } }));
    const skopeo = (args: string[], input?: string) =>
      runWithHosts(registry?.hosts ?? {}, "skopeo", args, {
        env: helperEnv(home),
        timeoutMs: 60_000,
        ...(input === undefined ? {} : { input }),
      });
    assert.ok(registry);
    const login = await skopeo(
      [
        "login",
        "--authfile",
        authfile,
        "--cert-dir",
        registry.certDir,
        "--username",
        "alice",
        "--password-stdin",
        PRIVATE,
      ],
      password,
    );
    assert.equal(login.code, 0, `skopeo login: ${login.stdout}${login.stderr}`);
    assert.doesNotMatch(await readFile(authfile, "utf8"), new RegExp(password), "the secret went to the helper");
    assert.deepEqual(out(await runCli(["list"], "", helperEnv(home))), { [PRIVATE]: "alice" });
    const img = await pulledImage(home, PRIVATE);
    assert.equal(img.files.get("hello.txt")?.toString(), "private");

    const logout = await skopeo(["logout", "--authfile", authfile, PRIVATE]);
    assert.equal(logout.code, 0, `skopeo logout: ${logout.stdout}${logout.stderr}`);
    assert.deepEqual(out(await runCli(["list"], "", helperEnv(home))), {});
    const { r } = await pull(home, PRIVATE);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, AUTH_ERROR);
  });
});
