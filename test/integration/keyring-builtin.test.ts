// The BUILT library (dist/index.js, as `import "docker-credential-cloud"` loads it) with the cloud
// fetchers in play, against the SigV4-verifying fake AWS. Each case runs the library in a child
// Node process whose whole environment is hermetic (baseEnv + the fake's endpoint and keys): the
// AWS SDK reads process.env itself, so a keyring in this test process could reach real AWS.
//
// Covered: the built-in ECR fetcher in process, sharing the CLI's token cache both ways; our own
// built binary as a kubelet provider (run as a program when builtins are off, answered in process
// when on — even when the binary is not there); `"credHelpers": {…: "cloud"}` answered in process;
// identical answers from several sources returned once; importing loads no SDK, and a lookup loads
// only the one it needs.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { BIN, baseEnv, ROOT, runCli, TRACE_LOADS } from "../support/cli.ts";
import { awsEnv, type FakeAws, startFakeAws } from "../support/fake-aws.ts";
import { tmpTree } from "../support/tmp.ts";

type T = Parameters<typeof tmpTree>[0];
const HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const IMAGE = `${HOST}/team/app:1.0`;
const AKID = "AKIAFAKEKEYRINGKEY01";
const SECRET = "fake-secret-for-keyring-tests";
const PASSWORD = `pw-eu-west-1-${AKID}`;
const V1 = "credentialprovider.kubelet.k8s.io/v1";
const ENTRY = pathToFileURL(join(ROOT, "dist", "index.js")).href;
const ECR_AUTH = { serverAddress: `https://${HOST}`, username: "AWS", password: PASSWORD };

// Creates a keyring from $KR_OPTIONS (env left to default: process.env), looks up each image of
// $KR_IMAGES in turn, prints the answers as JSON.
const DRIVER = `
const { createKeyring } = await import(process.env.KR_ENTRY);
const k = createKeyring(JSON.parse(process.env.KR_OPTIONS || "{}"));
const out = [];
for (const image of JSON.parse(process.env.KR_IMAGES || "[]")) out.push(await k.lookup(image));
await k.close();
process.stdout.write(JSON.stringify(out));
`;

interface Run {
  code: number | null;
  answers: { serverAddress: string; username?: string; password?: string }[][];
  stderr: string;
}

const drive = async (
  env: Record<string, string>,
  images: string[],
  options: Record<string, unknown> = {},
): Promise<Run> => {
  const r = await runCli(
    ["--input-type=module", "-e", DRIVER],
    "",
    { ...env, KR_ENTRY: ENTRY, KR_IMAGES: JSON.stringify(images), KR_OPTIONS: JSON.stringify(options) },
    { bin: process.execPath },
  );
  let answers: Run["answers"] = [];
  try {
    answers = JSON.parse(r.stdout);
  } catch {
    // reported by the assertion on code/stdout below
  }
  return { code: r.code, answers, stderr: r.stderr };
};

let fake: FakeAws;
before(async () => {
  fake = await startFakeAws({ keys: { [AKID]: SECRET } });
});
after(() => fake.close());

const reset = () => fake.reset();

const nodeEnv = async (t: T): Promise<{ home: string; env: Record<string, string> }> => {
  const home = await tmpTree(t);
  return { home, env: { ...baseEnv(home), ...awsEnv(fake, AKID, SECRET), DOCKER_CREDENTIAL_CLOUD_LOG: "debug" } };
};

const ok = (r: Run) => {
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!r.stderr.includes(PASSWORD) && !r.stderr.includes(SECRET), "no secret in the logs");
  return r.answers;
};

const kubeletConfig = async (dir: string, providers: Record<string, unknown>[]) => {
  const file = join(dir, "credential-providers.json");
  await writeFile(
    file,
    JSON.stringify({
      apiVersion: "kubelet.config.k8s.io/v1",
      kind: "CredentialProviderConfig",
      providers: providers.map((p) => ({
        matchImages: ["*.dkr.ecr.*.amazonaws.com"],
        defaultCacheDuration: "10m",
        apiVersion: V1,
        args: ["kubelet"],
        ...p,
      })),
    }),
  );
  return file;
};

