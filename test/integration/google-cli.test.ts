// The built CLI against a fake Google (support/fake-google.ts) reached with the real host names
// through a MITM proxy: every ADC identity source, the config rule's overrides, failures, the
// no-identity path and its negative cache, and the cache-hit path loading no SDK.
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, type TestContext, test } from "node:test";
import { baseEnv, type CliResult, runCli, TRACE_LOADS } from "../support/cli.ts";
import { AWS_TOKEN_TYPE, type FakeGoogle, JWT_TOKEN_TYPE, startFakeGoogle } from "../support/fake-google.ts";
import { tmpTree } from "../support/tmp.ts";

const HOST = "europe-west4-docker.pkg.dev";
const AUDIENCE = "//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/pool/providers/prov";
const PULLER = "puller@fake-project.iam.gserviceaccount.com";

let fake: FakeGoogle;
before(async () => {
  fake = await startFakeGoogle();
});
after(() => fake?.close());

type Env = Record<string, string>;

/** Hermetic env + the gcloud trap first on PATH + the proxy; metadata detection off unless a test turns it on. */
const envFor = (home: string, extra: Env = {}, drop: string[] = []): Env => {
  const e: Env = {
    ...baseEnv(home),
    PATH: `${fake.gcloudTrapDir}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    ...fake.env(),
    ...extra,
  };
  for (const k of drop) delete e[k];
  return e;
};

/** Metadata detection as a user without METADATA_SERVER_DETECTION has it, pointed at the fake. */
const metadataEnv = (home: string, extra: Env = {}): Env => ({
  ...envFor(home, { GCE_METADATA_HOST: fake.metadataHost }, ["METADATA_SERVER_DETECTION"]),
  ...extra,
});

const get = (host: string, env: Env) => runCli(["get"], `${host}\n`, env);

const ok = (r: CliResult) => {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stdout} ${r.stderr}`);
  const a = JSON.parse(r.stdout) as { ServerURL: string; Username: string; Secret: string };
  assert.deepEqual(Object.keys(a), ["ServerURL", "Username", "Secret"]);
  assert.equal(a.Username, "oauth2accesstoken");
  assert.ok(!r.stderr.includes(a.Secret), "stderr must not contain the token");
  return a;
};

/** A failed get: exit 1 and exactly one line on stdout. */
const failed = (r: CliResult): string => {
  assert.equal(r.code, 1, `expected exit 1: ${r.stdout} ${r.stderr}`);
  const lines = r.stdout.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 1, `one line expected: ${r.stdout}`);
  return lines[0] ?? "";
};

const clean = async () => {
  assert.deepEqual(fake.rejections, [], "the fake rejected something the client sent");
  assert.equal(await fake.gcloudCalls(), "", "gcloud must never be spawned");
};

const file = (o: unknown) => `${JSON.stringify(o, null, 2)}\n`;

// The google provider as built: its own module (tsc layout) or its own bundle chunk (esbuild).
// Node bundle chunk names, or the module path the single-file executable's tracer records.
const GOOGLE_PROVIDER = /\/dist\/(?:providers\/google|cli\/google-[\w-]+)\.js$|^src\/providers\/google\/google\.ts$/m;
const CLI_ENTRY = /\/dist\/(?:cli\/)?cli\.js$|^src\/cli\.ts$/m;
const GOOGLE_SDK = /node_modules\/(?:google-auth-library|gaxios|gcp-metadata)\//;

