// The built CLI against a fake AWS that verifies SigV4: every identity source of the SDK's
// default chain, configured profiles and roles, ECR Public, failures, and the cache behaviour.
import assert from "node:assert/strict";
import { chmod, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { baseEnv, runCli, TRACE_LOADS } from "../support/cli.ts";
import { awsEnv, type FakeAws, STS_CREDS, startFakeAws } from "../support/fake-aws.ts";
import { tmpTree } from "../support/tmp.ts";

const HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const AKID = "AKIAFAKETESTKEY00001";
const SECRET = "fake-secret-key-for-tests-0001";

let fake: FakeAws;
before(async () => {
  fake = await startFakeAws({
    keys: { [AKID]: SECRET, AKIAFAKEPROFILEKEY01: "profile-secret" },
    containerToken: "ctr-token",
  });
});
after(() => fake.close());

const reset = () => fake.reset();

const home = (t: Parameters<typeof tmpTree>[0], files: Record<string, string> = {}) => tmpTree(t, files);

const get = (host: string, env: Record<string, string>) => runCli(["get"], `${host}\n`, env);

/** Asserts a successful get and returns the parsed answer; stderr must not leak the secret. */
const ok = (r: { code: number | null; stdout: string; stderr: string }, secret?: string) => {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stdout} ${r.stderr}`);
  const answer = JSON.parse(r.stdout) as { ServerURL: string; Username: string; Secret: string };
  assert.deepEqual(Object.keys(answer), ["ServerURL", "Username", "Secret"]);
  assert.ok(!r.stderr.includes(answer.Secret), "stderr must not contain the token");
  if (secret) assert.ok(!r.stderr.includes(secret) && !r.stdout.includes(secret));
  return answer;
};

describe("ECR through the default credential chain", () => {
  test("environment keys: signed request, token from the fake, registry id passed", async (t) => {
    reset();
    const h = await home(t);
    const r = await get(HOST, { ...baseEnv(h), ...awsEnv(fake, AKID, SECRET), DOCKER_CREDENTIAL_CLOUD_LOG: "debug" });
    const a = ok(r, SECRET);
    assert.deepEqual(a, { ServerURL: HOST, Username: "AWS", Secret: `pw-eu-west-1-${AKID}` });
    assert.equal(fake.calls.ecr, 1);
    assert.deepEqual(fake.badSignatures, []);
    assert.deepEqual(JSON.parse(fake.requests[0]?.body ?? ""), { registryIds: ["123456789012"] });
  });

  test("session token from the environment is sent", async (t) => {
    reset();
    const h = await home(t);
    const r = await get(HOST, { ...baseEnv(h), ...awsEnv(fake, AKID, SECRET), AWS_SESSION_TOKEN: "sess-123" });
    ok(r);
    assert.equal(fake.requests[0]?.sessionToken, "sess-123");
  });

  test("a named profile from the shared credentials file", async (t) => {
    reset();
    const h = await home(t, {
      ".aws/credentials": "[dev]\naws_access_key_id = AKIAFAKEPROFILEKEY01\naws_secret_access_key = profile-secret\n",
    });
    const a = ok(await get(HOST, { ...baseEnv(h), AWS_ENDPOINT_URL: fake.url, AWS_PROFILE: "dev" }), "profile-secret");
    assert.equal(a.Secret, "pw-eu-west-1-AKIAFAKEPROFILEKEY01");
  });

  test("an assume-role profile with external id: STS AssumeRole, then ECR with the session", async (t) => {
    reset();
    const h = await home(t, {
      ".aws/credentials": "[base]\naws_access_key_id = AKIAFAKEPROFILEKEY01\naws_secret_access_key = profile-secret\n",
      ".aws/config":
        "[profile xacct]\nrole_arn = arn:aws:iam::818140567777:role/ECRCrossAccountRole\nsource_profile = base\nexternal_id = ext-1\nrole_session_name = sess1\n",
    });
    const a = ok(await get(HOST, { ...baseEnv(h), AWS_ENDPOINT_URL: fake.url, AWS_PROFILE: "xacct" }));
    assert.equal(a.Secret, `pw-eu-west-1-${STS_CREDS.AssumeRole.id}`);
    const sts = fake.requests.find((r) => r.target === "AssumeRole");
    assert.equal(sts?.accessKeyId, "AKIAFAKEPROFILEKEY01");
    assert.equal(sts?.form?.get("RoleArn"), "arn:aws:iam::818140567777:role/ECRCrossAccountRole");
    assert.equal(sts?.form?.get("ExternalId"), "ext-1");
    assert.equal(
      fake.requests.find((r) => r.target.endsWith("GetAuthorizationToken"))?.sessionToken,
      STS_CREDS.AssumeRole.session,
    );
    assert.deepEqual(fake.badSignatures, []);
  });

  test("a per-registry role from the config file (cross-account pull)", async (t) => {
    reset();
    const h = await home(t, {
      ".config/docker-credential-cloud/config.yaml": [
        "registries:",
        `  - match: "*.dkr.ecr.*.amazonaws.com"`,
        "    aws:",
        "      roleArn: arn:aws:iam::818140567777:role/ECRCrossAccountRole",
        "      externalId: ext-2",
        "      roleSessionName: ci-pull",
        "",
      ].join("\n"),
    });
    const a = ok(
      await get(HOST, { ...baseEnv(h), ...awsEnv(fake, AKID, SECRET), DOCKER_CREDENTIAL_CLOUD_LOG: "info" }),
    );
    assert.equal(a.Secret, `pw-eu-west-1-${STS_CREDS.AssumeRole.id}`);
    const sts = fake.requests.find((r) => r.target === "AssumeRole");
    assert.equal(sts?.accessKeyId, AKID, "the base identity signs AssumeRole");
    assert.equal(sts?.form?.get("ExternalId"), "ext-2");
    assert.equal(sts?.form?.get("RoleSessionName"), "ci-pull");
  });

  test("web identity (IRSA): unsigned AssumeRoleWithWebIdentity with the token file", async (t) => {
    reset();
    const h = await home(t, { token: "projected-sa-jwt" });
    const a = ok(
      await get(HOST, {
        ...baseEnv(h),
        AWS_ENDPOINT_URL: fake.url,
        AWS_ROLE_ARN: "arn:aws:iam::606639739464:role/ROSAECRAssumeRole",
        AWS_WEB_IDENTITY_TOKEN_FILE: join(h, "token"),
        AWS_REGION: "eu-west-1",
      }),
    );
    assert.equal(a.Secret, `pw-eu-west-1-${STS_CREDS.AssumeRoleWithWebIdentity.id}`);
    const sts = fake.requests.find((r) => r.target === "AssumeRoleWithWebIdentity");
    assert.equal(sts?.form?.get("WebIdentityToken"), "projected-sa-jwt");
    assert.equal(sts?.form?.get("RoleArn"), "arn:aws:iam::606639739464:role/ROSAECRAssumeRole");
  });

  test("container credentials endpoint (EKS Pod Identity / ECS)", async (t) => {
    reset();
    const h = await home(t);
    const a = ok(
      await get(HOST, {
        ...baseEnv(h),
        AWS_ENDPOINT_URL: fake.url,
        AWS_CONTAINER_CREDENTIALS_FULL_URI: `${fake.url}/container-credentials`,
        AWS_CONTAINER_AUTHORIZATION_TOKEN: "ctr-token",
      }),
    );
    assert.equal(a.Secret, `pw-eu-west-1-${STS_CREDS.container.id}`);
    assert.equal(fake.calls.container, 1);
  });

  test("instance metadata (IMDSv2)", async (t) => {
    reset();
    const h = await home(t);
    const env = { ...baseEnv(h), AWS_ENDPOINT_URL: fake.url, AWS_EC2_METADATA_SERVICE_ENDPOINT: fake.url };
    delete (env as Record<string, string | undefined>).AWS_EC2_METADATA_DISABLED;
    const a = ok(await get(HOST, env));
    assert.equal(a.Secret, `pw-eu-west-1-${STS_CREDS.imds.id}`);
    assert.equal(fake.calls.imds, 1);
  });

  test("credential_process profile", async (t) => {
    reset();
    const h = await home(t);
    const script = join(h, "creds.sh");
    await writeFile(
      script,
      `#!/bin/sh\necho '{"Version":1,"AccessKeyId":"AKIAFAKEPROFILEKEY01","SecretAccessKey":"profile-secret"}'\n`,
    );
    await chmod(script, 0o755);
    await writeFile(join(h, "cfg"), `[profile proc]\ncredential_process = ${script}\n`);
    const a = ok(
      await get(HOST, {
        ...baseEnv(h),
        AWS_ENDPOINT_URL: fake.url,
        AWS_PROFILE: "proc",
        AWS_CONFIG_FILE: join(h, "cfg"),
      }),
    );
    assert.equal(a.Secret, "pw-eu-west-1-AKIAFAKEPROFILEKEY01");
  });

  test("ECR Public always uses us-east-1 and the ecr-public service", async (t) => {
    reset();
    const h = await home(t);
    const a = ok(
      await get("public.ecr.aws", { ...baseEnv(h), ...awsEnv(fake, AKID, SECRET), AWS_REGION: "eu-west-1" }),
    );
    assert.equal(a.Secret, `pw-us-east-1-${AKID}`);
    assert.equal(fake.calls["ecr-public"], 1);
    assert.equal(fake.requests[0]?.service, "ecr-public");
  });

  test("the region comes from the host, in other partitions too", async (t) => {
    reset();
    const h = await home(t);
    const env = { ...baseEnv(h), ...awsEnv(fake, AKID, SECRET), AWS_REGION: "us-west-2" };
    ok(await get("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", env));
    ok(await get("123456789012.dkr-ecr.ap-south-2.on.aws", env));
    assert.deepEqual(
      fake.requests.map((r) => r.region),
      ["cn-north-1", "ap-south-2"],
    );
  });
});

