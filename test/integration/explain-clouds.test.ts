// `explain` against ACR and Google registries: the BUILT CLI's probe exchanges the credentials at the
// registry's token endpoint as Docker does (ACR: GET /oauth2/token with Basic
// 00000000-0000-0000-0000-000000000000:<refresh token>; Google: GET /v2/token with Basic
// oauth2accesstoken:<access token>), then probes with the registry token. The fakes (behind the MITM
// proxy, real host names) check what they receive and deny the way each registry does: ACR's 401
// "authentication required, visit https://aka.ms/acr/authorization …", Artifact Registry's 403
// DENIED "Permission … denied on resource …". Each run names the principal and the next step for
// that cloud, and prints no token (human and --json).
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { baseEnv, type CliResult, runCli } from "../support/cli.ts";
import { assertExplainSchema } from "../support/explain-schema.ts";
import {
  ACR_UNAUTHORIZED,
  ACR_USER,
  type FakeAzure,
  fakeAzureHome,
  objectIdOf,
  startFakeAzure,
  TENANT,
} from "../support/fake-azure.ts";
import { type FakeGoogle, startFakeGoogle } from "../support/fake-google.ts";
import { tmpTree } from "../support/tmp.ts";

const basicOf = (header: string | undefined) => {
  const decoded = Buffer.from(/^Basic (.+)$/.exec(header ?? "")?.[1] ?? "", "base64").toString("utf8");
  const i = decoded.indexOf(":");
  return { user: decoded.slice(0, i), secret: decoded.slice(i + 1) };
};

const noneOf = (r: CliResult, secrets: string[]) => {
  const all = r.stdout + r.stderr;
  for (const s of secrets) assert.ok(s.length > 8 && !all.includes(s), `a token leaked: ${s.slice(0, 12)}…`);
  assert.doesNotMatch(all, /(Basic|Bearer) [A-Za-z0-9+/=._-]{8,}/, "an Authorization header leaked");
};

