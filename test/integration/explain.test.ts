// `explain` end to end: the BUILT CLI against the fake AWS (STS and ECR, SigV4-checked) and a fake
// ECR registry over HTTPS that denies a repository the way ECR does. Seed 002 reproduced: the pod's
// IRSA role is allowed by the cross-account repository policy, the node's role is not, and the
// kubelet pulls with the node's role — one `explain --as kubelet` run names all of it.
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { baseEnv, type CliResult, runCli } from "../support/cli.ts";
import { assertExplainSchema } from "../support/explain-schema.ts";
import { type FakeAws, STS_CREDS, startFakeAws } from "../support/fake-aws.ts";
import { accessKeyOfPassword, type FakeEcrRegistry, startFakeEcrRegistry } from "../support/fake-ecr-registry.ts";
import { type Ca, makeCa } from "../support/tls.ts";
import { tmpTree } from "../support/tmp.ts";

const NODE_PRINCIPAL = "arn:aws:sts::606639739464:assumed-role/node-role/i-0abc";
const POD_ROLE = "arn:aws:iam::606639739464:role/ROSAECRAssumeRole";
const REPO = "consultingfirm/naming-server-service";
const WEB_TOKEN =
  "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6Y2YtZGV2OmVjci1zYSJ9.c2lnbmF0dXJlLWZha2U";

let fake: FakeAws;
let registry: FakeEcrRegistry;
let ca: Ca;
let work: string;

before(async () => {
  work = await tmpTree(undefined);
  await mkdir(join(work, "ca"));
  ca = await makeCa(join(work, "ca"));
  fake = await startFakeAws({ principals: { [STS_CREDS.imds.id]: NODE_PRINCIPAL } });
  registry = await startFakeEcrRegistry({
    ca,
    account: "818140567777",
    region: "us-east-1",
    // The seed's policy after step 9: the pod's role and the cross-account role, not the node role.
    repos: {
      [REPO]: {
        tags: ["latest"],
        allow: [POD_ROLE, "arn:aws:iam::818140567777:role/ECRCrossAccountRole"],
      },
    },
    principalFor: (pw) => {
      const id = accessKeyOfPassword(pw);
      return id ? fake.principalOf(id) : undefined;
    },
  });
});
after(async () => {
  await fake?.close();
  await registry?.close();
});

/** A node of the seed: IMDS gives the node role; this shell (a pod) has IRSA variables. */
const seedEnv = async (t: Parameters<typeof tmpTree>[0]) => {
  const config = JSON.stringify({
    registries: [{ match: registry.host, provider: "ecr", aws: { region: "us-east-1", registryId: "818140567777" } }],
  });
  const h = await tmpTree(t, {
    ".config/docker-credential-cloud/config.yaml": config,
    "token/web-identity": WEB_TOKEN,
  });
  return {
    home: h,
    env: {
      ...baseEnv(h),
      AWS_ENDPOINT_URL: fake.url,
      AWS_EC2_METADATA_DISABLED: "false",
      AWS_EC2_METADATA_SERVICE_ENDPOINT: fake.url,
      AWS_REGION: "us-east-1",
      AWS_ROLE_ARN: POD_ROLE,
      AWS_WEB_IDENTITY_TOKEN_FILE: join(h, "token/web-identity"),
      NODE_EXTRA_CA_CERTS: ca.certFile,
    },
  };
};

const IMAGE = () => `${registry.host}/${REPO}:latest`;

/** Nothing secret in any output: ECR passwords, STS secrets and session tokens, the pod's token. */
const noSecrets = (r: CliResult) => {
  const all = r.stdout + r.stderr;
  assert.doesNotMatch(all, /pw-us-east-1-/, "ECR password leaked");
  for (const c of Object.values(STS_CREDS)) {
    assert.ok(!all.includes(c.secret), `${c.secret} leaked`);
    assert.ok(!all.includes(c.session), `${c.session} leaked`);
  }
  assert.ok(!all.includes(WEB_TOKEN) && !all.includes(WEB_TOKEN.slice(0, 40)), "web identity token leaked");
  assert.doesNotMatch(all, /Basic [A-Za-z0-9+/=]{8,}/, "Authorization header leaked");
};