describe("what clients send as the server URL", () => {
  for (const input of [
    HOST,
    `https://${HOST}`,
    `${HOST}:443`,
    `https://${HOST}/v2/`,
    `  ${HOST.toUpperCase()}  `,
    `https://${HOST}:443/v2/`,
  ]) {
    test(JSON.stringify(input), async (t) => {
      reset();
      const h = await home(t);
      const r = await runCli(["get"], input, { ...baseEnv(h), ...awsEnv(fake, AKID, SECRET) });
      const a = ok(r);
      assert.equal(a.ServerURL, input.trim());
      assert.equal(a.Secret, `pw-eu-west-1-${AKID}`);
    });
  }

  for (const lookAlike of [
    `${HOST}.evil.com`,
    "12345678901.dkr.ecr.eu-west-1.amazonaws.com",
    "1234567890123.dkr.ecr.eu-west-1.amazonaws.com",
    `evil.com/${HOST}`,
    `https://evil.com/${HOST}`,
    "123456789012.dkr.ecr.eu-west-1.amazonaws.hacker.com",
    `${HOST}:5000`,
    "quay.io",
    "https://index.docker.io/v1/",
  ]) {
    test(`look-alike or foreign host ${lookAlike} gets not-found and no call`, async (t) => {
      reset();
      const h = await home(t);
      const r = await runCli(["get"], lookAlike, { ...baseEnv(h), ...awsEnv(fake, AKID, SECRET) });
      assert.equal(r.code, 1);
      assert.equal(r.stdout, "credentials not found in native keychain\n");
      assert.deepEqual(fake.calls, {});
    });
  }
});

