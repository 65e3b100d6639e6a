// Real clients read what `configure` wrote: skopeo, podman and buildah (containers/image 5.23 in
// Debian 12) pull a private image from a real docker-registry answering as an ECR host, with
// credentials from the BUILT helper — through the registries.conf.d drop-in alone (no host listed
// anywhere), through credHelpers in the auth file, and through credHelpers in ~/.docker/config.json
// written by `configure docker`. Without configuration the same pull is refused.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { baseEnv, runCli } from "../support/cli.ts";
import { awsEnv, type FakeAws } from "../support/fake-aws.ts";
import { type OciImageInfo, readOciImage } from "../support/image.ts";
import { e2eSkip, runWithHosts, which } from "../support/namespace.ts";
import { type PrivateEcr, startPrivateEcr } from "../support/private-ecr.ts";
import { type Registry, skopeoPull } from "../support/registry.ts";

const HOST = "210987654321.dkr.ecr.eu-central-1.amazonaws.com";
const IP = "127.0.0.8";
const REPO = "shop/web";
const AKID = "AKIAFAKECONFIGURE001";
const SECRET = "fake-configure-secret";
const PASSWORD = `pw-eu-central-1-${AKID}`;

const skip = e2eSkip(["skopeo", "docker-registry", "htpasswd", "openssl"]);

describe("clients pull through what configure wrote", { skip }, () => {
  let fake: FakeAws;
  let registry: Registry;
  let pushed: OciImageInfo;
  let work = "";

  let ecr: PrivateEcr | undefined;

  before(async () => {
    ecr = await startPrivateEcr({
      host: HOST,
      ip: IP,
      image: `${REPO}:v1`,
      akid: AKID,
      secret: SECRET,
      password: PASSWORD,
    });
    ({ fake, registry, pushed, work } = ecr);
  });
  after(async () => {
    await ecr?.stop();
  });

  /** A fresh HOME, the environment skopeo and the helper share, and `configure …` run in it. */
  const home = async (name: string, ...configure: string[][]) => {
    const h = join(work, name);
    await mkdir(h, { recursive: true });
    const env = {
      ...baseEnv(h),
      PATH: `${join(work, "bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`,
      TMPDIR: h,
      ...awsEnv(fake, AKID, SECRET),
    };
    for (const args of configure) {
      const r = await runCli(["configure", ...args], "", env);
      assert.equal(r.code, 0, `configure ${args.join(" ")}: ${r.stderr}`);
    }
    return { h, env };
  };

  const pullWith = async (env: Record<string, string>, auth: object = {}) => {
    assert.ok(registry);
    const { r, dest } = await skopeoPull(registry, { image: `${HOST}/${REPO}:v1`, auth, dir: work, env });
    return { r, dest };
  };

  test("skopeo: the registries.conf.d drop-in alone (no host listed) is enough", async () => {
    const { env } = await home("drop-in", ["podman"]);
    fake.calls = {};
    const { r, dest } = await pullWith(env);
    assert.equal(fake.calls.ecr, 1, "the token came from the (fake) cloud through our helper");
    assert.equal(r.code, 0, `skopeo: ${r.stderr}\n${registry?.logs().slice(-1500)}`);
    assert.equal((await readOciImage(dest, "x")).manifestDigest, pushed.manifestDigest);
    assert.ok(!r.stderr.includes(PASSWORD));
  });

  test("skopeo: without configure the pull is refused (the control)", async () => {
    const { env } = await home("nothing");
    const { r } = await pullWith(env);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /authentication required|unauthorized/i);
  });

  test("skopeo: credHelpers in the auth file (configure podman --no-drop-in --registry)", async () => {
    const dir = await mkdtemp(join(work, "af-"));
    const authFile = join(dir, "auth.json");
    const e2 = (await home("auth-file-2")).env;
    const c = await runCli(
      ["configure", "podman", "--no-drop-in", "--registry", HOST, "--auth-file", authFile],
      "",
      e2,
    );
    assert.equal(c.code, 0, c.stderr);
    const { r } = await pullWith(e2, JSON.parse(await readFile(authFile, "utf8")));
    assert.equal(r.code, 0, `skopeo: ${r.stderr}`);
  });

  test("skopeo: credHelpers in ~/.docker/config.json written by configure docker", async () => {
    const { env } = await home("docker", ["docker", "--registry", HOST]);
    const { r } = await pullWith(env);
    assert.equal(r.code, 0, `skopeo: ${r.stderr}`);
  });

  test("skopeo login with the drop-in stores through our helper, not as a plaintext auth", async () => {
    const { h, env } = await home("login", ["podman"]);
    assert.ok(registry);
    const authFile = join(h, "run-auth.json");
    const r = await runWithHosts(
      registry.hosts,
      "skopeo",
      ["login", "--authfile", authFile, "--cert-dir", registry.certDir, "--username", "AWS", "--password-stdin", HOST],
      { env: { ...env, DOCKER_CREDENTIAL_CLOUD_STORE: "file" }, input: PASSWORD, timeoutMs: 60_000 },
    );
    assert.equal(r.code, 0, `skopeo login: ${r.stderr}`);
    const listed = await runCli(["list"], "", { ...env, DOCKER_CREDENTIAL_CLOUD_STORE: "file" });
    assert.equal(JSON.parse(listed.stdout)[HOST], "AWS", listed.stdout);
    const plain = await readFile(authFile, "utf8").catch(() => "");
    assert.ok(!plain.includes(Buffer.from(`AWS:${PASSWORD}`).toString("base64")), "no plaintext login written");
  });

  for (const tool of ["podman", "buildah"] as const) {
    test(`${tool} pull through the drop-in`, { skip: which(tool) ? false : `${tool} not installed` }, async () => {
      const { h, env } = await home(`${tool}-home`, ["podman"]);
      assert.ok(registry);
      const store = ["--root", join(h, "storage"), "--runroot", join(h, "run"), "--storage-driver", "vfs"];
      const r = await runWithHosts(
        registry.hosts,
        tool,
        [...store, "pull", "--quiet", "--cert-dir", registry.certDir, `docker://${HOST}/${REPO}:v1`],
        { env, timeoutMs: 120_000 },
      );
      assert.equal(r.code, 0, `${tool}: ${r.stderr}`);
      assert.match(r.stdout, /^[0-9a-f]{64}$/m, "the pulled image id");
    });
  }
});
