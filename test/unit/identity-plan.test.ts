// The per-cloud identity plans (pure: configuration, environment and given facts in, the ordered
// sources out) that the provider walks and the operator verbs will show.
import assert from "node:assert/strict";
import { test } from "node:test";
import { EMPTY_CONFIG } from "../../src/config.ts";
import { awsIdentityPlan } from "../../src/providers/aws/ecr.ts";
import { azureIdentityPlan } from "../../src/providers/azure/acr.ts";
import { googleIdentityPlan } from "../../src/providers/google/google.ts";
import type { IdentityPlan } from "../../src/providers/types.ts";
import { type AcrRoute, resolveRoute } from "../../src/resolver.ts";
import type { Env, Settings } from "../../src/settings.ts";

const summary = (p: IdentityPlan) => p.sources.map((s) => `${s.kind}:${s.status}`);

test("AWS: environment keys, shared files, web identity, container, IMDS; a named profile stands alone", () => {
  assert.deepEqual(summary(awsIdentityPlan({})), [
    "env:unavailable",
    "shared:probe",
    "web:unavailable",
    "container:unavailable",
    "imds:probe",
  ]);
  assert.deepEqual(summary(awsIdentityPlan({ AWS_ACCESS_KEY_ID: "AKIA", AWS_SECRET_ACCESS_KEY: "x" })).slice(0, 2), [
    "env:selected",
    "shared:probe",
  ]);
  assert.equal(awsIdentityPlan({ AWS_EC2_METADATA_DISABLED: "true" }).sources[4]?.status, "unavailable");
  const named = awsIdentityPlan({ AWS_PROFILE: "dev", AWS_ACCESS_KEY_ID: "AKIA" }, { roleArn: "arn:r" });
  assert.deepEqual(summary(named), ["profile:selected"]);
  assert.equal(named.afterwards, "assume arn:r");
  // Kubelet service-account tokens, as upstream's ecr-credential-provider: the ECR role annotation,
  // else AWS_ECR_ROLE_ARN; the IRSA annotation is not read; no role → the node's own chain.
  const ecr = awsIdentityPlan(
    {},
    {},
    {
      token: "t",
      annotations: { "eks.amazonaws.com/ecr-role-arn": "arn:ecr", "eks.amazonaws.com/role-arn": "arn:irsa" },
    },
  );
  assert.deepEqual(summary(ecr), ["kubelet:selected"]);
  assert.match(ecr.sources[0]?.label ?? "", /arn:ecr/);
  const fromEnv = awsIdentityPlan({ AWS_ECR_ROLE_ARN: "arn:env" }, {}, { token: "t", annotations: {} });
  assert.match(fromEnv.sources[0]?.label ?? "", /arn:env/);
  const irsaOnly = awsIdentityPlan(
    { AWS_ACCESS_KEY_ID: "AKIA", AWS_SECRET_ACCESS_KEY: "x" },
    {},
    { token: "t", annotations: { "eks.amazonaws.com/role-arn": "arn:irsa" } },
  );
  assert.deepEqual(summary(irsaOnly).slice(0, 3), ["kubelet:unavailable", "env:selected", "shared:probe"]);
  assert.match(irsaOnly.sources[0]?.reason ?? "", /→ node credentials, as upstream ecr-credential-provider/);
  const empty = awsIdentityPlan(
    { AWS_ECR_ROLE_ARN: "arn:env" },
    {},
    { token: "t", annotations: { "eks.amazonaws.com/ecr-role-arn": "" } },
  );
  assert.equal(empty.sources[0]?.status, "unavailable", "an annotation sent empty hides AWS_ECR_ROLE_ARN");
});

test("Google: explicit file, gcloud ADC file, metadata server; the first present one is selected", () => {
  const none = googleIdentityPlan({}, "/h", {}, undefined, { adcFileExists: false });
  assert.deepEqual(summary(none), ["file:unavailable", "adc:unavailable", "metadata:probe"]);
  assert.match(none.sources[1]?.label ?? "", /\/h\/\.config\/gcloud\/application_default_credentials\.json/);
  const adc = googleIdentityPlan({}, "/h", {}, undefined, { adcFileExists: true });
  assert.deepEqual(summary(adc), ["file:unavailable", "adc:selected", "metadata:available"]);
  const file = googleIdentityPlan({ GOOGLE_APPLICATION_CREDENTIALS: "/k.json" }, "/h", {}, undefined, {
    adcFileExists: true,
  });
  assert.deepEqual(summary(file), ["file:selected", "adc:available", "metadata:available"]);
  const off = googleIdentityPlan({ METADATA_SERVER_DETECTION: "none" }, "/h", {}, undefined, { adcFileExists: false });
  assert.equal(off.sources[2]?.status, "unavailable");
  const imp = googleIdentityPlan({}, "/h", { impersonateServiceAccount: "sa@p.iam.gserviceaccount.com" }, undefined, {
    adcFileExists: true,
  });
  assert.equal(imp.afterwards, "impersonate sa@p.iam.gserviceaccount.com");
  const k = googleIdentityPlan(
    {},
    "/h",
    { workloadIdentityProvider: "projects/1/x" },
    { token: "t", annotations: {} },
    {
      adcFileExists: true,
    },
  );
  assert.deepEqual(summary(k), ["kubelet:selected"]);
});

test("Azure: a configured service principal is selected; managed identity and the CLI are probed", () => {
  const route = (env: Env) => {
    const settings = { env, home: "/h", config: EMPTY_CONFIG } as unknown as Settings;
    return resolveRoute("myregistry.azurecr.io", settings) as AcrRoute;
  };
  assert.deepEqual(summary(azureIdentityPlan(route({}), {})), [
    "environment:unavailable",
    "workload:unavailable",
    "managed:probe",
    "cli:probe",
  ]);
  const sp = { AZURE_TENANT_ID: "t", AZURE_CLIENT_ID: "c", AZURE_CLIENT_SECRET: "s" };
  assert.deepEqual(summary(azureIdentityPlan(route(sp), sp)).slice(0, 3), [
    "environment:selected",
    "workload:unavailable",
    "managed:available",
  ]);
});
