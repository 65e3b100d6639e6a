// Which URLs are metadata (never proxied): link-local addresses, the clouds' metadata names, and
// endpoints the environment points at.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isLinkLocal, isMetadataUrl, metadataEndpoints, proxyConfigured } from "../../src/providers/network.ts";

test("link-local metadata hosts are recognised, look-alikes are not", () => {
  for (const h of [
    "169.254.169.254",
    "169.254.170.2",
    "[fd00:ec2::254]",
    "fd00:ec2::254",
    "metadata.google.internal",
    "fe80::1",
  ])
    assert.ok(isLinkLocal(h), h);
  for (const h of ["169.254.169.254.evil.com", "metadata.google.internal.evil.com", "10.0.0.1", "fd00:ec2::255"])
    assert.ok(!isLinkLocal(h), h);
});

test("configured metadata endpoints are direct, other ports of the same host are not", () => {
  const env = { GCE_METADATA_HOST: "127.0.0.1:8123", AZURE_POD_IDENTITY_AUTHORITY_HOST: "http://127.0.0.1:9" };
  assert.deepEqual(metadataEndpoints(env), ["127.0.0.1:8123", "127.0.0.1:9"]);
  assert.ok(isMetadataUrl("http://127.0.0.1:8123/computeMetadata/v1/", env));
  assert.ok(!isMetadataUrl("https://127.0.0.1:8124/", env));
  assert.ok(isMetadataUrl("http://169.254.169.254/latest/api/token", {}));
  assert.ok(!isMetadataUrl("https://oauth2.googleapis.com/token", env));
});

test("a proxy is configured by any of the usual variables", () => {
  assert.ok(!proxyConfigured({}));
  for (const v of ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"])
    assert.ok(proxyConfigured({ [v]: "http://p:3128" }));
});
