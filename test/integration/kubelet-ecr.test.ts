// The BUILT binary in kubelet plugin mode against a fake AWS that verifies SigV4: every answer it
// gives goes through the kubelet-faithful checker; failures must be exit 1, nothing on stdout and
// one line on stderr; the shared token cache serves plugin mode (a hit loads no SDK); and
// service-account token mode exchanges the pod's token at STS for the annotated role.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { baseEnv, type CliResult, runCli, TRACE_LOADS } from "../support/cli.ts";
import { awsEnv, type FakeAws, STS_CREDS, startFakeAws } from "../support/fake-aws.ts";
import { type CheckOptions, checkRun } from "../support/kubelet-checker.ts";
import { tmpTree } from "../support/tmp.ts";

const HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const IMAGE = `${HOST}/team/app`;
const AKID = "AKIAFAKEKUBELETKEY01";
const SECRET = "fake-secret-for-kubelet-tests";
const V1 = "credentialprovider.kubelet.k8s.io/v1";
const VERSIONS = [V1, "credentialprovider.kubelet.k8s.io/v1beta1", "credentialprovider.kubelet.k8s.io/v1alpha1"];
const ROLE = "arn:aws:iam::123456789012:role/app-pull";
const ROLE_ANNOTATION = "eks.amazonaws.com/ecr-role-arn";
// Shaped like a projected service-account token (a JWT); the plugin must never print it.
const saToken = (sub: string) =>
  `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify({ sub: `system:serviceaccount:${sub}`, aud: ["sts.amazonaws.com"] })).toString("base64url")}.c2lnbmF0dXJl`;

let fake: FakeAws;
before(async () => {
  fake = await startFakeAws({ keys: { [AKID]: SECRET } });
});
after(() => fake.close());

const reset = () => fake.reset();

const request = (image: string, apiVersion = V1, extra: Record<string, unknown> = {}) =>
  `${JSON.stringify({ kind: "CredentialProviderRequest", apiVersion, image, ...extra })}\n`;

const kubelet = (input: string, env: Record<string, string>, args = ["kubelet"]) => runCli(args, input, env);

const nodeEnv = async (t: Parameters<typeof tmpTree>[0]) => ({
  ...baseEnv(await tmpTree(t)),
  ...awsEnv(fake, AKID, SECRET),
});

/** A failed run as the kubelet requires it: non-zero exit, empty stdout, one line on stderr. */
const failed = (r: CliResult, message: RegExp) => {
  assert.notEqual(r.code, 0);
  assert.equal(r.stdout, "", "nothing on stdout");
  assert.match(
    r.stderr,
    /^docker-credential-cloud: [^\n]+\n$/,
    `exactly one line on stderr: ${JSON.stringify(r.stderr)}`,
  );
  assert.match(r.stderr, message);
};

const checked = (r: CliResult, opts: Partial<CheckOptions> = {}) =>
  checkRun(r, { apiVersion: V1, image: IMAGE, ...opts });