describe("failures", () => {
  test("access denied: exit 1, one line naming the cause and the next step", async (t) => {
    reset();
    fake.mode = "deny";
    const h = await home(t);
    const r = await get(HOST, { ...baseEnv(h), ...awsEnv(fake, AKID, SECRET) });
    assert.equal(r.code, 1);
    assert.equal(r.stdout.split("\n").length, 2, "exactly one line");
    assert.match(r.stdout, /AccessDeniedException/);
    assert.match(r.stdout, /ecr:GetAuthorizationToken/);
    assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET));
    assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at /, "no stack trace");
  });

  test("a silent endpoint times out within the configured bound", async (t) => {
    reset();
    fake.mode = "hang";
    const h = await home(t);
    const r = await get(HOST, { ...baseEnv(h), ...awsEnv(fake, AKID, SECRET), DOCKER_CREDENTIAL_CLOUD_TIMEOUT: "1" });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^docker-credential-cloud: .*(could not reach AWS|timed? ?out)/i);
  });

  test("wrong secret: the fake rejects the signature and we say so", async (t) => {
    reset();
    const h = await home(t);
    const r = await get(HOST, { ...baseEnv(h), ...awsEnv(fake, AKID, "not-the-secret") });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /InvalidSignatureException/);
    assert.equal(fake.badSignatures.length > 0, true);
  });

  test("a failing credential_process: exit 1, and neither its command line nor its output is repeated", async (t) => {
    reset();
    const h = await home(t);
    const script = join(h, "leaky.sh");
    await writeFile(script, `#!/bin/sh\necho "vault says hvs.CAESIFAKEVAULTTOKEN0123456789abcdefghij" >&2\nexit 3\n`);
    await chmod(script, 0o755);
    await writeFile(
      join(h, "cfg"),
      `[profile proc]\ncredential_process = ${script} --token hvs.CAESIARGTOKEN0123456789abcdefghijkl\n`,
    );
    const r = await get(HOST, {
      ...baseEnv(h),
      AWS_ENDPOINT_URL: fake.url,
      AWS_PROFILE: "proc",
      AWS_CONFIG_FILE: join(h, "cfg"),
    });
    assert.equal(r.code, 1, "a broken explicit profile is an error, not 'no identity'");
    assert.match(r.stdout, /credential_process failed/);
    assert.doesNotMatch(r.stdout + r.stderr, /hvs\.CAES/);
  });

  test("a credential_process that never exits is cut off by the overall deadline", async (t) => {
    reset();
    const h = await home(t);
    await writeFile(join(h, "cfg"), "[profile slow]\ncredential_process = /bin/sleep 1000\n");
    const r = await get(HOST, {
      ...baseEnv(h),
      AWS_ENDPOINT_URL: fake.url,
      AWS_PROFILE: "slow",
      AWS_CONFIG_FILE: join(h, "cfg"),
      DOCKER_CREDENTIAL_CLOUD_TIMEOUT: "1",
    });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /did not finish within 3 s/);
  });

  test("AWS_PROFILE wins over environment keys, as in the SDK, and the label says so", async (t) => {
    reset();
    const h = await home(t, {
      ".aws/credentials": "[dev]\naws_access_key_id = AKIAFAKEPROFILEKEY01\naws_secret_access_key = profile-secret\n",
    });
    const r = await get(HOST, {
      ...baseEnv(h),
      ...awsEnv(fake, AKID, SECRET),
      AWS_PROFILE: "dev",
      DOCKER_CREDENTIAL_CLOUD_LOG: "info",
    });
    assert.equal(ok(r).Secret, "pw-eu-west-1-AKIAFAKEPROFILEKEY01");
    assert.match(r.stderr, /with profile dev/);
  });

  test("no AWS identity at all: not-found (anonymous pulls keep working), a hint, then the negative cache", async (t) => {
    reset();
    const h = await home(t);
    const env = { ...baseEnv(h), AWS_ENDPOINT_URL: fake.url };
    const first = await get(HOST, env);
    assert.equal(first.code, 1);
    assert.equal(first.stdout, "credentials not found in native keychain\n");
    assert.match(first.stderr, /no AWS identity found/);
    const cache = JSON.parse(await readFile(join(h, ".cache/docker-credential-cloud/tokens.json"), "utf8"));
    const negatives = Object.values(cache.entries).filter((e) => (e as { kind: string }).kind === "none");
    assert.equal(negatives.length, 1);
    // Creating credentials changes the identity files' fingerprint: the negative entry no longer applies.
    await writeFile(join(h, "creds"), `[default]\naws_access_key_id = ${AKID}\naws_secret_access_key = ${SECRET}\n`);
    const env2 = { ...env, AWS_SHARED_CREDENTIALS_FILE: join(h, "creds") };
    ok(await get(HOST, env2));
  });
});

