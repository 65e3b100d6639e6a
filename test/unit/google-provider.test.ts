// The google provider's pure parts (error lines, descriptions, audiences) with plain objects, and
// the metadata presence probe against tiny local servers. Importing the provider loads no SDK.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { ConfigError, NoIdentityError, ProviderError } from "../../src/errors.ts";
import {
  classifyGoogleError,
  describeAudience,
  describeCredentials,
  metadataBase,
  normalizeAudience,
  probeMetadata,
} from "../../src/providers/google/google.ts";

const plan = (kind: string, describe = "X", impersonate?: string) =>
  ({ kind, describe, impersonate, client: {} }) as unknown as Parameters<typeof classifyGoogleError>[2];

const gaxiosError = (url: string, status: number, data: unknown) => ({
  message: "Request failed",
  config: { url },
  response: { status, data },
});

test("OAuth errors: status, endpoint, the server's words and a next step that fits the identity", () => {
  const e = classifyGoogleError(
    gaxiosError("https://oauth2.googleapis.com/token", 400, {
      error: "invalid_grant",
      error_description: "Bad Request",
    }),
    "gcr.io",
    plan("authorized_user", "user credentials /adc.json (gcloud application-default login)"),
    10_000,
  );
  assert.ok(e instanceof ProviderError);
  assert.equal(
    e.message,
    "Google user credentials /adc.json (gcloud application-default login) could not get an access token for gcr.io: HTTP 400 from oauth2.googleapis.com: invalid_grant: Bad Request; the login has expired or was revoked: run `gcloud auth application-default login`",
  );
});

test("Google API errors (IAM): status text and message; role to grant on the target", () => {
  const e = classifyGoogleError(
    gaxiosError("https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/p@x:generateAccessToken", 403, {
      error: { code: 403, status: "PERMISSION_DENIED", message: "denied" },
    }),
    "gcr.io",
    plan("service_account", "service account key /k.json (a@x)", "p@x"),
    10_000,
  );
  assert.match(
    e.message,
    /HTTP 403 from iamcredentials\.googleapis\.com: PERMISSION_DENIED: denied; grant the base identity roles\/iam\.serviceAccountTokenCreator on p@x$/,
  );
});

test("network failures and timeouts are named as such", () => {
  const refused = classifyGoogleError(
    {
      message: "connect ECONNREFUSED",
      config: { url: "https://sts.googleapis.com/v1/token" },
      cause: { code: "ECONNREFUSED" },
    },
    "gcr.io",
    plan("external_account"),
    10_000,
  );
  assert.match(refused.message, /sts\.googleapis\.com unreachable \(ECONNREFUSED\); check network, proxy/);
  const slow = classifyGoogleError(
    {
      name: "Error",
      message: "The operation was aborted.",
      config: { url: "https://oauth2.googleapis.com/token" },
      cause: { name: "AbortError" },
    },
    "gcr.io",
    plan("service_account"),
    2_000,
  );
  assert.match(slow.message, /oauth2\.googleapis\.com did not answer within 2 s \(timeout\)/);
});

test("secrets echoed by an endpoint are scrubbed from the line", () => {
  const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl";
  const e = classifyGoogleError(
    gaxiosError("https://oauth2.googleapis.com/token", 400, `bad assertion ${jwt}`),
    "gcr.io",
    plan("service_account"),
    10_000,
  );
  assert.ok(!e.message.includes(jwt), e.message);
});

test("our own errors pass through unchanged", () => {
  for (const err of [new ProviderError("p"), new ConfigError("c"), new NoIdentityError("n")]) {
    assert.equal(classifyGoogleError(err, "gcr.io", plan("metadata"), 1000), err);
  }
});

test("credentials files are described by type and principal, never by secret", () => {
  assert.equal(
    describeCredentials(
      { type: "service_account", client_email: "a@p.iam.gserviceaccount.com", private_key: "SECRET" },
      "/k.json",
    ),
    "service account key /k.json (a@p.iam.gserviceaccount.com)",
  );
  assert.equal(
    describeCredentials({ type: "authorized_user", refresh_token: "SECRET" }, "/adc.json"),
    "user credentials /adc.json (gcloud application-default login)",
  );
  assert.equal(
    describeCredentials(
      {
        type: "impersonated_service_account",
        service_account_impersonation_url:
          "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/t@p.iam.gserviceaccount.com:generateAccessToken",
      },
      "/i.json",
    ),
    "impersonated service account t@p.iam.gserviceaccount.com (/i.json)",
  );
  assert.equal(
    describeCredentials(
      {
        type: "external_account",
        audience: "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x",
        credential_source: { environment_id: "aws1" },
      },
      "/w.json",
    ),
    "workload identity federation /w.json (aws source, pool p, provider x (project 1))",
  );
});

test("audiences: short form normalised, described for humans", () => {
  const full = "//iam.googleapis.com/projects/42/locations/global/workloadIdentityPools/pool/providers/prov";
  assert.equal(normalizeAudience("projects/42/locations/global/workloadIdentityPools/pool/providers/prov"), full);
  assert.equal(normalizeAudience(full), full);
  assert.equal(describeAudience(full), "pool pool, provider prov (project 42)");
  assert.equal(
    describeAudience("identitynamespace:p.svc.id.goog:https://x"),
    "identitynamespace:p.svc.id.goog:https://x",
  );
});

test("metadata base URL follows GCE_METADATA_IP, then GCE_METADATA_HOST, as the library does", () => {
  assert.equal(metadataBase({}), "http://169.254.169.254");
  assert.equal(metadataBase({ GCE_METADATA_HOST: "127.0.0.1:8080" }), "http://127.0.0.1:8080");
  assert.equal(metadataBase({ GCE_METADATA_HOST: "h:1", GCE_METADATA_IP: "10.0.0.1" }), "http://10.0.0.1");
});

const serve = async (t: { after: (fn: () => unknown) => void }, handler: Parameters<typeof createServer>[1]) => {
  const srv: Server = createServer(handler);
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  t.after(() => {
    srv.closeAllConnections();
    return new Promise((r) => srv.close(r));
  });
  return `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
};

test("probe: present only when the answer carries Metadata-Flavor: Google", async (t) => {
  const seen: (string | undefined)[] = [];
  const real = await serve(t, (req, res) => {
    seen.push(req.headers["metadata-flavor"] as string | undefined);
    res.writeHead(200, { "Metadata-Flavor": "Google" }).end("attributes/\n");
  });
  const impostor = await serve(t, (_req, res) => res.writeHead(200).end("hello"));
  assert.equal(await probeMetadata(real, 2000), true);
  assert.deepEqual(seen, ["Google"]);
  assert.equal(await probeMetadata(impostor, 2000), false);
  assert.equal(await probeMetadata("http://127.0.0.1:9", 2000), false);
});

test("probe: a silent server counts as absent once the probe's time is up", async (t) => {
  const silent = await serve(t, () => {});
  assert.equal(await probeMetadata(silent, 100), false);
});

test("probe: a base URL that cannot be requested counts as absent", async () => {
  assert.equal(await probeMetadata("http://[not a host", 100), false);
});