describe("explain: ACR", () => {
  const HOST = "myregistry.azurecr.io";
  let fake: FakeAzure;
  before(async () => {
    fake = await startFakeAzure({
      clients: { "puller-app": { secret: "puller-secret-value" }, "other-app": { secret: "other-secret-value" } },
      registries: { [HOST]: { repos: { "team/foo": ["1"] }, pullers: ["puller-app"] } },
    });
  });
  after(() => fake?.close());

  const envFor = async (t: Parameters<typeof tmpTree>[0], app: string) =>
    (
      await fakeAzureHome(fake, t, {
        AZURE_TENANT_ID: TENANT,
        AZURE_CLIENT_ID: app,
        AZURE_CLIENT_SECRET: `${app.replace("-app", "")}-secret-value`,
      })
    ).env;

  /** The token step as the fake saw it: Docker's GET with Basic, for this repository on this registry. */
  const tokenCall = () => {
    const c = fake.calls.filter((x) => x.path === "/oauth2/token");
    assert.equal(c.length, 1, "one token request");
    const call = c[0];
    assert.equal(call?.method, "GET");
    assert.equal(call?.query.service, HOST);
    assert.equal(call?.query.scope, "repository:team/foo:pull");
    const basic = basicOf(call?.headers.authorization);
    assert.equal(basic.user, ACR_USER);
    return { call, refresh: basic.secret };
  };

  const secretsSeen = (refresh: string) => [
    refresh,
    ...fake.tokens.keys(),
    ...fake.registryTokens.keys(),
    "-secret-value",
  ];

  test("AcrPull holder: token, /v2/ and the manifest accepted, exit 0", async (t) => {
    fake.calls.length = 0;
    const env = await envFor(t, "puller-app");
    const r = await runCli(["explain", `${HOST}/team/foo:1`], "", env);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const { refresh } = tokenCall();
    assert.match(r.stdout, /principal +application puller-app/);
    assert.match(
      r.stdout,
      /GET https:\/\/myregistry\.azurecr\.io\/oauth2\/token\?service=.* → 200 {2}\(registry token\)/,
    );
    assert.match(r.stdout, /HEAD https:\/\/myregistry\.azurecr\.io\/v2\/team\/foo\/manifests\/1 → 200/);
    assert.match(r.stdout, /this pull would succeed/);
    // The probe used the registry's access token, with pull rights, at the manifest.
    const head = fake.calls.find((x) => x.method === "HEAD");
    const bearer = /^Bearer (.+)$/.exec(head?.headers.authorization ?? "")?.[1] ?? "";
    assert.deepEqual(fake.registryTokens.get(bearer), { host: HOST, who: "puller-app", repo: "team/foo", pull: true });
    noneOf(r, secretsSeen(refresh));
    const out = await runCli(["explain", "--json", `${HOST}/team/foo:1`], "", env);
    assertExplainSchema(JSON.parse(out.stdout), "ACR allowed");
    noneOf(out, secretsSeen(refresh));
    assert.deepEqual(fake.unexpected, []);
  });

  test("no AcrPull: ACR's own 401 quoted, the principal named, the AcrPull assignment as next step", async (t) => {
    fake.calls.length = 0;
    const env = await envFor(t, "other-app");
    const r = await runCli(["explain", `${HOST}/team/foo:1`], "", env);
    assert.equal(r.code, 5, `${r.stdout}\n${r.stderr}`);
    const { refresh } = tokenCall();
    const oid = objectIdOf({ src: "secret", appid: "other-app" });
    assert.match(r.stdout, new RegExp(`principal +application other-app \\(object id ${oid}\\) in tenant ${TENANT}`));
    assert.ok(r.stdout.includes(`registry says: "${ACR_UNAUTHORIZED}"`), r.stdout);
    assert.match(
      r.stdout,
      /→ next: assign application other-app .* the AcrPull role on the registry myregistry: az role assignment create --assignee other-app --role AcrPull --scope "\$\(az acr show --name myregistry --query id --output tsv\)"/,
    );
    assert.doesNotMatch(r.stdout, /erase the cached token/);
    noneOf(r, secretsSeen(refresh));
    const j = JSON.parse((await runCli(["explain", "--json", `${HOST}/team/foo:1`], "", env)).stdout);
    assert.equal(j.verdict.code, 5);
    assert.equal(j.identity.facts.appId, "other-app");
    assert.equal(j.probe.token.status, 200);
    assert.equal(j.probe.manifest.status, 401);
    assert.equal(j.probe.manifest.error.message, ACR_UNAUTHORIZED);
    assert.match(j.verdict.next, /AcrPull/);
    assertExplainSchema(j, "ACR denied");
    noneOf({ code: 0, stdout: JSON.stringify(j), stderr: "" }, secretsSeen(refresh));
  });
});