describe("kubelet plugin mode: ECR with the node's identity", () => {
  for (const apiVersion of VERSIONS) {
    test(`${apiVersion}: a strictly valid answer with the registry's token`, async (t) => {
      reset();
      const r = await kubelet(request(IMAGE, apiVersion), await nodeEnv(t));
      const c = checked(r, { apiVersion });
      assert.equal(c.response.apiVersion, apiVersion, "the request's version is echoed");
      assert.equal(c.response.cacheKeyType, "Registry");
      assert.deepEqual(c.response.auth, { [HOST]: { username: "AWS", password: `pw-eu-west-1-${AKID}` } });
      assert.deepEqual(c.lookup, [{ username: "AWS", password: `pw-eu-west-1-${AKID}` }]);
      assert.equal(fake.calls.ecr, 1);
      assert.deepEqual(fake.badSignatures, []);
      assert.deepEqual(JSON.parse(fake.requests[0]?.body ?? ""), { registryIds: ["123456789012"] });
      assert.ok(!r.stderr.includes(SECRET));
    });
  }

  test("one JSON object and a newline on stdout, fields in Go's order", async (t) => {
    reset();
    const r = await kubelet(request(IMAGE), await nodeEnv(t));
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^\{"kind":"CredentialProviderResponse","apiVersion":"[^"]+","cacheKeyType":"Registry","cacheDuration":"[^"]+","auth":\{[^\n]*\}\}\n$/,
    );
  });

  test("cacheDuration is half the token's remaining life, in whole seconds", async (t) => {
    for (const ttl of [12 * 3600, 3600, 90]) {
      reset();
      fake.tokenTtlSeconds = ttl;
      const c = checked(await kubelet(request(IMAGE), await nodeEnv(t)));
      const secs = (c.response.cacheDurationNs as number) / 1e9;
      assert.ok(secs <= ttl / 2 && secs >= ttl / 2 - 5, `ttl ${ttl}: cacheDuration ${c.response.cacheDuration}`);
    }
  });

  test("the kubelet's JSON on `get` is detected and answered the same way", async (t) => {
    reset();
    const r = await kubelet(request(IMAGE), await nodeEnv(t), ["get"]);
    assert.equal(checked(r).response.auth[HOST]?.password, `pw-eu-west-1-${AKID}`);
  });

  test("the port is kept in the auth key; :443 is the same registry", async (t) => {
    reset();
    const image = `${HOST}:443/team/app`;
    const c = checked(await kubelet(request(image), await nodeEnv(t)), { image });
    assert.deepEqual(Object.keys(c.response.auth), [`${HOST}:443`]);
  });

  test("ECR Public", async (t) => {
    reset();
    const image = "public.ecr.aws/team/app";
    const c = checked(await kubelet(request(image), await nodeEnv(t)), { image });
    assert.deepEqual(c.response.auth, { "public.ecr.aws": { username: "AWS", password: `pw-us-east-1-${AKID}` } });
    assert.equal(fake.calls["ecr-public"], 1);
  });

  for (const image of [
    "docker.io/library/nginx",
    "registry.k8s.io/pause",
    `${HOST}:5000/team/app`,
    `${HOST}.evil.example/team/app`,
    `evil.example/${HOST}/app`,
  ]) {
    test(`not a cloud registry: ${image} gets no credentials, "0s", and AWS is not called`, async (t) => {
      reset();
      const c = checked(await kubelet(request(image), await nodeEnv(t)), { image });
      assert.deepEqual(c.response.auth, {});
      assert.equal(c.response.cacheDuration, "0s");
      assert.deepEqual(fake.calls, {});
    });
  }
});

describe("kubelet plugin mode: failures", () => {
  const bad: [string, string, RegExp][] = [
    ["empty stdin", "", /no CredentialProviderRequest on stdin/],
    ["not JSON", "not json at all\n", /not JSON/],
    ["a docker-helper server URL", `${HOST}\n`, /not JSON/],
    [
      "wrong kind",
      request(IMAGE).replace("CredentialProviderRequest", "CredentialProviderResponse"),
      /kind was "CredentialProviderResponse"/,
    ],
    ["unknown apiVersion", request(IMAGE, "credentialprovider.kubelet.k8s.io/v2"), /group version .* is not supported/],
    ["empty image", request(""), /image in plugin request was empty/],
  ];
  for (const [name, input, msg] of bad) {
    test(`bad request: ${name}`, async (t) => {
      reset();
      failed(await kubelet(input, await nodeEnv(t)), msg);
      assert.deepEqual(fake.calls, {});
    });
  }

  for (const args of [
    ["kubelet", "--v=3"],
    ["kubelet", "extra"],
  ]) {
    test(`config args ${JSON.stringify(args)}: exit 1, one line on stderr saying what args to use`, async (t) => {
      reset();
      failed(await kubelet(request(IMAGE), await nodeEnv(t), args), /plugin mode takes exactly args: \["kubelet"\]/);
      assert.deepEqual(fake.calls, {});
    });
  }

  test("ECR refuses: one line naming the cause, nothing on stdout", async (t) => {
    reset();
    fake.mode = "deny";
    failed(await kubelet(request(IMAGE), await nodeEnv(t)), /AccessDeniedException/);
  });

  test("ECR throttles", async (t) => {
    reset();
    fake.mode = "throttle";
    failed(await kubelet(request(IMAGE), await nodeEnv(t)), /throttled/);
  });

  test("ECR never answers: bounded by the request timeout, still one line", async (t) => {
    reset();
    fake.mode = "hang";
    const env = { ...(await nodeEnv(t)), DOCKER_CREDENTIAL_CLOUD_TIMEOUT: "1" };
    failed(await kubelet(request(IMAGE), env), /could not reach AWS|timed? ?out/i);
  });

  test("no AWS identity on the node: exit 1 with the hint (the kubelet logs it)", async (t) => {
    reset();
    const env = { ...baseEnv(await tmpTree(t)), AWS_ENDPOINT_URL: fake.url };
    failed(await kubelet(request(IMAGE), env), /no AWS identity found/);
  });

  test("a malformed config file: one line on stderr, not stdout", async (t) => {
    reset();
    const env = { ...(await nodeEnv(t)), DOCKER_CREDENTIAL_CLOUD_CONFIG: "/nonexistent/config.yaml" };
    failed(await kubelet(request(IMAGE), env), /config file not found/);
  });
});

