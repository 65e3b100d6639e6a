// The Google identity of a route: computed from env and config only, stable across processes, and
// different whenever a different identity would be used.
import assert from "node:assert/strict";
import { test } from "node:test";
import { adcFile, explicitCredentialsFile, googleIdentity } from "../../src/identity/google.ts";

const HOME = "/home/u";

test("the gcloud ADC file follows CLOUDSDK_CONFIG, else ~/.config/gcloud", () => {
  assert.equal(adcFile({}, HOME), "/home/u/.config/gcloud/application_default_credentials.json");
  assert.equal(adcFile({ CLOUDSDK_CONFIG: "/etc/gcloud" }, HOME), "/etc/gcloud/application_default_credentials.json");
});

test("the config rule's credentials file wins over GOOGLE_APPLICATION_CREDENTIALS", () => {
  assert.deepEqual(
    explicitCredentialsFile({ GOOGLE_APPLICATION_CREDENTIALS: "/env.json" }, { credentialsFile: "/rule.json" }),
    {
      file: "/rule.json",
      from: "config",
    },
  );
  assert.deepEqual(explicitCredentialsFile({ GOOGLE_APPLICATION_CREDENTIALS: "/env.json" }), {
    file: "/env.json",
    from: "GOOGLE_APPLICATION_CREDENTIALS",
  });
  assert.equal(explicitCredentialsFile({}), undefined);
});

test("labels name the source and the impersonated account", () => {
  assert.equal(
    googleIdentity({}, HOME).label,
    "application default credentials (/home/u/.config/gcloud/application_default_credentials.json, else the metadata server)",
  );
  assert.equal(
    googleIdentity({ GOOGLE_APPLICATION_CREDENTIALS: "/k.json" }, HOME).label,
    "credentials file /k.json (GOOGLE_APPLICATION_CREDENTIALS)",
  );
  assert.equal(
    googleIdentity({}, HOME, { credentialsFile: "/r.json", impersonateServiceAccount: "p@x.iam.gserviceaccount.com" })
      .label,
    "credentials file /r.json (config) → impersonate p@x.iam.gserviceaccount.com",
  );
});

test("the key is stable, and changes with every input that selects a different identity", () => {
  const base = googleIdentity({}, HOME).key;
  assert.equal(googleIdentity({}, HOME).key, base);
  assert.equal(googleIdentity({ UNRELATED: "x", PATH: "/bin" }, HOME).key, base);
  const variants = [
    googleIdentity({ GOOGLE_APPLICATION_CREDENTIALS: "/a.json" }, HOME),
    googleIdentity({ GOOGLE_APPLICATION_CREDENTIALS: "/b.json" }, HOME),
    googleIdentity({ CLOUDSDK_CONFIG: "/c" }, HOME),
    googleIdentity({}, "/home/other"),
    googleIdentity({ GCE_METADATA_HOST: "127.0.0.1:1" }, HOME),
    googleIdentity({ METADATA_SERVER_DETECTION: "none" }, HOME),
    googleIdentity({}, HOME, { credentialsFile: "/a.json" }),
    googleIdentity({}, HOME, { impersonateServiceAccount: "p@x.iam.gserviceaccount.com" }),
    googleIdentity({}, HOME, { workloadIdentityProvider: "//iam.googleapis.com/projects/1/x" }),
  ].map((i) => i.key);
  assert.equal(new Set([base, ...variants]).size, variants.length + 1);
  assert.ok(variants.every((k) => /^[0-9a-f]{16}$/.test(k)));
});

test("watch lists the ADC file and the explicit file, so creating either ends a negative cache entry", () => {
  assert.deepEqual(googleIdentity({}, HOME).watch, ["/home/u/.config/gcloud/application_default_credentials.json"]);
  assert.deepEqual(googleIdentity({ GOOGLE_APPLICATION_CREDENTIALS: "/k.json" }, HOME).watch, [
    "/home/u/.config/gcloud/application_default_credentials.json",
    "/k.json",
  ]);
});