describe("explain: Google (Artifact Registry)", () => {
  const HOST = "europe-west4-docker.pkg.dev";
  const IMAGE = `${HOST}/fake-project/images/app:1`;
  const PULLER = "puller@fake-project.iam.gserviceaccount.com";
  const OTHER = "intruder@fake-project.iam.gserviceaccount.com";
  let fake: FakeGoogle;
  before(async () => {
    fake = await startFakeGoogle();
  });
  after(() => fake?.close());

  const envFor = async (t: Parameters<typeof tmpTree>[0], email: string) => {
    const home = await tmpTree(t, { "sa.json": JSON.stringify(fake.serviceAccountKey(email)) });
    return {
      ...baseEnv(home),
      PATH: `${fake.gcloudTrapDir}:${process.env.PATH ?? "/usr/bin:/bin"}`,
      ...fake.env(),
      GOOGLE_APPLICATION_CREDENTIALS: join(home, "sa.json"),
    };
  };

  const setRegistry = (denyAt?: "token" | "manifest") => {
    fake.reset();
    fake.registryTokens.clear();
    fake.registry = {
      repos: { "fake-project/images": { images: { app: ["1"] }, readers: [`serviceAccount:${PULLER}`] } },
      ...(denyAt ? { denyAt } : {}),
    };
  };

  /** The token step as the fake saw it: GET /v2/token with Basic oauth2accesstoken:<the access token>. */
  const tokenCall = (email: string) => {
    const c = fake.seen.filter((s) => s.host === HOST && s.path === "/v2/token");
    assert.equal(c.length, 1, "one token request");
    const basic = basicOf(String(c[0]?.headers.authorization ?? ""));
    assert.equal(basic.user, "oauth2accesstoken");
    assert.equal(fake.principalOf(basic.secret), `serviceAccount:${email}`);
    return basic.secret;
  };
  const tokenQuery = () => {
    const s = fake.seen.find((x) => x.host === HOST && x.path === "/v2/token");
    return s;
  };

  const secretsSeen = () => [...fake.issued.keys(), ...fake.registryTokens.keys()];

  test("a reader: token, /v2/ and the manifest accepted, exit 0", async (t) => {
    setRegistry();
    const env = await envFor(t, PULLER);
    const r = await runCli(["explain", IMAGE], "", env);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    tokenCall(PULLER);
    assert.ok(tokenQuery(), "the token endpoint was asked");
    const [tok] = [...fake.registryTokens.values()];
    assert.deepEqual(tok, {
      host: HOST,
      principal: `serviceAccount:${PULLER}`,
      scope: "repository:fake-project/images/app:pull",
      pull: true,
    });
    assert.match(r.stdout, new RegExp(`principal +serviceAccount:${PULLER.replace(/\./g, "\\.")}`));
    assert.match(
      r.stdout,
      /GET https:\/\/europe-west4-docker\.pkg\.dev\/v2\/token\?service=europe-west4-docker\.pkg\.dev&scope=repository%3Afake-project%2Fimages%2Fapp%3Apull → 200/,
    );
    assert.match(r.stdout, /this pull would succeed/);
    noneOf(r, secretsSeen());
    const out = await runCli(["explain", "--json", IMAGE], "", env);
    assertExplainSchema(JSON.parse(out.stdout), "Google allowed");
    noneOf(out, secretsSeen());
    assert.deepEqual(fake.rejections, []);
  });

  for (const denyAt of ["manifest", "token"] as const) {
    test(`no reader role (denied at the ${denyAt}): Artifact Registry's 403 quoted, roles/artifactregistry.reader as next step`, async (t) => {
      setRegistry(denyAt);
      const env = await envFor(t, OTHER);
      const r = await runCli(["explain", IMAGE], "", env);
      assert.equal(r.code, 5, `${r.stdout}\n${r.stderr}`);
      tokenCall(OTHER);
      assert.match(r.stdout, new RegExp(`principal +serviceAccount:${OTHER.replace(/\./g, "\\.")}`));
      assert.ok(
        r.stdout.includes(
          'registry says: "Permission "artifactregistry.repositories.downloadArtifacts" denied on resource "projects/fake-project/locations/europe-west4/repositories/images" (or it may not exist)"',
        ),
        r.stdout,
      );
      assert.ok(
        r.stdout.includes(
          `→ next: grant serviceAccount:${OTHER} roles/artifactregistry.reader on the repository projects/fake-project/locations/europe-west4/repositories/images: gcloud artifacts repositories add-iam-policy-binding images --project=fake-project --location=europe-west4 --member=serviceAccount:${OTHER} --role=roles/artifactregistry.reader`,
        ),
        r.stdout,
      );
      assert.doesNotMatch(r.stdout, /erase the cached token/);
      noneOf(r, secretsSeen());
      const out = await runCli(["explain", "--json", IMAGE], "", env);
      const j = JSON.parse(out.stdout);
      assert.equal(j.verdict.code, 5);
      assert.equal(j.identity.principal, `serviceAccount:${OTHER}`);
      if (denyAt === "token") {
        assert.equal(j.probe.token.status, 403);
        assert.equal(j.probe.token.error.code, "DENIED");
        assert.equal(j.probe.base, undefined);
      } else assert.equal(j.probe.manifest.status, 403);
      assert.match(j.verdict.next, /roles\/artifactregistry\.reader/);
      assertExplainSchema(j, `Google denied at the ${denyAt}`);
      noneOf(out, secretsSeen());
      assert.deepEqual(fake.rejections, []);
    });
  }
});
