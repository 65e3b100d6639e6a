// Registry names as configure writes them into credHelpers: exact hosts, normalised like the
// helper normalises server URLs; wildcards and repository paths refused.
import assert from "node:assert/strict";
import { test } from "node:test";
import { UsageError } from "../../src/errors.ts";
import { exactHost } from "../../src/verbs/configure/hosts.ts";

const OK: [string, string][] = [
  ["123456789012.dkr.ecr.eu-west-1.amazonaws.com", "123456789012.dkr.ecr.eu-west-1.amazonaws.com"],
  ["https://123456789012.DKR.ECR.eu-west-1.amazonaws.com/", "123456789012.dkr.ecr.eu-west-1.amazonaws.com"],
  ["europe-docker.pkg.dev:443", "europe-docker.pkg.dev"],
  ["registry.example.com:5000", "registry.example.com:5000"],
  ["myregistry.azurecr.io.", "myregistry.azurecr.io"],
];
const BAD = ["*.dkr.ecr.eu-west-1.amazonaws.com", "gcr.io/project", "", "ftp://gcr.io", "user@gcr.io", "a b"];

for (const [input, want] of OK) test(`exactHost(${JSON.stringify(input)})`, () => assert.equal(exactHost(input), want));
for (const input of BAD) {
  test(`exactHost(${JSON.stringify(input)}) is refused`, () => assert.throws(() => exactHost(input), UsageError));
}