describe("kubelet plugin mode: the shared token cache", () => {
  test("a second process (a restarted kubelet) is served from cache, loading no SDK", async (t) => {
    reset();
    const env = await nodeEnv(t);
    const first = checked(await kubelet(request(IMAGE), env));
    const trace = join(env.HOME as string, "loads.txt");
    const hit = await kubelet(request(IMAGE), {
      ...env,
      NODE_OPTIONS: `--import ${TRACE_LOADS}`,
      DCC_TRACE_LOADS: trace,
    });
    const second = checked(hit);
    assert.equal(fake.calls.ecr, 1, "no second ECR call");
    assert.deepEqual(second.response.auth, first.response.auth);
    const loads = await readFile(trace, "utf8");
    assert.match(loads, /dist\/cli\/cli\.js|src\/cli\.ts/, "the tracer saw our program");
    assert.doesNotMatch(
      loads,
      /@aws-sdk|@smithy|google-auth-library|@azure|proper-lockfile|write-file-atomic|\/yaml\//,
    );
  });

  test("the cache is shared with the docker-helper path, both ways", async (t) => {
    reset();
    const env = await nodeEnv(t);
    const docker = await runCli(["get"], `${HOST}\n`, env);
    assert.equal(docker.code, 0, docker.stdout);
    const c = checked(await kubelet(request(IMAGE), env));
    assert.equal(c.response.auth[HOST]?.password, JSON.parse(docker.stdout).Secret);
    assert.equal(fake.calls.ecr, 1);
  });

  test("with the cache off every run fetches", async (t) => {
    reset();
    const env = { ...(await nodeEnv(t)), DOCKER_CREDENTIAL_CLOUD_CACHE: "off" };
    checked(await kubelet(request(IMAGE), env));
    checked(await kubelet(request(IMAGE), env));
    assert.equal(fake.calls.ecr, 2);
  });
});

