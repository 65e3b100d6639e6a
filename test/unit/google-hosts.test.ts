// Google registry hosts are recognised by shape (no region list), anchored at both ends; look-alikes
// get no route, so they can never receive a Google token.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isGoogleHost, parseServerUrl } from "../../src/registry/hosts.ts";
import { providerForHost } from "../../src/resolver.ts";

const GOOGLE: readonly string[] = [
  // Container Registry (now served by Artifact Registry "gcr.io" repositories)
  "gcr.io",
  "us.gcr.io",
  "eu.gcr.io",
  "asia.gcr.io",
  "marketplace.gcr.io",
  "k8s.gcr.io",
  "staging-k8s.gcr.io",
  "mirror.gcr.io",
  // Artifact Registry, regions and multi-regions, including ones added after this was written
  "us-docker.pkg.dev",
  "europe-docker.pkg.dev",
  "asia-docker.pkg.dev",
  "europe-west4-docker.pkg.dev",
  "us-central1-docker.pkg.dev",
  "northamerica-northeast2-docker.pkg.dev",
  "me-central2-docker.pkg.dev",
  "africa-south1-docker.pkg.dev",
  "us-future9-docker.pkg.dev",
  // Artifact Registry regional (data-residency) endpoints
  "docker.europe-west4.rep.pkg.dev",
  "docker.us-central1.rep.pkg.dev",
  "docker.me-central2.rep.pkg.dev",
  // GKE's own image host
  "container.cloud.google.com",
];

const NOT_GOOGLE: readonly string[] = [
  "gcr.io.evil.com",
  "eu.gcr.io.evil.com",
  "evilgcr.io",
  "gcr.iox",
  "a.b.gcr.io",
  "-eu.gcr.io",
  "eu-.gcr.io",
  "gcr.io:5000",
  "europe-west4-docker.pkg.dev.evil.com",
  "europe-west4-docker.pkg.dev:8443",
  "europe-west4-docker.pkg.devx",
  "docker.pkg.dev",
  "-docker.pkg.dev",
  "europe-west4-maven.pkg.dev",
  "europe-west4-python.pkg.dev",
  "europe-west4-npm.pkg.dev",
  "x.europe-west4-docker.pkg.dev",
  "europe-west4-docker-pkg.dev",
  "pkg.dev",
  "docker.rep.pkg.dev",
  "docker.europe-west4.rep.pkg.dev.evil.com",
  "npm.europe-west4.rep.pkg.dev",
  "artifactregistry.europe-west4.rep.googleapis.com",
  "container.cloud.google.com.evil.com",
  "evilcontainer.cloud.google.com",
  "storage.googleapis.com",
  "oauth2.googleapis.com",
  "docker.io",
  "123456789012.dkr.ecr.us-east-1.amazonaws.com",
  "myregistry.azurecr.io",
];

for (const host of GOOGLE) {
  test(`google: ${host}`, () => {
    assert.equal(isGoogleHost(host), true);
    assert.equal(providerForHost(host), "google");
  });
}

for (const host of NOT_GOOGLE) {
  test(`not google: ${host}`, () => {
    assert.equal(isGoogleHost(host), false);
    assert.notEqual(providerForHost(host), "google");
  });
}

// What clients send goes through parseServerUrl first; the Google decision is made on its host.
const SENT: readonly [string, string | null][] = [
  ["https://europe-west4-docker.pkg.dev", "europe-west4-docker.pkg.dev"],
  ["https://europe-west4-docker.pkg.dev/v2/", "europe-west4-docker.pkg.dev"],
  ["europe-west4-docker.pkg.dev:443", "europe-west4-docker.pkg.dev"],
  ["  GCR.IO  ", "gcr.io"],
  ["gcr.io.", "gcr.io"],
  ["https://eu.gcr.io/my-project/app", "eu.gcr.io"],
  ["https://evil.com/gcr.io", null],
  ["https://gcr.io@evil.com", null],
  ["https://user@gcr.io", null],
];

for (const [sent, googleHost] of SENT) {
  test(`sent ${JSON.stringify(sent)}`, () => {
    const ref = parseServerUrl(sent);
    const host = ref && isGoogleHost(ref.host) ? ref.host : null;
    assert.equal(host, googleHost);
  });
}
