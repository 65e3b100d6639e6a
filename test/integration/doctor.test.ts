// `doctor` (and explain's Google and Azure principals) end to end: the BUILT CLI against the fakes,
// which check what they receive — fake AWS verifies SigV4 on STS GetCallerIdentity, fake Azure
// checks the client secret at the Entra token endpoint and mints tokens whose claims say who they
// are, fake Google verifies the key's signed assertion and answers tokeninfo. No secret from any
// fake may appear in stdout or stderr, in the human report or in --json.
import assert from "node:assert/strict";
import { mkdir, symlink } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { BIN, baseEnv, type CliResult, runCli } from "../support/cli.ts";
import { awsEnv, type FakeAws, startFakeAws } from "../support/fake-aws.ts";
import { type FakeAzure, objectIdOf, startFakeAzure, TENANT } from "../support/fake-azure.ts";
import { type FakeGoogle, startFakeGoogle } from "../support/fake-google.ts";
import { tmpTree } from "../support/tmp.ts";

const AWS_KEY = "AKIADOCTORTEST000001";
const AWS_SECRET = "doctor-aws-secret-Kq9wE2rT5yU8iO1pA4sD7fG0";
const AWS_ARN = "arn:aws:iam::111122223333:user/dev";
const ECR_HOST = "111122223333.dkr.ecr.us-east-1.amazonaws.com";
const ACR_HOST = "myregistry.azurecr.io";
const SP_ID = "6a1b2c3d-0000-4000-8000-00000000abcd";
const SP_SECRET = "doctor-sp-secret-value-0123456789";
const SA = "puller@fake-project.iam.gserviceaccount.com";

let aws: FakeAws;
let azure: FakeAzure;
let google: FakeGoogle;

before(async () => {
  aws = await startFakeAws({ keys: { [AWS_KEY]: AWS_SECRET }, principals: { [AWS_KEY]: AWS_ARN } });
  azure = await startFakeAzure({ clients: { [SP_ID]: { secret: SP_SECRET } }, registries: { [ACR_HOST]: {} } });
  google = await startFakeGoogle();
});
after(async () => {
  await aws?.close();
  await azure?.close();
  await google?.close();
});

/** A HOME with the helper linked into a bin dir on PATH, and a Docker config sending both registries to it. */
const machine = async (t: Parameters<typeof tmpTree>[0], files: Record<string, string> = {}) => {
  const home = await tmpTree(t, {
    ".docker/config.json": JSON.stringify({ auths: {}, credHelpers: { [ECR_HOST]: "cloud", [ACR_HOST]: "cloud" } }),
    ...files,
  });
  const bin = join(home, "bin");
  await mkdir(bin);
  await symlink(BIN, join(bin, "docker-credential-cloud"));
  const env = {
    ...baseEnv(home),
    ...awsEnv(aws, AWS_KEY, AWS_SECRET),
    AWS_REGION: "us-east-1",
    ...azure.env(),
    AZURE_TENANT_ID: TENANT,
    AZURE_CLIENT_ID: SP_ID,
    AZURE_CLIENT_SECRET: SP_SECRET,
    PATH: `${bin}:${baseEnv(home).PATH ?? "/usr/bin:/bin"}`,
  };
  return { home, bin, env };
};

/** Every secret the fakes know or issued, and the shapes of tokens. */
const noSecrets = (r: CliResult, extra: string[] = []) => {
  const all = r.stdout + r.stderr;
  for (const s of [AWS_SECRET, SP_SECRET, ...azure.tokens.keys(), ...google.issued.keys(), ...extra]) {
    assert.ok(!all.includes(s), `a secret leaked: ${s.slice(0, 12)}…`);
  }
  assert.doesNotMatch(all, /pw-us-east-1-/, "an ECR password leaked");
  assert.doesNotMatch(all, /eyJ[A-Za-z0-9_-]{10,}/, "a JWT leaked");
  assert.doesNotMatch(all, /ya29\./, "a Google access token leaked");
  assert.doesNotMatch(all, /PRIVATE KEY/, "a private key leaked");
};