describe("explain", () => {
  test("seed 002: --as kubelet names the node role, the denied action and the next step", async (t) => {
    fake.reset();
    registry.requests.length = 0;
    const { env } = await seedEnv(t);
    const r = await runCli(["explain", "--as", "kubelet", IMAGE()], "", env);
    assert.equal(r.code, 5, `${r.stdout}\n${r.stderr}`);
    noSecrets(r);
    // The principal the registry saw, with STS's own word for it.
    assert.match(r.stdout, new RegExp(`principal +${NODE_PRINCIPAL.replace(/[/.]/g, "\\$&")}`));
    // The registry's denial, quoted.
    assert.match(
      r.stdout,
      /User: arn:aws:sts::606639739464:assumed-role\/node-role\/i-0abc is not authorized to perform: ecr:BatchGetImage on resource: arn:aws:ecr:us-east-1:818140567777:repository\/consultingfirm\/naming-server-service because no resource-based policy allows the ecr:BatchGetImage action/,
    );
    // Why the pod's role does not apply, and what to do.
    assert.match(r.stdout, /AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE are IRSA/);
    assert.match(
      r.stdout,
      /→ next: add arn:aws:iam::606639739464:role\/node-role .*repository policy of .*in account 818140567777/,
    );
    assert.match(r.stdout, /eks\.amazonaws\.com\/ecr-role-arn=arn:aws:iam::606639739464:role\/ROSAECRAssumeRole/);
    // What really happened: IMDS (node), GetCallerIdentity and ECR signed with the node's keys; no web identity.
    assert.equal(fake.calls["sts:AssumeRoleWithWebIdentity"], undefined);
    assert.ok((fake.calls.imds ?? 0) >= 1);
    assert.equal(fake.calls["sts:GetCallerIdentity"], 1);
    assert.equal(fake.calls.ecr, 1);
    assert.deepEqual(fake.badSignatures, []);
    const ecr = fake.requests.find((q) => q.target.endsWith("GetAuthorizationToken"));
    assert.equal(ecr?.accessKeyId, STS_CREDS.imds.id);
    assert.deepEqual(JSON.parse(ecr?.body ?? "{}"), { registryIds: ["818140567777"] });
    const head = registry.requests.find((q) => q.method === "HEAD");
    assert.equal(head?.path, `/v2/${REPO}/manifests/latest`);
    assert.equal(head?.principal, NODE_PRINCIPAL);
    assert.equal(registry.requests[0]?.principal, null, "the first /v2/ probe is anonymous");
  });

  test("the same shell as docker: the pod's IRSA role, allowed, exit 0", async (t) => {
    fake.reset();
    registry.requests.length = 0;
    const { env } = await seedEnv(t);
    const r = await runCli(["explain", IMAGE()], "", env);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    noSecrets(r);
    assert.match(r.stdout, /principal +arn:aws:sts::606639739464:assumed-role\/ROSAECRAssumeRole\//);
    assert.match(r.stdout, /✓ web identity token file/);
    assert.match(r.stdout, /this pull would succeed/);
    assert.equal(fake.calls.imds, undefined, "the node role is not touched");
    assert.equal(registry.requests.find((q) => q.method === "HEAD")?.principal?.includes("ROSAECRAssumeRole"), true);
    // A second run is served from the cache, and says so.
    const again = await runCli(["explain", IMAGE()], "", env);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /from the cache/);
    const fresh = await runCli(["explain", "--no-cache", IMAGE()], "", env);
    assert.match(fresh.stdout, /fetched fresh/);
  });

  test("--as kubelet with the pod's service-account token: AssumeRoleWithWebIdentity for the annotated role", async (t) => {
    fake.reset();
    const { env, home } = await seedEnv(t);
    const r = await runCli(
      [
        "explain",
        "--as",
        "kubelet",
        "--service-account-token",
        join(home, "token/web-identity"),
        "--annotation",
        `eks.amazonaws.com/ecr-role-arn=${POD_ROLE}`,
        IMAGE(),
      ],
      "",
      env,
    );
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    noSecrets(r);
    assert.match(r.stdout, /assumed-role\/ROSAECRAssumeRole\/ecr-credential-provider/);
    const sts = fake.requests.find((q) => q.target === "AssumeRoleWithWebIdentity");
    assert.equal(sts?.form?.get("WebIdentityToken"), WEB_TOKEN);
    assert.equal(sts?.form?.get("RoleSessionName"), "ecr-credential-provider");
    assert.equal(fake.calls.imds, undefined, "the node identity is never used in service-account-token mode");
  });

  test("--as kubelet with a token that names no role: node credentials, as upstream, and said so", async (t) => {
    fake.reset();
    const { env, home } = await seedEnv(t);
    const args = [
      "explain",
      "--as",
      "kubelet",
      "--service-account-token",
      join(home, "token/web-identity"),
      // The pods' IRSA annotation only: not read by the plugin (upstream #1265).
      "--annotation",
      `eks.amazonaws.com/role-arn=${POD_ROLE}`,
      IMAGE(),
    ];
    const r = await runCli(args, "", env);
    assert.equal(r.code, 5, `${r.stdout}\n${r.stderr}`);
    noSecrets(r);
    assert.match(
      r.stdout,
      /no role named \(no eks\.amazonaws\.com\/ecr-role-arn annotation, no AWS_ECR_ROLE_ARN\) → node credentials, as upstream ecr-credential-provider/,
    );
    assert.match(r.stdout, /eks\.amazonaws\.com\/role-arn is the IRSA role of the pod's containers/);
    assert.match(r.stdout, new RegExp(`principal +${NODE_PRINCIPAL.replace(/[/.]/g, "\\$&")}`));
    assert.doesNotMatch(r.stdout, /the pod's service-account token/, "not labelled as the pod's identity");
    assert.equal(fake.calls["sts:AssumeRoleWithWebIdentity"], undefined);
    const j = JSON.parse((await runCli(["explain", "--json", ...args.slice(1)], "", env)).stdout);
    assert.equal(j.identity.mode, "node");
    assert.equal(j.identity.principal, NODE_PRINCIPAL);
    assert.deepEqual(j.identity.steps[0], {
      source: "kubelet service-account token",
      state: "absent",
      detail:
        "no role named (no eks.amazonaws.com/ecr-role-arn annotation, no AWS_ECR_ROLE_ARN) → node credentials, as upstream ecr-credential-provider",
    });
  });

  test("--json: the documented schema, no token", async (t) => {
    fake.reset();
    const { env } = await seedEnv(t);
    const r = await runCli(["explain", "--json", "--as", "kubelet", IMAGE()], "", env);
    assert.equal(r.code, 5);
    noSecrets(r);
    const j = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(j), [
      "schema",
      "input",
      "as",
      "reference",
      "route",
      "identity",
      "token",
      "probe",
      "verdict",
    ]);
    assert.equal(j.schema, "docker-credential-cloud.explain/v1");
    assert.equal(j.reference.path, REPO);
    assert.equal(j.reference.tag, "latest");
    assert.equal(j.route.provider, "ecr");
    assert.equal(j.identity.mode, "node");
    assert.equal(j.identity.principal, NODE_PRINCIPAL);
    assert.deepEqual(Object.keys(j.token).sort(), ["expiresAt", "source", "username"]);
    assert.equal(j.probe.manifest.status, 403);
    assert.equal(j.probe.manifest.error.code, "DENIED");
    assert.deepEqual(Object.keys(j.verdict), ["ok", "code", "problem", "next"]);
    assert.equal(j.verdict.code, 5);
    // Every field as documented in docs/troubleshooting.md, here and for an allowed pull and a HOST.
    assertExplainSchema(j, "AWS denied");
    const allowed = await runCli(["explain", "--json", IMAGE()], "", env);
    assert.equal(allowed.code, 0, allowed.stdout);
    assertExplainSchema(JSON.parse(allowed.stdout), "AWS allowed");
    const host = await runCli(["explain", "--json", registry.host], "", env);
    assertExplainSchema(JSON.parse(host.stdout), "AWS host");
    const notOurs = await runCli(["explain", "--json", "quay.io/x/y:1"], "", env);
    assert.equal(notOurs.code, 2);
    assertExplainSchema(JSON.parse(notOurs.stdout), "not ours");
  });

  test("a look-alike host is refused with the reason, without any cloud call", async (t) => {
    fake.reset();
    const { env } = await seedEnv(t);
    const r = await runCli(["explain", "818140567777.dkr.ecr.us-east-1.amazonaws.com.evil.example/app:1"], "", env);
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stdout, /looks like ECR but does not match its anchored host pattern/);
    assert.deepEqual(fake.calls, {});
  });

  test("bad arguments: one line on stderr, exit 1", async (t) => {
    const { env } = await seedEnv(t);
    for (const args of [["explain"], ["explain", "--as", "podman", "x.io"], ["explain", "--bogus", "x.io"]]) {
      const r = await runCli(args, "", env);
      assert.equal(r.code, 1, args.join(" "));
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /^docker-credential-cloud explain: /);
    }
  });
});
