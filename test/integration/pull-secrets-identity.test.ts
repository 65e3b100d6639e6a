// Per-registry identity in the pull-secrets config (`registries: [{ host, aws | google | azure }]`):
// the built CLI's --once against the fake Kubernetes API and each cloud's fake, which checks what
// it receives: the fake STS sees the role ARN, external id and session name; Google's IAM sees the
// impersonation; Entra sees the per-registry client id. Registries without one use the pod's own
// identity. Then the config's one-line errors, each naming the bad key.
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { baseEnv, runCli } from "../support/cli.ts";
import { awsEnv, type FakeAws, STS_CREDS, startFakeAws } from "../support/fake-aws.ts";
import { ACR_USER, type FakeAzure, startFakeAzure, TENANT } from "../support/fake-azure.ts";
import { type FakeGoogle, startFakeGoogle } from "../support/fake-google.ts";
import type { FakeKube } from "../support/fake-kube.ts";
import { startKubeFixture } from "../support/pull-secrets.ts";
import { tmpTree } from "../support/tmp.ts";

const NAME = "cloud-registry-credentials";
type Auths = Record<string, { username: string; password: string }>;

describe("pull-secrets: per-registry identity", () => {
  let kube: FakeKube;
  let work = "";
  let kubeconfig = "";

  before(async () => {
    work = await tmpTree(undefined);
    ({ kube, kubeconfig } = await startKubeFixture(work));
  });
  after(() => kube?.close());

  const file = async (name: string, text: string) => {
    const f = join(work, name);
    await writeFile(f, text);
    return f;
  };
  const once = (cfg: string, env: Record<string, string>) =>
    runCli(["pull-secrets", "--kubeconfig", kubeconfig, "--config", cfg, "--once"], "", {
      DOCKER_CREDENTIAL_CLOUD_CACHE: "off",
      DOCKER_CREDENTIAL_CLOUD_LOG: "debug",
      ...env,
    });
  const auths = (ns: string): Auths => {
    const s = kube.get("secrets", ns, NAME);
    assert.ok(s, `secret in ${ns}`);
    const raw = (s.data as Record<string, string>)[".dockerconfigjson"] ?? "";
    return (JSON.parse(Buffer.from(raw, "base64").toString()) as { auths: Auths }).auths;
  };

  describe("AWS", () => {
    const AKID = "AKIAFAKEPULLSECRETID1";
    const SECRET = "fake-pull-secrets-identity";
    const OWN = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
    const XACCT = "210987654321.dkr.ecr.eu-west-1.amazonaws.com";
    const ROLE = "arn:aws:iam::210987654321:role/ecr-pull";
    let aws: FakeAws;
    before(async () => {
      aws = await startFakeAws({ keys: { [AKID]: SECRET } });
    });
    after(() => aws?.close());

    test("roleArn + externalId + roleSessionName: the pod's identity assumes the role for that registry only", async () => {
      kube.addNamespace("aws-1");
      const cfg = await file(
        "aws.yaml",
        [
          "registries:",
          `  - ${OWN}`,
          `  - host: ${XACCT}`,
          `    aws: { roleArn: "${ROLE}", externalId: ext-pull-7, roleSessionName: pull-secrets-test }`,
          'namespaces: { include: ["aws-*"] }',
          "",
        ].join("\n"),
      );
      const r = await once(cfg, { ...baseEnv(join(work, "aws-home")), ...awsEnv(aws, AKID, SECRET) });
      assert.equal(r.code, 0, r.stderr);
      const a = auths("aws-1");
      assert.equal(a[OWN]?.password, `pw-us-east-1-${AKID}`, "no identity: the pod's own keys");
      assert.equal(a[XACCT]?.password, `pw-eu-west-1-${STS_CREDS.AssumeRole.id}`, "the assumed role's session");
      const sts = aws.requests.filter((q) => q.target === "AssumeRole");
      assert.equal(sts.length, 1, "one AssumeRole, for the one registry with a role");
      assert.equal(sts[0]?.accessKeyId, AKID, "the pod's identity signs AssumeRole");
      assert.equal(sts[0]?.form?.get("RoleArn"), ROLE);
      assert.equal(sts[0]?.form?.get("ExternalId"), "ext-pull-7");
      assert.equal(sts[0]?.form?.get("RoleSessionName"), "pull-secrets-test");
      assert.deepEqual(aws.badSignatures, []);
      assert.match(r.stderr, new RegExp(`assume ${ROLE.replace(/[/:]/g, "\\$&")}`), "the identity is named in the log");
      assert.ok(!r.stderr.includes(SECRET) && !r.stderr.includes(STS_CREDS.AssumeRole.secret));
    });

    test("on top of the helper's config file: its rule for the host stays (its role is replaced only where the entry sets one)", async () => {
      aws.reset();
      kube.addNamespace("aws-2");
      const other = "arn:aws:iam::123456789012:role/from-config-file";
      const helperConfig = await file(
        "helper-config.yaml",
        `registries:\n  - match: "*.dkr.ecr.*.amazonaws.com"\n    aws: { roleArn: "${other}", roleSessionName: from-file }\n`,
      );
      const cfg = await file(
        "aws2.yaml",
        `registries:\n  - ${OWN}\n  - host: ${XACCT}\n    aws: { roleArn: "${ROLE}" }\nnamespaces: { include: ["aws-2"] }\n`,
      );
      const r = await once(cfg, {
        ...baseEnv(join(work, "aws2-home")),
        ...awsEnv(aws, AKID, SECRET),
        DOCKER_CREDENTIAL_CLOUD_CONFIG: helperConfig,
      });
      assert.equal(r.code, 0, r.stderr);
      const roles = aws.requests
        .filter((q) => q.target === "AssumeRole")
        .map((q) => `${q.form?.get("RoleArn")} ${q.form?.get("RoleSessionName")}`)
        .sort();
      assert.deepEqual(roles, [`${ROLE} from-file`, `${other} from-file`].sort());
    });
  });

  describe("Google", () => {
    const AR = "europe-west4-docker.pkg.dev";
    const GCR = "gcr.io";
    const US = "us-docker.pkg.dev";
    const BASE = "pull-secrets-pod@fake-project.iam.gserviceaccount.com";
    const PULLER = "puller@fake-project.iam.gserviceaccount.com";
    const OTHER = "other-key@fake-project.iam.gserviceaccount.com";
    let google: FakeGoogle;
    before(async () => {
      google = await startFakeGoogle();
    });
    after(() => google?.close());

    test("impersonateServiceAccount and credentialsFile per registry; the others use the pod's credentials", async () => {
      google.allowImpersonation(`serviceAccount:${BASE}`, PULLER);
      const home = join(work, "google-home");
      await mkdir(home, { recursive: true });
      await writeFile(join(home, "base.json"), JSON.stringify(google.serviceAccountKey(BASE)));
      await writeFile(join(home, "other.json"), JSON.stringify(google.serviceAccountKey(OTHER)));
      kube.addNamespace("gcp-1");
      const cfg = await file(
        "google.yaml",
        [
          "registries:",
          `  - host: ${AR}`,
          `    google: { impersonateServiceAccount: ${PULLER} }`,
          `  - ${GCR}`,
          `  - host: ${US}`,
          `    google: { credentialsFile: ${join(home, "other.json")} }`,
          'namespaces: { include: ["gcp-*"] }',
          "",
        ].join("\n"),
      );
      const r = await once(cfg, {
        ...baseEnv(home),
        PATH: `${google.gcloudTrapDir}:${process.env.PATH ?? "/usr/bin:/bin"}`,
        ...google.env(),
        GOOGLE_APPLICATION_CREDENTIALS: join(home, "base.json"),
      });
      assert.equal(r.code, 0, r.stderr);
      const a = auths("gcp-1");
      for (const h of [AR, GCR, US]) assert.equal(a[h]?.username, "oauth2accesstoken", h);
      assert.equal(google.principalOf(a[AR]?.password ?? ""), `serviceAccount:${PULLER}`);
      assert.equal(google.principalOf(a[GCR]?.password ?? ""), `serviceAccount:${BASE}`);
      assert.equal(google.principalOf(a[US]?.password ?? ""), `serviceAccount:${OTHER}`);
      const iam = google.seen.filter((s) => s.host === "iamcredentials.googleapis.com");
      assert.deepEqual(
        iam.map((s) => s.path),
        [`/v1/projects/-/serviceAccounts/${PULLER}:generateAccessToken`],
      );
      assert.deepEqual(google.rejections, []);
      assert.equal(await google.gcloudCalls(), "", "gcloud never run");
    });
  });

  describe("Azure", () => {
    const A = "teama.azurecr.io";
    const B = "teamb.azurecr.io";
    const FEDERATED = "projected-sa-token-of-the-pull-secrets-pod";
    let azure: FakeAzure;
    before(async () => {
      azure = await startFakeAzure({
        clients: { "wi-app-a": { federatedTokens: [FEDERATED] }, "wi-app-b": { federatedTokens: [FEDERATED] } },
        registries: { [A]: {}, [B]: {} },
      });
    });
    after(() => azure?.close());

    test("clientId (and tenantId) per registry with Azure Workload Identity: Entra sees each registry's app", async () => {
      const home = join(work, "azure-home");
      await mkdir(join(home, "token"), { recursive: true });
      await writeFile(join(home, "token", "sa-token"), `${FEDERATED}\n`);
      kube.addNamespace("az-1");
      const cfg = await file(
        "azure.yaml",
        `registries:\n  - ${A}\n  - host: ${B}\n    azure: { clientId: wi-app-b, tenantId: ${TENANT} }\nnamespaces: { include: ["az-*"] }\n`,
      );
      const r = await once(cfg, {
        ...baseEnv(home),
        ...azure.env(),
        AZURE_TENANT_ID: TENANT,
        AZURE_CLIENT_ID: "wi-app-a",
        AZURE_FEDERATED_TOKEN_FILE: join(home, "token", "sa-token"),
        AZURE_AUTHORITY_HOST: "https://login.microsoftonline.com/",
      });
      assert.equal(r.code, 0, r.stderr);
      const a = auths("az-1");
      assert.equal(a[A]?.username, ACR_USER);
      assert.equal(a[B]?.username, ACR_USER);
      const entra = azure.calls.filter((c) => c.kind === "entra");
      assert.deepEqual(entra.map((c) => c.form.client_id).sort(), ["wi-app-a", "wi-app-b"]);
      for (const c of entra) assert.equal(c.form.client_assertion, FEDERATED);
      // Which app's access token each registry's exchange got.
      const appOf = Object.fromEntries(
        azure.calls
          .filter((c) => c.kind === "registry" && c.path === "/oauth2/exchange")
          .map((c) => [c.host, azure.tokens.get(c.form.access_token ?? "")?.appid]),
      );
      assert.deepEqual(appOf, { [A]: "wi-app-a", [B]: "wi-app-b" });
      assert.deepEqual(azure.unexpected, []);
      assert.ok(!r.stderr.includes(FEDERATED));
    });
  });

  test("bad identity settings: one line naming the key, exit 2, nothing written", async () => {
    const ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
    const cases: [string, RegExp][] = [
      [`registries:\n  - host: ${ECR}\n    aws: { roleArm: x }\n`, /registries\[0\]\.aws\.roleArm: unknown key/],
      [
        `registries:\n  - host: ${ECR}\n    google: { impersonateServiceAccount: a@b.iam.gserviceaccount.com }\n`,
        /registries\[0\]\.google: .* is an ECR registry; its identity goes under "aws"/,
      ],
      [
        `registries:\n  - ${ECR}\n  - host: x.azurecr.io\n    azure: { clientId: "" }\n`,
        /registries\[1\]\.azure\.clientId: expected a non-empty string/,
      ],
      [
        `registries:\n  - host: ${ECR}\n    aws: { roleArn: not-an-arn }\n`,
        /registries\[0\]\.aws\.roleArn: expected an IAM role ARN/,
      ],
      [
        `registries:\n  - host: ${ECR}\n    aws: { externalId: e }\n`,
        /registries\[0\]\.aws\.externalId: needs roleArn/,
      ],
      [
        `registries:\n  - host: ${ECR}\n    aws: { profile: p }\n    azure: { clientId: c }\n`,
        /registries\[0\]: one identity per registry/,
      ],
      [`registries:\n  - aws: { profile: p }\n`, /registries\[0\]\.host: required/],
      [`registries:\n  - host: ${ECR}\n    role: x\n`, /registries\[0\]\.role: unknown key/],
      [`registries:\n  - ${ECR}\n  - host: ${ECR}\n    aws: { profile: p }\n`, /registries\[1\]: .* is listed twice/],
      [
        `registries:\n  - host: europe-docker.pkg.dev\n    google: { impersonateServiceAccount: someone }\n`,
        /registries\[0\]\.google\.impersonateServiceAccount: expected a service account email/,
      ],
      [
        `registries:\n  - host: x.azurecr.io\n    azure: { credential: magic }\n`,
        /registries\[0\]\.azure\.credential: must be one of/,
      ],
    ];
    const writes = kube.requests.filter((q) => q.method !== "GET").length;
    for (const [i, [text, want]] of cases.entries()) {
      const cfg = await file(`bad-${i}.yaml`, text);
      const r = await once(cfg, baseEnv(join(work, "bad-home")));
      assert.equal(r.code, 2, `${text}: ${r.stderr}`);
      assert.match(r.stderr, want);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.ok(r.stderr.includes(`bad-${i}.yaml`), "names the file");
    }
    assert.equal(kube.requests.filter((q) => q.method !== "GET").length, writes);
  });
});