describe("doctor", () => {
  test("AWS and Azure identities with live principals, the cache's entries, wired clients: healthy", async (t) => {
    aws.reset();
    const { env, bin } = await machine(t);
    // Two pulls first, so the cache holds an ECR token and an ACR refresh token.
    for (const host of [ECR_HOST, ACR_HOST]) {
      const g = await runCli(["get"], host, env);
      assert.equal(g.code, 0, `${host}: ${g.stdout}${g.stderr}`);
    }
    const refresh = JSON.parse((await runCli(["get"], ACR_HOST, env)).stdout).Secret as string;
    aws.reset();
    const entraBefore = azure.calls.length;
    const r = await runCli(["doctor"], "", env);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    noSecrets(r, [refresh]);
    // AWS: the plan's order, the source used, and STS's word for who it is.
    assert.match(r.stdout, /AWS default, 111122223333\.dkr\.ecr\.us-east-1\.amazonaws\.com: ok/);
    assert.match(r.stdout, /✓ environment keys +AWS_ACCESS_KEY_ID/);
    assert.match(r.stdout, /· shared config files +default profile of the shared config files: not reached/);
    assert.match(r.stdout, /principal +arn:aws:iam::111122223333:user\/dev {2}\(STS GetCallerIdentity\)/);
    assert.equal(aws.calls["sts:GetCallerIdentity"], 1);
    assert.equal(aws.requests.find((q) => q.target === "GetCallerIdentity")?.accessKeyId, AWS_KEY);
    assert.deepEqual(aws.badSignatures, []);
    // Azure: the service principal, and the tenant and object id from its token's claims.
    const oid = objectIdOf({ src: "secret", appid: SP_ID });
    assert.match(r.stdout, /✓ service principal \(environment\) +environment service principal 6a1b2c3d/);
    assert.ok(r.stdout.includes(`principal        application ${SP_ID} (object id ${oid}) in tenant ${TENANT}`));
    const entra = azure.calls.slice(entraBefore).filter((c) => c.kind === "entra" && c.method === "POST");
    assert.equal(entra.length, 1, "doctor asked Entra itself, once");
    assert.equal(entra[0]?.form.client_id, SP_ID);
    assert.equal(entra[0]?.form.client_secret, SP_SECRET);
    assert.equal(entra[0]?.form.scope, "https://containerregistry.azure.net/.default");
    assert.deepEqual(azure.unexpected, []);
    // Google: nothing set up here, said as such (not a problem: no Google registry is wired).
    assert.match(r.stdout, /GOOGLE default: not set up here/);
    // The cache: both hosts, with identity, fresh until and expiry; never the token.
    assert.match(
      r.stdout,
      new RegExp(`✓ ${ECR_HOST.replace(/\./g, "\\.")}\\n +environment access key #[0-9a-f]{8}\\n +fresh until `),
    );
    assert.match(r.stdout, /✓ myregistry\.azurecr\.io\n +environment service principal/);
    // The clients: the Docker config's hosts, and the helper on PATH.
    assert.match(
      r.stdout,
      /credHelpers → cloud: 111122223333\.dkr\.ecr\.us-east-1\.amazonaws\.com, myregistry\.azurecr\.io/,
    );
    assert.ok(r.stdout.includes(`✓ on this user's PATH: ${join(bin, "docker-credential-cloud")}`));
    assert.match(
      r.stdout,
      /new logins go to a plaintext file, .*credentials\.json \(mode 0600\), because the Secret Service is not reachable/,
    );
    assert.match(r.stdout, /✓ healthy/);

    const j = await runCli(["doctor", "--json"], "", env);
    assert.equal(j.code, 0);
    noSecrets(j, [refresh]);
    const doc = JSON.parse(j.stdout);
    assert.deepEqual(Object.keys(doc), [
      "schema",
      "version",
      "configFiles",
      "identities",
      "cache",
      "store",
      "clients",
      "warnings",
      "problems",
      "verdict",
    ]);
    assert.equal(doc.schema, "docker-credential-cloud.doctor/v1");
    const awsId = doc.identities.find((i: { cloud: string }) => i.cloud === "aws");
    assert.equal(awsId.principal, AWS_ARN);
    assert.equal(awsId.status, "ok");
    assert.deepEqual(
      awsId.sources.map((s: { state: string }) => s.state),
      ["used", "skipped", "absent", "absent", "absent"],
    );
    const az = doc.identities.find((i: { cloud: string }) => i.cloud === "azure");
    assert.deepEqual(az.facts, { tenant: TENANT, objectId: oid, appId: SP_ID, type: "app" });
    assert.deepEqual(
      doc.cache.entries.map((e: { host: string; kind: string; state: string }) => [e.host, e.kind, e.state]),
      [
        [ECR_HOST, "token", "fresh"],
        [ACR_HOST, "token", "fresh"],
      ],
    );
    assert.deepEqual(Object.keys(doc.cache.entries[0]).sort(), [
      "expiresAt",
      "freshUntil",
      "host",
      "identity",
      "kind",
      "state",
    ]);
    assert.deepEqual(doc.verdict, { ok: true, code: 0, next: "nothing" });
  });

  test("Google: a service-account key's client_email, a user's e-mail from tokeninfo", async (t) => {
    google.reset();
    const key = google.serviceAccountKey(SA);
    const home = await tmpTree(t, { "key.json": JSON.stringify(key) });
    const env = { ...baseEnv(home), ...google.env(), GOOGLE_APPLICATION_CREDENTIALS: join(home, "key.json") };
    const r = await runCli(["doctor"], "", env);
    noSecrets(r, [key.private_key ?? "", key.private_key_id ?? ""]);
    assert.match(r.stdout, /GOOGLE default: ok/);
    assert.match(
      r.stdout,
      /✓ credentials file +service account key .*key\.json \(puller@fake-project\.iam\.gserviceaccount\.com\)/,
    );
    assert.match(r.stdout, /· gcloud ADC file +.*a source before it answered|· gcloud ADC file +no such file/);
    assert.ok(
      r.stdout.includes(
        `principal        serviceAccount:${SA}  (the key file's client_email, confirmed by the token exchange)`,
      ),
    );
    assert.equal(google.count("oauth2.googleapis.com", "/token"), 1, "the key was exchanged for a token");
    assert.deepEqual(google.rejections, []);

    google.reset();
    const user = google.userCredentials("dev@example.com");
    const home2 = await tmpTree(t, { ".config/gcloud/application_default_credentials.json": JSON.stringify(user) });
    const r2 = await runCli(["doctor", "--json"], "", { ...baseEnv(home2), ...google.env() });
    noSecrets(r2, [user.refresh_token ?? "", user.client_secret ?? ""]);
    const g = JSON.parse(r2.stdout).identities.find((i: { cloud: string }) => i.cloud === "google");
    assert.equal(g.principal, "user:dev@example.com");
    assert.equal(g.via, "tokeninfo");
    assert.deepEqual(
      g.sources.map((s: { source: string; state: string }) => `${s.source}:${s.state}`),
      ["credentials file:absent", "gcloud ADC file:used", "metadata server:absent"],
    );
    assert.deepEqual(google.tokenInfoCalls, ["user:dev@example.com"]);
    const info = google.seen.find((s) => s.path === "/tokeninfo");
    assert.match(String(info?.headers.authorization), /^Bearer ya29\.fake-/, "tokeninfo got the token in the header");
    assert.deepEqual(google.rejections, []);
  });

  test("the first problem decides the exit code and is named: config 2, identity 3, clients 5", async (t) => {
    // A config file that does not parse.
    const broken = await machine(t, { ".config/docker-credential-cloud/config.yaml": "registries: [\n" });
    const c = await runCli(["doctor"], "", broken.env);
    assert.equal(c.code, 2, c.stdout);
    assert.match(c.stdout, /✗ problem: .*config\.yaml: not valid YAML or JSON/);
    // A named AWS profile that does not exist: the identity fails.
    const { env } = await machine(t);
    const i = await runCli(["doctor", "--json"], "", { ...env, AWS_PROFILE: "nope" });
    assert.equal(i.code, 3, i.stdout);
    const doc = JSON.parse(i.stdout);
    assert.equal(doc.problems[0].area, "identity");
    assert.match(doc.verdict.problem, /aws identity .*profile nope is not in the shared config or credentials file/);
    // The Docker config sends registries to "cloud", but the helper is not on PATH.
    const p = await runCli(["doctor"], "", { ...env, PATH: baseEnv("/").PATH ?? "/usr/bin:/bin" });
    assert.equal(p.code, 5, p.stdout);
    assert.match(
      p.stdout,
      /✗ problem: .*config\.json sends registries to "cloud", but docker-credential-cloud is not on this user's PATH/,
    );
    assert.match(p.stdout, /→ next: link it: sudo ln -s /);
    noSecrets(c);
    noSecrets(i);
    noSecrets(p);
  });

  test("colour only on a TTY (never here), and bad arguments: one line, exit 1", async (t) => {
    const { env } = await machine(t);
    const r = await runCli(["doctor"], "", env);
    assert.doesNotMatch(r.stdout, /\x1b\[/);
    for (const args of [
      ["doctor", "--bogus"],
      ["doctor", "extra"],
    ]) {
      const b = await runCli(args, "", env);
      assert.equal(b.code, 1, args.join(" "));
      assert.equal(b.stdout, "");
      assert.match(b.stderr, /^docker-credential-cloud doctor: /);
    }
    const h = await runCli(["doctor", "--help"], "", env);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /Exit codes: 0 healthy/);
  });
});