describe("kubelet plugin mode: service-account tokens (KEP-4412)", () => {
  const saRequest = (token: string, annotations: Record<string, string>, image = IMAGE) =>
    request(image, V1, { serviceAccountToken: token, serviceAccountAnnotations: annotations });

  test("the pod's token is exchanged at STS for the annotated role; the node's keys are not used", async (t) => {
    reset();
    const token = saToken("team:app");
    const r = await kubelet(saRequest(token, { [ROLE_ANNOTATION]: ROLE }), await nodeEnv(t));
    const c = checked(r, { serviceAccountToken: token, cacheType: "ServiceAccount" });
    const webId = STS_CREDS.AssumeRoleWithWebIdentity.id;
    assert.deepEqual(c.response.auth, { [HOST]: { username: "AWS", password: `pw-eu-west-1-${webId}` } });
    assert.equal(fake.calls["sts:AssumeRoleWithWebIdentity"], 1);
    const sts = fake.requests.find((q) => q.target === "AssumeRoleWithWebIdentity");
    assert.equal(sts?.form?.get("WebIdentityToken"), token);
    assert.equal(sts?.form?.get("RoleArn"), ROLE);
    assert.equal(sts?.form?.get("RoleSessionName"), "ecr-credential-provider");
    const ecr = fake.requests.find((q) => q.target.endsWith("GetAuthorizationToken"));
    assert.equal(ecr?.accessKeyId, webId, "ECR was called with the role's session, not the node's key");
    assert.equal(ecr?.sessionToken, STS_CREDS.AssumeRoleWithWebIdentity.session);
    assert.deepEqual(fake.badSignatures, []);
    assert.ok(!r.stderr.includes(token) && !r.stdout.includes(token), "the SA token is never printed");
  });

  test("each API version field set: the SA fields are v1-only, older versions use the node identity", async (t) => {
    reset();
    const token = saToken("team:app");
    const beta = "credentialprovider.kubelet.k8s.io/v1beta1";
    const r = await kubelet(
      request(IMAGE, beta, { serviceAccountToken: token, serviceAccountAnnotations: { [ROLE_ANNOTATION]: ROLE } }),
      await nodeEnv(t),
    );
    const c = checked(r, { apiVersion: beta });
    assert.equal(c.response.auth[HOST]?.password, `pw-eu-west-1-${AKID}`);
    assert.equal(fake.calls["sts:AssumeRoleWithWebIdentity"], undefined);
  });

  test("the role from AWS_ECR_ROLE_ARN (the provider's config env) when the annotation is absent", async (t) => {
    reset();
    const env = { ...(await nodeEnv(t)), AWS_ECR_ROLE_ARN: "arn:aws:iam::123456789012:role/from-env" };
    const token = saToken("team:app");
    checked(await kubelet(saRequest(token, {}), env), { serviceAccountToken: token });
    const sts = fake.requests.find((q) => q.target === "AssumeRoleWithWebIdentity");
    assert.equal(sts?.form?.get("RoleArn"), "arn:aws:iam::123456789012:role/from-env");
  });

  test("the annotation wins over AWS_ECR_ROLE_ARN", async (t) => {
    reset();
    const env = { ...(await nodeEnv(t)), AWS_ECR_ROLE_ARN: "arn:aws:iam::123456789012:role/from-env" };
    const token = saToken("team:app");
    checked(await kubelet(saRequest(token, { [ROLE_ANNOTATION]: ROLE }), env), { serviceAccountToken: token });
    assert.equal(fake.requests.find((q) => q.target === "AssumeRoleWithWebIdentity")?.form?.get("RoleArn"), ROLE);
  });

  // Was "exit 1, no fallback to the node": changed to upstream's behaviour (cloud-provider-aws
  // #1281); the cases are in kubelet-sa-token-fallback.test.ts.
  test("no role anywhere: the node's credentials answer, as upstream's ecr-credential-provider", async (t) => {
    reset();
    const token = saToken("team:app");
    const r = await kubelet(saRequest(token, {}), await nodeEnv(t));
    const c = checked(r, { serviceAccountToken: token });
    assert.equal(c.response.auth[HOST]?.password, `pw-eu-west-1-${AKID}`);
    assert.equal(fake.calls["sts:AssumeRoleWithWebIdentity"], undefined);
    assert.ok(!r.stderr.includes(token));
  });

  test("ECR Public with a service-account token", async (t) => {
    reset();
    const token = saToken("team:app");
    const image = "public.ecr.aws/team/app";
    const c = checked(await kubelet(saRequest(token, { [ROLE_ANNOTATION]: ROLE }, image), await nodeEnv(t)), {
      image,
      serviceAccountToken: token,
    });
    assert.equal(c.response.auth["public.ecr.aws"]?.password, `pw-us-east-1-${STS_CREDS.AssumeRoleWithWebIdentity.id}`);
    assert.equal(fake.calls["ecr-public"], 1);
  });

  test("cached per token and annotations, never shared with the node identity", async (t) => {
    reset();
    const env = await nodeEnv(t);
    const a = saToken("team:a");
    const ann = { [ROLE_ANNOTATION]: ROLE };
    checked(await kubelet(saRequest(a, ann), env), { serviceAccountToken: a });
    checked(await kubelet(saRequest(a, ann), env), { serviceAccountToken: a });
    assert.equal(fake.calls["sts:AssumeRoleWithWebIdentity"], 1, "same token and role: served from cache");
    checked(await kubelet(saRequest(a, { [ROLE_ANNOTATION]: `${ROLE}-other` }), env), { serviceAccountToken: a });
    assert.equal(fake.calls["sts:AssumeRoleWithWebIdentity"], 2, "another role: fetched");
    const b = saToken("team:b");
    checked(await kubelet(saRequest(b, ann), env), { serviceAccountToken: b });
    assert.equal(fake.calls["sts:AssumeRoleWithWebIdentity"], 3, "another pod's token: fetched");
    const node = checked(await kubelet(request(IMAGE), env));
    assert.equal(node.response.auth[HOST]?.password, `pw-eu-west-1-${AKID}`, "the node identity gets its own token");
    assert.equal(fake.calls.ecr, 4);
  });

  test("a request with an empty token is the node's (requireServiceAccount: false, pod without SA)", async (t) => {
    reset();
    const c = checked(
      await kubelet(request(IMAGE, V1, { serviceAccountToken: "", serviceAccountAnnotations: {} }), await nodeEnv(t)),
    );
    assert.equal(c.response.auth[HOST]?.password, `pw-eu-west-1-${AKID}`);
  });
});
