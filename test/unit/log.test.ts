import assert from "node:assert/strict";
import { test } from "node:test";
import { createLogger, scrub } from "../../src/log.ts";

test("the log scrubber hides tokens and keeps resource paths", () => {
  const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
  const awsSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  const b64 = Buffer.from("AWS:".padEnd(60, "x")).toString("base64");
  const path = "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/prov";
  const name = "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES";
  const out = scrub(`a ${jwt} b ${awsSecret} c ${b64} d ${path} e ${name}`);
  for (const secret of [jwt, awsSecret, b64]) assert.ok(!out.includes(secret), secret);
  assert.ok(out.includes(path));
  assert.ok(out.includes(name));
});

test("log levels filter and every line is prefixed", () => {
  const lines: string[] = [];
  const log = createLogger("warn", (l) => lines.push(l));
  log.debug("d");
  log.info("i");
  log.warn("w");
  log.error("e");
  assert.deepEqual(lines, ["docker-credential-cloud: warn: w\n", "docker-credential-cloud: error: e\n"]);
});

test("the log scrubber hides a URL's user and password (a proxy's), keeps our hint's placeholder", () => {
  const out = scrub("Proxy URL: 'http://bob:s3cr%40t@proxy.corp:3128/' and socks5://alice@10.0.0.1:1080");
  assert.equal(out, "Proxy URL: 'http://[redacted]@proxy.corp:3128/' and socks5://[redacted]@10.0.0.1:1080");
  const hint = "set credentials in HTTPS_PROXY (http://user:pass@…) or NO_PROXY";
  assert.equal(scrub(hint), hint);
});
