// Service-account-token mode for ECR, as upstream's ecr-credential-provider behaves today
// (kubernetes/cloud-provider-aws cmd/ecr-credential-provider/main.go, after #1281): the role is
// the service account's eks.amazonaws.com/ecr-role-arn annotation when the kubelet sent that key,
// else AWS_ECR_ROLE_ARN in the provider's env; with neither, the token is not used and the node's
// own credentials answer. The IRSA annotation eks.amazonaws.com/role-arn is not read (#1265 is
// not merged). The fake AWS tells the two apart: a web-identity session signs as
// ASIAFAKEWEBIDENTITY1, the node as its static key or its instance-metadata role.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { baseEnv, runCli } from "../support/cli.ts";
import { awsEnv, type FakeAws, STS_CREDS, startFakeAws } from "../support/fake-aws.ts";
import { checkRun } from "../support/kubelet-checker.ts";
import { tmpTree } from "../support/tmp.ts";

const HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const IMAGE = `${HOST}/team/app`;
const AKID = "AKIAFAKEFALLBACKKEY1";
const SECRET = "fake-secret-for-fallback-tests";
const V1 = "credentialprovider.kubelet.k8s.io/v1";
const ROLE = "arn:aws:iam::123456789012:role/app-pull";
const ENV_ROLE = "arn:aws:iam::123456789012:role/from-env";
const ECR_ROLE = "eks.amazonaws.com/ecr-role-arn";
const IRSA_ROLE = "eks.amazonaws.com/role-arn";
const token = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify({ sub: "system:serviceaccount:team:app" })).toString("base64url")}.c2ln`;
const WEB = `pw-eu-west-1-${STS_CREDS.AssumeRoleWithWebIdentity.id}`;
const NODE = `pw-eu-west-1-${AKID}`;

let fake: FakeAws;
before(async () => {
  fake = await startFakeAws({ keys: { [AKID]: SECRET } });
});
after(() => fake.close());

const saRequest = (annotations: Record<string, string>, image = IMAGE) =>
  `${JSON.stringify({ kind: "CredentialProviderRequest", apiVersion: V1, image, serviceAccountToken: token, serviceAccountAnnotations: annotations })}\n`;

const keysEnv = async (t: Parameters<typeof tmpTree>[0], extra: Record<string, string> = {}) => ({
  ...baseEnv(await tmpTree(t)),
  ...awsEnv(fake, AKID, SECRET),
  ...extra,
});

const answer = async (env: Record<string, string>, annotations: Record<string, string>, image = IMAGE) => {
  const r = await runCli(["kubelet"], saRequest(annotations, image), env);
  assert.ok(!r.stderr.includes(token) && !r.stdout.includes(token), "the token is never printed");
  return checkRun(r, { apiVersion: V1, image, serviceAccountToken: token });
};

const stsRole = () => fake.requests.find((q) => q.target === "AssumeRoleWithWebIdentity")?.form?.get("RoleArn");

describe("kubelet service-account tokens for ECR: which role, and the node's credentials when none", () => {
  const cases: {
    name: string;
    annotations: Record<string, string>;
    env?: Record<string, string>;
    want: string;
    role?: string;
  }[] = [
    { name: "ecr-role-arn annotation", annotations: { [ECR_ROLE]: ROLE }, want: WEB, role: ROLE },
    {
      name: "AWS_ECR_ROLE_ARN when the annotation is absent",
      annotations: {},
      env: { AWS_ECR_ROLE_ARN: ENV_ROLE },
      want: WEB,
      role: ENV_ROLE,
    },
    {
      name: "the annotation wins over AWS_ECR_ROLE_ARN",
      annotations: { [ECR_ROLE]: ROLE },
      env: { AWS_ECR_ROLE_ARN: ENV_ROLE },
      want: WEB,
      role: ROLE,
    },
    { name: "no annotation, no AWS_ECR_ROLE_ARN: the node", annotations: {}, want: NODE },
    { name: "other annotations only: the node", annotations: { "example.com/team": "a" }, want: NODE },
    {
      name: "only the IRSA annotation role-arn (not read upstream): the node",
      annotations: { [IRSA_ROLE]: ROLE },
      want: NODE,
    },
    {
      name: "IRSA annotation and AWS_ECR_ROLE_ARN: the env role, not the IRSA one",
      annotations: { [IRSA_ROLE]: ROLE },
      env: { AWS_ECR_ROLE_ARN: ENV_ROLE },
      want: WEB,
      role: ENV_ROLE,
    },
    {
      name: "ecr-role-arn sent empty: the node, AWS_ECR_ROLE_ARN not consulted (the key was sent)",
      annotations: { [ECR_ROLE]: "" },
      env: { AWS_ECR_ROLE_ARN: ENV_ROLE },
      want: NODE,
    },
    { name: "AWS_ECR_ROLE_ARN set empty: the node", annotations: {}, env: { AWS_ECR_ROLE_ARN: "" }, want: NODE },
  ];
  for (const c of cases) {
    test(c.name, async (t) => {
      fake.reset();
      const r = await answer(await keysEnv(t, c.env), c.annotations);
      assert.equal(r.response.auth[HOST]?.password, c.want);
      assert.equal(stsRole(), c.role, c.role ? "STS was asked for that role" : "STS was not asked");
      assert.equal(fake.calls.ecr, 1);
      assert.deepEqual(fake.badSignatures, []);
    });
  }

  test("the node's instance-metadata role answers when that is the node's identity", async (t) => {
    fake.reset();
    const env = {
      ...baseEnv(await tmpTree(t)),
      AWS_ENDPOINT_URL: fake.url,
      AWS_EC2_METADATA_DISABLED: "false",
      AWS_EC2_METADATA_SERVICE_ENDPOINT: fake.url,
    };
    const r = await answer(env, {});
    assert.equal(r.response.auth[HOST]?.password, `pw-eu-west-1-${STS_CREDS.imds.id}`);
    assert.equal(fake.calls.imds, 1);
    assert.equal(fake.calls["sts:AssumeRoleWithWebIdentity"], undefined);
  });

  test("ECR Public falls back the same way", async (t) => {
    fake.reset();
    const image = "public.ecr.aws/team/app";
    const r = await answer(await keysEnv(t), {}, image);
    assert.equal(r.response.auth["public.ecr.aws"]?.password, `pw-us-east-1-${AKID}`);
    assert.equal(fake.calls["sts:AssumeRoleWithWebIdentity"], undefined);
  });

  test("the fallback is the node's cache entry: a later node-identity request is a hit", async (t) => {
    fake.reset();
    const env = await keysEnv(t);
    await answer(env, {});
    const node = checkRun(
      await runCli(
        ["kubelet"],
        `${JSON.stringify({ kind: "CredentialProviderRequest", apiVersion: V1, image: IMAGE })}\n`,
        env,
      ),
      { apiVersion: V1, image: IMAGE },
    );
    assert.equal(node.response.auth[HOST]?.password, NODE);
    await answer(env, { "example.com/other": "x" });
    assert.equal(fake.calls.ecr, 1, "one ECR call for all three");
  });

  test("a node without an identity fails as the node would, in one line", async (t) => {
    fake.reset();
    const env = { ...baseEnv(await tmpTree(t)), AWS_ENDPOINT_URL: fake.url };
    const r = await runCli(["kubelet"], saRequest({}), env);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^docker-credential-cloud: no AWS identity found for [^\n]+\n$/);
    assert.deepEqual(fake.calls, {});
  });
});
