// With every debug knob on — ours and the SDKs' (GOOGLE_SDK_NODE_LOGGING, AZURE_LOG_LEVEL, AWS via
// DEBUG, the `debug` package's DEBUG=*, Node's NODE_DEBUG for http/https/tls/net) — no token, key
// or secret reaches stderr, and stdout carries only the protocol answer. Run against each cloud's
// fake with a real token flow (through the fakes' proxies, so the proxy code logs too).
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { baseEnv, DEBUG_KNOBS, runCli } from "../support/cli.ts";
import { awsEnv, type FakeAws, startFakeAws } from "../support/fake-aws.ts";
import { type FakeAzure, fakeAzureHome, startFakeAzure, TENANT } from "../support/fake-azure.ts";
import { type FakeGoogle, startFakeGoogle } from "../support/fake-google.ts";
import { tmpTree } from "../support/tmp.ts";

/** stdout is one JSON answer; none of `secrets` (nor their base64) appears on stderr. */
const clean = (r: { code: number | null; stdout: string; stderr: string }, secrets: string[]) => {
  assert.equal(r.code, 0, r.stdout + r.stderr.slice(-2000));
  const answer = JSON.parse(r.stdout) as { Secret: string };
  assert.ok(r.stderr.length > 0, "the knobs produced logs");
  for (const s of [...secrets, answer.Secret]) {
    for (const form of [s, Buffer.from(s).toString("base64")]) {
      assert.ok(!r.stderr.includes(form), `stderr contains a secret (${form.slice(0, 6)}…)`);
    }
  }
  return answer;
};

describe("no secret in the logs, every debug knob on", () => {
  let google: FakeGoogle;
  let azure: FakeAzure;
  let aws: FakeAws;
  before(async () => {
    google = await startFakeGoogle();
    azure = await startFakeAzure({
      clients: { "sp-app": { secret: "sp-secret-value-0123456789" } },
      registries: { "myregistry.azurecr.io": {} },
    });
    aws = await startFakeAws({ keys: { AKIADEBUGTEST: "aws-secret-key-0123456789" } });
  });
  after(async () => {
    await google?.close();
    await azure?.close();
    await aws?.close();
  });

  test("AWS (static keys → ECR)", async (t) => {
    const home = await tmpTree(t);
    const env = { ...baseEnv(home), ...awsEnv(aws, "AKIADEBUGTEST", "aws-secret-key-0123456789"), ...DEBUG_KNOBS };
    const r = await runCli(["get"], "123456789012.dkr.ecr.eu-west-1.amazonaws.com\n", env);
    clean(r, ["aws-secret-key-0123456789"]);
  });

  test("Google (service account key → OAuth token)", async (t) => {
    const home = await tmpTree(t);
    const key = google.serviceAccountKey("puller@fake-project.iam.gserviceaccount.com");
    const file = join(home, "key.json");
    await writeFile(file, JSON.stringify(key));
    const env = { ...baseEnv(home), ...google.env(), GOOGLE_APPLICATION_CREDENTIALS: file, ...DEBUG_KNOBS };
    const r = await runCli(["get"], "europe-west4-docker.pkg.dev\n", env);
    const privateKeyBody = (key.private_key ?? "").split("\n")[1] ?? "";
    clean(r, [privateKeyBody, ...google.issued.keys()]);
  });

  test("Azure (service principal → Entra token → ACR refresh token)", async (t) => {
    const sp = {
      AZURE_TENANT_ID: TENANT,
      AZURE_CLIENT_ID: "sp-app",
      AZURE_CLIENT_SECRET: "sp-secret-value-0123456789",
    };
    const { env } = await fakeAzureHome(azure, t, { ...sp, ...DEBUG_KNOBS });
    const r = await runCli(["get"], "myregistry.azurecr.io\n", env);
    clean(r, ["sp-secret-value-0123456789", ...azure.tokens.keys()]);
  });
});