describe("metadata server", () => {
  test("default detection probes the metadata host, fetches the token, and a second get is a hit that loads no SDK", async (t) => {
    fake.reset();
    const h = await tmpTree(t);
    const missTrace = join(h, "miss-trace.txt");
    const trace = join(h, "trace.txt");
    const traced = (file: string) => ({ NODE_OPTIONS: `--import ${TRACE_LOADS}`, DCC_TRACE_LOADS: file });
    const r = await get(HOST, metadataEnv(h, { DOCKER_CREDENTIAL_CLOUD_LOG: "debug", ...traced(missTrace) }));
    const a = ok(r);
    assert.equal(a.ServerURL, HOST);
    assert.equal(fake.principalOf(a.Secret), "metadata:default");
    assert.match(r.stderr, /identity metadata server http:\/\/127\.0\.0\.1:\d+/);
    const meta = fake.seen.filter((s) => s.host === "http");
    assert.deepEqual(
      meta.map((s) => s.path),
      ["/computeMetadata/v1/instance/", "/computeMetadata/v1/instance/service-accounts/default/token"],
    );
    assert.ok(meta.every((s) => s.headers["metadata-flavor"] === "Google"));
    assert.deepEqual(fake.proxy.connects, [], "nothing may go through the proxy");
    await clean();
    // The trace does see the SDK when it is loaded (so an empty list below means something).
    const missLoads = await readFile(missTrace, "utf8");
    assert.match(missLoads, GOOGLE_SDK);
    assert.match(missLoads, GOOGLE_PROVIDER);

    fake.reset();
    const hit = await get(HOST, metadataEnv(h, traced(trace)));
    assert.equal(ok(hit).Secret, a.Secret);
    assert.equal(fake.seen.length, 0, "a hit makes no request");
    const loaded = (await readFile(trace, "utf8")).split("\n").filter(Boolean);
    assert.ok(
      loaded.some((u) => CLI_ENTRY.test(u)),
      "the trace saw the CLI",
    );
    const sdk = loaded.filter((u) => u.includes("/node_modules/") || GOOGLE_PROVIDER.test(u));
    assert.deepEqual(sdk, [], "a cache hit must load no SDK, no dependency and no provider");
  });

  test("the token's expiry comes from the client: the cache entry expires when the token does", async (t) => {
    fake.reset();
    fake.ttlSeconds = 1800;
    const h = await tmpTree(t);
    const before = Date.now();
    const a = ok(await get(HOST, metadataEnv(h)));
    const cache = JSON.parse(await readFile(join(h, ".cache", "docker-credential-cloud", "tokens.json"), "utf8"));
    const entries = Object.values(cache.entries) as { secret: string; expiresAt: number; username: string }[];
    const entry = entries.find((e) => e.secret === a.Secret);
    assert.ok(entry);
    assert.ok(entry.expiresAt >= before + 1790_000 && entry.expiresAt <= Date.now() + 1800_000, `${entry.expiresAt}`);
  });

  test("METADATA_SERVER_DETECTION=assume-present is respected: no probe", async (t) => {
    fake.reset();
    const h = await tmpTree(t);
    const a = ok(await get(HOST, metadataEnv(h, { METADATA_SERVER_DETECTION: "assume-present" })));
    assert.equal(fake.principalOf(a.Secret), "metadata:default");
    assert.equal(fake.count("http", "/computeMetadata/v1/instance/"), 0);
    await clean();
  });

  test("a metadata server without a service account: one-line error naming the identity and the fix", async (t) => {
    fake.reset();
    const h = await tmpTree(t);
    fake.metadataHasServiceAccount = false;
    const line = failed(await get(HOST, metadataEnv(h)));
    assert.match(
      line,
      /^docker-credential-cloud: Google metadata server http:\/\/127\.0\.0\.1:\d+ .* could not get an access token for europe-west4-docker\.pkg\.dev: HTTP 404/,
    );
    assert.match(line, /attach one with roles\/artifactregistry\.reader/);
  });
});

