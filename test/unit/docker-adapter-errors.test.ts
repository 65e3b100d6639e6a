// The Docker adapter's error lines go to stdout, where clients show them (and CI logs keep them):
// whatever an SDK, a credential_process or a server put into an error message is scrubbed there,
// as in the logs. The provider is a plain object that throws what a real one could.
import assert from "node:assert/strict";
import { test } from "node:test";
import { handleDockerAction } from "../../src/adapters/docker-helper.ts";
import { noCache } from "../../src/cache/cache.ts";
import type { CredentialDeps } from "../../src/credentials.ts";
import { ConfigError, ProviderError } from "../../src/errors.ts";
import { createLogger } from "../../src/log.ts";
import { loadSettings } from "../../src/settings.ts";
import { baseEnv } from "../support/cli.ts";
import { tmpTree } from "../support/tmp.ts";

const ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const VAULT = "hvs.CAESIJlWh7x9Qb3T2kV8mR4nP0zA6yL1cF5dG7eH9jK2oU3sXq";
const JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJlc2lnbmF0dXJl";

for (const [kind, error] of [
  ["an SDK error echoing a command line", new Error(`Command failed: /usr/bin/vault-creds --token ${VAULT}`)],
  ["a ProviderError quoting a server's answer", new ProviderError(`STS said: invalid assertion ${JWT}`)],
  ["a ConfigError", new ConfigError(`c.yaml: registries[0].aws.roleArn: ${VAULT} is not an ARN`)],
  ["a multi-line message", new Error(`failed:\n  stderr: ${VAULT}\n`)],
] as const) {
  test(`${kind}: one scrubbed line on stdout`, async (t) => {
    const home = await tmpTree(t);
    const settings = await loadSettings({ ...baseEnv(home), AWS_ACCESS_KEY_ID: "AKIDEXAMPLE" }, home);
    const deps: CredentialDeps = {
      settings,
      log: createLogger("silent", () => {}),
      cache: noCache,
      now: () => Date.now(),
      loadProvider: async () => ({
        fetchToken: async () => {
          throw error;
        },
      }),
    };
    const r = await handleDockerAction("get", `${ECR}\n`, deps, "0.0.0-test");
    assert.equal(r.code, 1);
    assert.equal(r.stdout.split("\n").length, 2, `one line: ${r.stdout}`);
    assert.match(r.stdout, /\[redacted\]/);
    for (const secret of ["CAESIJlWh7x9Qb3T2kV8mR4nP0zA6yL1cF5dG7eH9jK2oU3sXq", JWT, "eyJhbGciOiJSUzI1NiJ9"]) {
      assert.ok(!r.stdout.includes(secret), r.stdout);
    }
  });
}
