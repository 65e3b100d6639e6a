// End to end: skopeo pulls a private image from a real docker-registry answering as an ECR host,
// with credentials from the BUILT helper (credHelpers → docker-credential-cloud → fake ECR).
// The ECR host name resolves to loopback only inside a private mount namespace.
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { awsEnv, type FakeAws } from "../support/fake-aws.ts";
import { type OciImageInfo, readOciImage } from "../support/image.ts";
import { e2eSkip } from "../support/namespace.ts";
import { type PrivateEcr, startPrivateEcr } from "../support/private-ecr.ts";
import { type Registry, skopeoPull } from "../support/registry.ts";

const HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const IP = "127.0.0.3";
const REPO = "team/app";
const AKID = "AKIAFAKEE2ETESTKEY01";
const SECRET = "fake-e2e-secret";
// What the fake ECR issues for this identity and region (see fake-aws.ts).
const PASSWORD = `pw-us-east-1-${AKID}`;

const skip = e2eSkip(["skopeo", "docker-registry", "htpasswd", "openssl"]);

describe("skopeo pulls from ECR through docker-credential-cloud", { skip }, () => {
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

  const pull = async (name: string, auth: object, helperHome = "helper-home") => {
    const home = join(work, name);
    await mkdir(home, { recursive: true });
    assert.ok(registry);
    return skopeoPull(registry, {
      image: `${HOST}/${REPO}:v1`,
      auth,
      dir: work,
      env: {
        PATH: `${join(work, "bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`,
        HOME: join(work, helperHome), // the token cache lives here
        TMPDIR: home,
        AWS_EC2_METADATA_DISABLED: "true",
        NODE_EXTRA_CA_CERTS: "",
        ...awsEnv(fake, AKID, SECRET),
      },
    });
  };

  test("the pull succeeds through credHelpers and returns the pushed image; a second pull is a cache hit", async () => {
    fake.calls = {};
    const { r, dest } = await pull("with-helper", { credHelpers: { [HOST]: "cloud" } });
    assert.equal(r.code, 0, `skopeo: ${r.stderr}\n${registry?.logs().slice(-1500)}`);
    const img = await readOciImage(dest, "x");
    assert.equal(img.manifestDigest, pushed.manifestDigest);
    assert.equal(img.files.get("hello.txt")?.toString(), pushed.hello);
    assert.equal(fake.calls.ecr, 1);
    assert.ok(!r.stderr.includes(PASSWORD));
    const again = await pull("again", { credHelpers: { [HOST]: "cloud" } });
    assert.equal(again.r.code, 0, again.r.stderr);
    assert.equal(fake.calls.ecr, 1, "served from the token cache");
  });

  test("without the helper the same pull is refused", async () => {
    const { r } = await pull("without-helper", {});
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /authentication required|unauthorized/i);
  });

  test("when ECR refuses the identity (cold cache), the pull fails and skopeo shows our one-line reason", async () => {
    fake.mode = "deny";
    try {
      const { r } = await pull("denied", { credHelpers: { [HOST]: "cloud" } }, "cold-home");
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /AccessDeniedException/);
    } finally {
      fake.mode = "ok";
    }
  });
});