describe("credentials files (GOOGLE_APPLICATION_CREDENTIALS, gcloud ADC file)", () => {
  test("service-account key: RS256 JWT-bearer verified by the fake at oauth2.googleapis.com", async (t) => {
    fake.reset();
    const email = "ci@fake-project.iam.gserviceaccount.com";
    const h = await tmpTree(t, { "sa.json": file(fake.serviceAccountKey(email)) });
    const r = await get(
      HOST,
      envFor(h, { GOOGLE_APPLICATION_CREDENTIALS: join(h, "sa.json"), DOCKER_CREDENTIAL_CLOUD_LOG: "debug" }),
    );
    const a = ok(r);
    assert.equal(fake.principalOf(a.Secret), `serviceAccount:${email}`);
    assert.deepEqual(fake.proxy.connects, ["oauth2.googleapis.com:443"], "token_uri in the key file is ignored");
    assert.match(r.stderr, new RegExp(`identity service account key .*sa\\.json \\(${email}\\)`));
    assert.ok(!r.stderr.includes("PRIVATE KEY"));
    await clean();
  });

  test("service-account key the token endpoint does not accept: exit 1, one line with the next step", async (t) => {
    fake.reset();
    const email = "deleted@fake-project.iam.gserviceaccount.com";
    const h = await tmpTree(t, { "sa.json": file(fake.serviceAccountKey(email, { register: false })) });
    const line = failed(await get(HOST, envFor(h, { GOOGLE_APPLICATION_CREDENTIALS: join(h, "sa.json") })));
    assert.match(line, /service account key .*sa\.json \(deleted@fake-project\.iam\.gserviceaccount\.com\)/);
    assert.match(line, /HTTP 400 from oauth2\.googleapis\.com: invalid_grant: Invalid JWT Signature; /);
    assert.match(line, /create a new key/);
  });

  test("gcloud ADC file (authorized_user) from $CLOUDSDK_CONFIG, preferred over the metadata server", async (t) => {
    fake.reset();
    const h = await tmpTree(t, {
      ".config/gcloud/application_default_credentials.json": file(fake.userCredentials("dev@example.com")),
    });
    const a = ok(await get(HOST, metadataEnv(h)));
    assert.equal(fake.principalOf(a.Secret), "user:dev@example.com");
    assert.equal(fake.count("http"), 0, "the metadata server is not consulted when an ADC file exists");
    const sent = new URLSearchParams(fake.seen.find((s) => s.host === "oauth2.googleapis.com")?.body);
    assert.equal(sent.get("grant_type"), "refresh_token");
    await clean();
  });

  test("a revoked gcloud login names `gcloud auth application-default login`", async (t) => {
    fake.reset();
    const user = fake.userCredentials("dev@example.com");
    const creds = { ...user, refresh_token: "1//revoked" };
    const h = await tmpTree(t, { ".config/gcloud/application_default_credentials.json": file(creds) });
    const line = failed(await get(HOST, envFor(h)));
    assert.match(line, /user credentials .*application_default_credentials\.json/);
    assert.match(line, /invalid_grant/);
    assert.match(line, /run `gcloud auth application-default login`/);
    assert.ok(!line.includes("1//revoked") && !line.includes(user.client_secret ?? "-"));
  });

  test("GOOGLE_APPLICATION_CREDENTIALS wins over the gcloud ADC file", async (t) => {
    fake.reset();
    const email = "env@fake-project.iam.gserviceaccount.com";
    const h = await tmpTree(t, {
      "sa.json": file(fake.serviceAccountKey(email)),
      ".config/gcloud/application_default_credentials.json": file(fake.userCredentials("dev@example.com")),
    });
    const a = ok(await get(HOST, envFor(h, { GOOGLE_APPLICATION_CREDENTIALS: join(h, "sa.json") })));
    assert.equal(fake.principalOf(a.Secret), `serviceAccount:${email}`);
  });

  test("GOOGLE_APPLICATION_CREDENTIALS naming a missing file is an error, not 'not found'", async (t) => {
    fake.reset();
    const h = await tmpTree(t);
    const line = failed(await get(HOST, envFor(h, { GOOGLE_APPLICATION_CREDENTIALS: join(h, "nope.json") })));
    assert.match(line, /nope\.json \(from GOOGLE_APPLICATION_CREDENTIALS\) cannot be read \(ENOENT\)/);
  });

  test("impersonated_service_account file: user refresh, then generateAccessToken with the user's token", async (t) => {
    fake.reset();
    const user = fake.userCredentials("admin@example.com");
    fake.allowImpersonation("user:admin@example.com", PULLER);
    const h = await tmpTree(t, {
      "imp.json": file({
        type: "impersonated_service_account",
        service_account_impersonation_url: `https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/${PULLER}:generateAccessToken`,
        delegates: [],
        source_credentials: user,
      }),
    });
    const a = ok(await get(HOST, envFor(h, { GOOGLE_APPLICATION_CREDENTIALS: join(h, "imp.json") })));
    assert.equal(fake.principalOf(a.Secret), `serviceAccount:${PULLER}`);
    assert.deepEqual(fake.proxy.connects, ["oauth2.googleapis.com:443", "iamcredentials.googleapis.com:443"]);
    await clean();
  });
});

