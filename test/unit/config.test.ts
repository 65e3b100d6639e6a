import assert from "node:assert/strict";
import { test } from "node:test";
import { parseConfig } from "../../src/config.ts";

test("YAML config with rules, extra ACR suffixes and cache settings", async () => {
  const c = await parseConfig(
    `registries:\n  - match: "*.dkr.ecr.*.amazonaws.com"\n    aws: { roleArn: arn:aws:iam::1:role/r, externalId: e }\n  - match: registry.corp.example\n    provider: ecr\n    aws: { region: eu-west-1, registryId: "123456789012" }\nazure:\n  extraSuffixes: [azurecr.microsoft.scloud]\ncache:\n  negativeTtlSeconds: 5\n`,
    "c.yaml",
  );
  assert.equal(c.registries.length, 2);
  assert.equal(c.registries[0]?.aws?.externalId, "e");
  assert.equal(c.registries[1]?.provider, "ecr");
  assert.deepEqual(c.azure.extraSuffixes, ["azurecr.microsoft.scloud"]);
  assert.equal(c.cache.negativeTtlSeconds, 5);
});

test("JSON config is read without YAML", async () => {
  const c = await parseConfig(`{"registries":[{"match":"gcr.io","google":{"credentialsFile":"/k.json"}}]}`, "c.json");
  assert.equal(c.registries[0]?.google?.credentialsFile, "/k.json");
});

test("empty file is the empty config", async () => {
  assert.deepEqual((await parseConfig("", "c.yaml")).registries, []);
});

const BAD: [string, RegExp][] = [
  ["registries:\n  - match: x\n    aws: { profle: dev }\n", /c\.yaml: registries\[0\]\.aws\.profle: unknown key/],
  ["registries:\n  - match: x\n    provider: dockerhub\n", /registries\[0\]\.provider: must be one of/],
  ["registries:\n  - aws: { profile: dev }\n", /registries\[0\]\.match: required/],
  ["cache:\n  negativeTtlSeconds: soon\n", /cache\.negativeTtlSeconds: expected a number/],
  ["version: 2\n", /only version 1/],
  ["registries: [\n", /not valid YAML or JSON/],
  ["a: 1\na: 2\n", /not valid YAML or JSON/],
  ['{"registries": 3}', /registries: expected a list/],
  // Keys are looked up as own keys of the schema: Object.prototype's names are unknown keys.
  ["constructor: 1\n", /c\.yaml: constructor: unknown key/],
  ["toString: x\n", /c\.yaml: toString: unknown key/],
  ["cache:\n  hasOwnProperty: true\n", /c\.yaml: cache\.hasOwnProperty: unknown key/],
  ["registries:\n  - match: x\n    aws: { constructor: dev }\n", /registries\[0\]\.aws\.constructor: unknown key/],
  ['{"__proto__": {}}', /c\.yaml: __proto__: unknown key/],
  ['{"registries": [{"match": "x", "azure": {"valueOf": "y"}}]}', /registries\[0\]\.azure\.valueOf: unknown key/],
];
for (const [text, want] of BAD) {
  test(`rejects ${JSON.stringify(text)}`, async () => {
    await assert.rejects(parseConfig(text, "c.yaml"), (e: Error) => {
      assert.equal(e.name, "ConfigError");
      assert.match(e.message, want);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
  });
}