describe("keyring: built-in fetchers", () => {
  test("ECR in process, through the token cache the CLI shares", async (t) => {
    reset();
    const { env } = await nodeEnv(t);
    const first = ok(await drive(env, [IMAGE, `${HOST}/other:2`, "quay.io/app"]));
    assert.deepEqual(first, [[ECR_AUTH], [ECR_AUTH], []]);
    assert.equal(fake.calls.ecr, 1, "one GetAuthorizationToken for the registry");
    assert.deepEqual(fake.badSignatures, []);
    assert.deepEqual(JSON.parse(fake.requests[0]?.body ?? ""), { registryIds: ["123456789012"] });

    // Another process (the CLI, as docker would run it) finds the token the library cached.
    const cli = await runCli(["get"], HOST, env);
    assert.equal(cli.code, 0, cli.stdout);
    assert.equal(JSON.parse(cli.stdout).Secret, PASSWORD);
    assert.equal(fake.calls.ecr, 1, "a cache hit for the CLI");
  });

  test("builtins: false never fetches", async (t) => {
    reset();
    const { env } = await nodeEnv(t);
    assert.deepEqual(ok(await drive(env, [IMAGE], { builtins: false })), [[]]);
    assert.equal(fake.calls.ecr, undefined);
  });

  test("importing loads no cloud SDK; a lookup loads only the SDK it needs", async (t) => {
    reset();
    const { home, env } = await nodeEnv(t);
    const traced = (name: string) => ({
      ...env,
      NODE_OPTIONS: `--import ${TRACE_LOADS}`,
      DCC_TRACE_LOADS: join(home, name),
    });
    ok(await drive(traced("import.txt"), []));
    ok(await drive(traced("other.txt"), ["quay.io/app", "nginx"]));
    ok(await drive(traced("ecr.txt"), [IMAGE]));
    const SDKS = /@aws-sdk|@smithy|google-auth-library|@azure|@napi-rs/;
    for (const name of ["import.txt", "other.txt"]) {
      const loads = await readFile(join(home, name), "utf8");
      assert.match(loads, /dist\/index\.js/, "the tracer saw the library");
      assert.doesNotMatch(loads, SDKS, name);
    }
    const ecr = await readFile(join(home, "ecr.txt"), "utf8");
    assert.match(ecr, /@aws-sdk\/client-ecr\//, "the ECR lookup loaded the ECR SDK");
    assert.doesNotMatch(ecr, /google-auth-library|@azure/, "and no other cloud's");
  });
});

describe("keyring: this program where a config names it", () => {
  test("the built binary as a kubelet provider, run as a program when builtins are off", async (t) => {
    reset();
    const { home, env } = await nodeEnv(t);
    const bin = join(home, "plugins");
    await mkdir(bin);
    await symlink(BIN, join(bin, "ecr-credential-provider"));
    const cacheDir = join(home, "plugin-cache");
    const config = await kubeletConfig(home, [
      { name: "ecr-credential-provider", env: [{ name: "DOCKER_CREDENTIAL_CLOUD_CACHE_DIR", value: cacheDir }] },
    ]);
    const r = await drive(env, [IMAGE, `${HOST}/other`], {
      kubeletConfig: config,
      kubeletBinDir: bin,
      builtins: false,
      dockerConfig: false,
    });
    assert.deepEqual(ok(r), [[ECR_AUTH], [ECR_AUTH]]);
    assert.equal(fake.calls.ecr, 1, "the second image is served from the kubelet-style Registry cache");
    assert.ok(existsSync(join(cacheDir, "tokens.json")), "the program ran with the provider's env");
    assert.doesNotMatch(r.stderr, /answered in process/);
  });

  test("answered in process when builtins are on — no binary needed, the provider's cache dir honoured", async (t) => {
    reset();
    const { home, env } = await nodeEnv(t);
    const bin = join(home, "plugins"); // empty: the CSI pod does not carry the node's binary
    await mkdir(bin);
    const cacheDir = join(home, "plugin-cache");
    const config = await kubeletConfig(home, [
      { name: "docker-credential-cloud", env: [{ name: "DOCKER_CREDENTIAL_CLOUD_CACHE_DIR", value: cacheDir }] },
    ]);
    const r = await drive(env, [IMAGE], { kubeletConfig: config, kubeletBinDir: bin, dockerConfig: false });
    assert.deepEqual(ok(r), [[ECR_AUTH]], "the provider and the built-in fetcher agree: one answer");
    assert.match(r.stderr, /kubelet provider docker-credential-cloud is docker-credential-cloud: answered in process/);
    assert.ok(existsSync(join(cacheDir, "tokens.json")), "the provider's DOCKER_CREDENTIAL_CLOUD_CACHE_DIR was used");
  });

  test("recognised by the file a provider name links to", async (t) => {
    reset();
    const { home, env } = await nodeEnv(t);
    const bin = join(home, "plugins");
    await mkdir(bin);
    await symlink(BIN, join(bin, "ecr-provider"));
    const config = await kubeletConfig(home, [{ name: "ecr-provider" }]);
    const r = await drive(env, [IMAGE], { kubeletConfig: config, kubeletBinDir: bin, dockerConfig: false });
    assert.deepEqual(ok(r), [[ECR_AUTH]]);
    assert.match(r.stderr, /kubelet provider ecr-provider is docker-credential-cloud: answered in process/);
    assert.equal(fake.calls.ecr, 1);
  });

  test('"credHelpers": {host: "cloud"} is answered in process, or by the program on PATH when builtins are off', async (t) => {
    reset();
    const { home, env } = await nodeEnv(t);
    await mkdir(join(home, ".docker"));
    await writeFile(join(home, ".docker", "config.json"), JSON.stringify({ credHelpers: { [HOST]: "cloud" } }));
    const inProcess = await drive(env, [IMAGE]); // PATH has no docker-credential-cloud
    assert.deepEqual(ok(inProcess), [[ECR_AUTH]]);
    assert.doesNotMatch(inProcess.stderr, /warn/);
    assert.match(
      inProcess.stderr,
      new RegExp(`debug: docker-credential-cloud for ${HOST.replaceAll(".", "\\.")}: credentials`),
    );

    const pathBin = join(home, "bin");
    await mkdir(pathBin);
    await symlink(BIN, join(pathBin, "docker-credential-cloud"));
    const spawned = await drive({ ...env, PATH: `${pathBin}:${env.PATH}` }, [IMAGE], { builtins: false });
    assert.deepEqual(ok(spawned), [[ECR_AUTH]]);
    assert.equal(fake.calls.ecr, 1, "one token, cached for both");
  });
});