describe("external_account (workload identity federation)", () => {
  const external = (source: Record<string, unknown>, impersonate?: string) => ({
    type: "external_account",
    audience: AUDIENCE,
    subject_token_type: source.environment_id ? AWS_TOKEN_TYPE : JWT_TOKEN_TYPE,
    token_url: "https://sts.googleapis.com/v1/token",
    credential_source: source,
    ...(impersonate
      ? {
          service_account_impersonation_url: `https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/${impersonate}:generateAccessToken`,
        }
      : {}),
  });

  test("file source + service account impersonation; no cloudresourcemanager, no gcloud", async (t) => {
    fake.reset();
    fake.trustSts({ audience: AUDIENCE, subjectToken: "file-subject-token", subject: "file-workload" });
    fake.allowImpersonation(`federated:${AUDIENCE}#file-workload`, PULLER);
    const h = await tmpTree(t, { "token.jwt": "file-subject-token" });
    await writeFile(join(h, "wif.json"), file(external({ file: join(h, "token.jwt") }, PULLER)));
    const r = await get(
      HOST,
      envFor(h, { GOOGLE_APPLICATION_CREDENTIALS: join(h, "wif.json"), DOCKER_CREDENTIAL_CLOUD_LOG: "debug" }),
    );
    const a = ok(r);
    assert.equal(fake.principalOf(a.Secret), `serviceAccount:${PULLER}`);
    assert.deepEqual(fake.proxy.connects, ["sts.googleapis.com:443", "iamcredentials.googleapis.com:443"]);
    assert.match(
      r.stderr,
      new RegExp(
        `identity workload identity federation .*wif\\.json \\(file source, pool pool, provider prov \\(project 123456789\\), as ${PULLER}\\)`,
      ),
    );
    await clean();
  });

  test("url source (json format, custom header), direct resource access without impersonation", async (t) => {
    fake.reset();
    fake.trustSts({ audience: AUDIENCE, subjectToken: fake.urlSubjectToken, subject: "url-workload" });
    const h = await tmpTree(t, {
      "wif.json": file(
        external({
          url: `${fake.httpUrl}/subject-token`,
          headers: { "X-Test-Header": "expected" },
          format: { type: "json", subject_token_field_name: "id_token" },
        }),
      ),
    });
    const a = ok(await get(HOST, envFor(h, { GOOGLE_APPLICATION_CREDENTIALS: join(h, "wif.json") })));
    assert.equal(fake.principalOf(a.Secret), `federated:${AUDIENCE}#url-workload`);
    assert.equal(fake.count("http", "/subject-token"), 1);
    await clean();
  });

  test("executable source (GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1)", async (t) => {
    fake.reset();
    fake.trustSts({ audience: AUDIENCE, subjectToken: "exec-subject-token", subject: "exec-workload" });
    const h = await tmpTree(t);
    const script = join(h, "subject.sh");
    await writeFile(
      script,
      [
        "#!/bin/sh",
        // The library tells the executable what it wants; refuse anything else.
        `[ "$GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE" = '${AUDIENCE}' ] || exit 3`,
        `printf '{"version":1,"success":true,"token_type":"${JWT_TOKEN_TYPE}","id_token":"exec-subject-token","expiration_time":%s}' $(( $(date +%s) + 600 ))`,
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    await writeFile(join(h, "wif.json"), file(external({ executable: { command: script, timeout_millis: 10000 } })));
    const e = envFor(h, { GOOGLE_APPLICATION_CREDENTIALS: join(h, "wif.json") });
    const refused = failed(await get(HOST, e));
    assert.match(refused, /GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES/);
    const a = ok(await get(HOST, { ...e, GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES: "1" }));
    assert.equal(fake.principalOf(a.Secret), `federated:${AUDIENCE}#exec-workload`);
    await clean();
  });

  test("aws source: IMDSv2 session, region and role credentials, SigV4-signed GetCallerIdentity verified by the fake", async (t) => {
    fake.reset();
    const aws = {
      accessKeyId: "ASIAFAKEINSTANCE0001",
      secretAccessKey: "fake-instance-secret",
      sessionToken: "fake-session-token",
      region: "eu-central-1",
    };
    fake.awsInstance = aws;
    fake.trustSts({ audience: AUDIENCE, aws, subject: "aws-role" });
    const h = await tmpTree(t, {
      "wif.json": file(
        external({
          environment_id: "aws1",
          region_url: `${fake.httpUrl}/latest/meta-data/placement/availability-zone`,
          url: `${fake.httpUrl}/latest/meta-data/iam/security-credentials`,
          regional_cred_verification_url:
            "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15",
          imdsv2_session_token_url: `${fake.httpUrl}/latest/api/token`,
        }),
      ),
    });
    const a = ok(await get(HOST, envFor(h, { GOOGLE_APPLICATION_CREDENTIALS: join(h, "wif.json") })));
    assert.equal(fake.principalOf(a.Secret), `federated:${AUDIENCE}#aws-role`);
    assert.ok(fake.count("http", "/latest/api/token") >= 1);
    await clean();
  });

  test("a provider that refuses the subject token: one line naming STS and what to check", async (t) => {
    fake.reset();
    const h = await tmpTree(t, { "token.jwt": "not-trusted" });
    await writeFile(join(h, "wif.json"), file(external({ file: join(h, "token.jwt") })));
    const line = failed(await get(HOST, envFor(h, { GOOGLE_APPLICATION_CREDENTIALS: join(h, "wif.json") })));
    assert.match(line, /HTTP 400 from sts\.googleapis\.com/);
    assert.match(line, /check the workload identity pool provider/);
  });
});

describe("config rule overrides", () => {
  test("google.credentialsFile + google.impersonateServiceAccount win over GOOGLE_APPLICATION_CREDENTIALS", async (t) => {
    fake.reset();
    const base = "base@fake-project.iam.gserviceaccount.com";
    fake.allowImpersonation(`serviceAccount:${base}`, PULLER);
    const h = await tmpTree(t, {
      "base.json": file(fake.serviceAccountKey(base)),
      "env.json": file(fake.serviceAccountKey("env@fake-project.iam.gserviceaccount.com")),
    });
    await writeFile(
      join(h, "config.json"),
      JSON.stringify({
        registries: [
          {
            match: "*-docker.pkg.dev",
            google: { credentialsFile: join(h, "base.json"), impersonateServiceAccount: PULLER },
          },
        ],
      }),
    );
    const e = envFor(h, {
      GOOGLE_APPLICATION_CREDENTIALS: join(h, "env.json"),
      DOCKER_CREDENTIAL_CLOUD_CONFIG: join(h, "config.json"),
      DOCKER_CREDENTIAL_CLOUD_LOG: "debug",
    });
    const r = await get(HOST, e);
    const a = ok(r);
    assert.equal(fake.principalOf(a.Secret), `serviceAccount:${PULLER}`);
    const iam = fake.seen.find((s) => s.host === "iamcredentials.googleapis.com");
    assert.equal(iam?.path, `/v1/projects/-/serviceAccounts/${PULLER}:generateAccessToken`);
    assert.match(r.stderr, new RegExp(`base\\.json \\(${base}\\) → impersonate ${PULLER}`));
    // The other host is not covered by the rule and uses GOOGLE_APPLICATION_CREDENTIALS.
    const other = ok(await get("gcr.io", e));
    assert.equal(fake.principalOf(other.Secret), "serviceAccount:env@fake-project.iam.gserviceaccount.com");
    await clean();
  });

  test("impersonation refused by IAM names the role to grant", async (t) => {
    fake.reset();
    const base = "lonely@fake-project.iam.gserviceaccount.com";
    const h = await tmpTree(t, { "base.json": file(fake.serviceAccountKey(base)) });
    await writeFile(
      join(h, "config.json"),
      JSON.stringify({
        registries: [
          { match: HOST, google: { credentialsFile: join(h, "base.json"), impersonateServiceAccount: PULLER } },
        ],
      }),
    );
    const line = failed(await get(HOST, envFor(h, { DOCKER_CREDENTIAL_CLOUD_CONFIG: join(h, "config.json") })));
    assert.match(line, /HTTP 403 from iamcredentials\.googleapis\.com/);
    assert.match(line, new RegExp(`roles/iam\\.serviceAccountTokenCreator on ${PULLER}`));
  });
});

describe("no Google identity", () => {
  test("nothing configured and detection off: not found, a hint on stderr, no traffic, no SDK loaded", async (t) => {
    fake.reset();
    const h = await tmpTree(t);
    const trace = join(h, "trace.txt");
    const r = await get("gcr.io", envFor(h, { NODE_OPTIONS: `--import ${TRACE_LOADS}`, DCC_TRACE_LOADS: trace }));
    assert.equal(failed(r), "credentials not found in native keychain");
    assert.match(r.stderr, /no Google identity for gcr\.io: .*gcloud auth application-default login/);
    assert.equal(fake.seen.length, 0);
    const loaded = await readFile(trace, "utf8");
    assert.match(loaded, GOOGLE_PROVIDER, "the provider ran");
    assert.doesNotMatch(loaded, GOOGLE_SDK);
    await clean();
  });

  test("default detection with no metadata server: one probe, then the negative cache; an ADC file ends it", async (t) => {
    const { gcpMetadata } = await import("google-auth-library");
    if (gcpMetadata.getGCPResidency()) {
      t.skip("this machine looks like Google Cloud (BIOS or serverless env), so the default mode trusts residency");
      return;
    }
    fake.reset();
    fake.metadataEnabled = false;
    const h = await tmpTree(t);
    const e = metadataEnv(h);
    const first = await get(HOST, e);
    assert.equal(failed(first), "credentials not found in native keychain");
    assert.match(first.stderr, /no metadata server at http:\/\/127\.0\.0\.1:\d+/);
    assert.equal(fake.count("http", "/computeMetadata/v1/instance/"), 1);
    const second = await get("eu.gcr.io", e);
    assert.equal(failed(second), "credentials not found in native keychain");
    assert.equal(fake.count("http", "/computeMetadata/v1/instance/"), 1, "the negative cache spares the probe");
    await mkdir(join(h, ".config", "gcloud"), { recursive: true });
    await writeFile(
      join(h, ".config", "gcloud", "application_default_credentials.json"),
      file(fake.userCredentials("late@example.com")),
    );
    const third = ok(await get(HOST, e));
    assert.equal(fake.principalOf(third.Secret), "user:late@example.com");
    await clean();
  });
});

describe("routing and robustness", () => {
  test("look-alike hosts get not-found and no token request, even with an identity present", async (t) => {
    fake.reset();
    const h = await tmpTree(t, { "sa.json": file(fake.serviceAccountKey("x@fake-project.iam.gserviceaccount.com")) });
    const e = envFor(h, { GOOGLE_APPLICATION_CREDENTIALS: join(h, "sa.json") });
    for (const host of ["europe-west4-docker.pkg.dev.evil.com", "gcr.io.evil.com", "evilgcr.io", "docker.pkg.dev"]) {
      assert.equal(failed(await get(host, e)), "credentials not found in native keychain", host);
    }
    assert.equal(fake.seen.length, 0);
  });

  /** `get` as service account `account` with a 1 s timeout: its one failure line. */
  const failsWithin1s = async (t: TestContext, account: string) => {
    const h = await tmpTree(t, { "sa.json": file(fake.serviceAccountKey(account)) });
    return failed(
      await get(
        HOST,
        envFor(h, { GOOGLE_APPLICATION_CREDENTIALS: join(h, "sa.json"), DOCKER_CREDENTIAL_CLOUD_TIMEOUT: "1" }),
      ),
    );
  };

  test("a silent token endpoint becomes a one-line error within the configured timeout", async (t) => {
    fake.reset();
    fake.hang = true;
    const line = await failsWithin1s(t, "slow@fake-project.iam.gserviceaccount.com");
    assert.match(
      line,
      /slow@fake-project\.iam\.gserviceaccount\.com.*oauth2\.googleapis\.com did not answer within 1 s/,
    );
    fake.hang = false;
  });

  test("a token endpoint that sends its headers, then stalls the body: the timeout line, one request, no retry", async (t) => {
    fake.reset();
    fake.stallBody = true;
    t.after(() => {
      fake.stallBody = false;
    });
    const line = await failsWithin1s(t, "stall@fake-project.iam.gserviceaccount.com");
    assert.match(
      line,
      /: Google .*stall@fake-project\.iam\.gserviceaccount\.com.*: oauth2\.googleapis\.com did not answer within 1 s \(timeout\)/,
    );
    assert.equal(fake.count("oauth2.googleapis.com", "/token"), 1, "the token request was not retried");
  });

  test("list shows the Google registry with its username after a get", async (t) => {
    fake.reset();
    const h = await tmpTree(t);
    ok(await get(HOST, metadataEnv(h, { METADATA_SERVER_DETECTION: "assume-present" })));
    const r = await runCli(["list"], "", metadataEnv(h));
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(r.stdout), { [HOST]: "oauth2accesstoken" });
  });
});