describe("explain: the Google and Azure principal", () => {
  test("ACR: the service principal's tenant and object id from its Entra token", async (t) => {
    const { env } = await machine(t);
    const r = await runCli(["explain", ACR_HOST], "", env);
    noSecrets(r);
    const oid = objectIdOf({ src: "secret", appid: SP_ID });
    assert.ok(
      r.stdout.includes(
        `principal        application ${SP_ID} (object id ${oid}) in tenant ${TENANT}  (the Entra token's claims (tid, oid, appid))`,
      ),
      r.stdout,
    );
    assert.match(r.stdout, /✓ service principal \(environment\)/);
    assert.match(r.stdout, /4 token +✓ fetched fresh, user 00000000-0000-0000-0000-000000000000/);
  });

  test("Google: the key's service account, from the same token the pull would use", async (t) => {
    google.reset();
    const key = google.serviceAccountKey(SA);
    const home = await tmpTree(t, { "key.json": JSON.stringify(key) });
    const env = { ...baseEnv(home), ...google.env(), GOOGLE_APPLICATION_CREDENTIALS: join(home, "key.json") };
    const r = await runCli(["explain", "--json", "europe-docker.pkg.dev/p/r/app:1"], "", env);
    noSecrets(r, [key.private_key ?? ""]);
    const j = JSON.parse(r.stdout);
    assert.equal(j.identity.principal, `serviceAccount:${SA}`);
    assert.equal(j.token.source, "fresh");
    assert.equal(
      google.count("oauth2.googleapis.com", "/token"),
      1,
      "one token: the core entry's, reused for who-am-i",
    );
  });
});