describe("cache", () => {
  test("a hit makes no call and loads no cloud SDK", async (t) => {
    reset();
    const h = await home(t);
    const env = { ...baseEnv(h), ...awsEnv(fake, AKID, SECRET) };
    ok(await get(HOST, env));
    const trace = join(h, "loads.txt");
    const hit = await get(HOST, { ...env, NODE_OPTIONS: `--import ${TRACE_LOADS}`, DCC_TRACE_LOADS: trace });
    ok(hit);
    assert.equal(fake.calls.ecr, 1);
    const loads = await readFile(trace, "utf8");
    assert.match(loads, /dist\/cli\/cli\.js|src\/cli\.ts/, "the tracer saw our modules");
    assert.doesNotMatch(loads, /@aws-sdk|@smithy|google-auth-library|@azure|proper-lockfile|write-file-atomic|yaml/);
  });

  test("files are private: directory 0700, file 0600, versioned", async (t) => {
    reset();
    const h = await home(t);
    ok(await get(HOST, { ...baseEnv(h), ...awsEnv(fake, AKID, SECRET) }));
    const dir = join(h, ".cache/docker-credential-cloud");
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    assert.equal((await stat(join(dir, "tokens.json"))).mode & 0o777, 0o600);
    const file = JSON.parse(await readFile(join(dir, "tokens.json"), "utf8"));
    assert.equal(file.version, 1);
    const keys = Object.keys(file.entries);
    assert.equal(keys.length, 1);
    assert.ok(!keys[0]?.includes(AKID) && !keys[0]?.includes(SECRET), "the key holds no credential");
  });

  test("a corrupt cache file is ignored and rewritten", async (t) => {
    reset();
    const h = await home(t, { ".cache/docker-credential-cloud/tokens.json": "{not json" });
    ok(await get(HOST, { ...baseEnv(h), ...awsEnv(fake, AKID, SECRET) }));
    const file = JSON.parse(await readFile(join(h, ".cache/docker-credential-cloud/tokens.json"), "utf8"));
    assert.equal(Object.keys(file.entries).length, 1);
  });

  test("past half-life the token is refreshed; if the refresh fails the unexpired one is served", async (t) => {
    reset();
    const h = await home(t);
    const env = { ...baseEnv(h), ...awsEnv(fake, AKID, SECRET) };
    ok(await get(HOST, env));
    // Age the entry: fetched 7 h ago, expires in 5 h → stale but usable.
    const path = join(h, ".cache/docker-credential-cloud/tokens.json");
    const file = JSON.parse(await readFile(path, "utf8"));
    for (const e of Object.values(file.entries) as { fetchedAt: number; expiresAt: number }[]) {
      e.fetchedAt = Date.now() - 7 * 3600_000;
      e.expiresAt = Date.now() + 5 * 3600_000;
    }
    await writeFile(path, JSON.stringify(file));
    fake.mode = "deny";
    const r = await get(HOST, env);
    assert.equal(ok(r).Secret, `pw-eu-west-1-${AKID}`);
    assert.match(r.stderr, /serving the cached one/);
    assert.equal(fake.calls.ecr, 2, "a refresh was attempted");
    fake.mode = "ok";
    ok(await get(HOST, env));
    assert.equal(fake.calls.ecr, 3, "the next call refreshes");
  });

  test("DOCKER_CREDENTIAL_CLOUD_CACHE=off fetches every time and writes nothing", async (t) => {
    reset();
    const h = await home(t);
    const env = { ...baseEnv(h), ...awsEnv(fake, AKID, SECRET), DOCKER_CREDENTIAL_CLOUD_CACHE: "off" };
    ok(await get(HOST, env));
    ok(await get(HOST, env));
    assert.equal(fake.calls.ecr, 2);
    await assert.rejects(stat(join(h, ".cache/docker-credential-cloud/tokens.json")));
  });

  test("list shows live cached registries without the network; erase forgets them", async (t) => {
    reset();
    const h = await home(t);
    const env = { ...baseEnv(h), ...awsEnv(fake, AKID, SECRET) };
    ok(await get(HOST, env));
    const before = fake.calls.ecr;
    const list = await runCli(["list"], "", env);
    assert.equal(list.code, 0);
    assert.deepEqual(JSON.parse(list.stdout), { [HOST]: "AWS" });
    assert.equal(fake.calls.ecr, before);
    const erase = await runCli(["erase"], `https://${HOST}`, env);
    assert.equal(erase.code, 0);
    assert.deepEqual(JSON.parse((await runCli(["list"], "", env)).stdout), {});
  });
});
