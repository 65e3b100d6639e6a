import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError } from "../../src/errors.ts";
import { loadSettings } from "../../src/settings.ts";

const home = async (t: { after: (fn: () => Promise<void>) => void }) => {
  const dir = await mkdtemp(join(tmpdir(), "dcc-settings-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
};

test("an invalid DOCKER_CREDENTIAL_CLOUD_LOG is an error naming the variable, like an invalid TIMEOUT", async (t) => {
  const h = await home(t);
  await assert.rejects(
    loadSettings({ HOME: h, DOCKER_CREDENTIAL_CLOUD_LOG: "verbose" }, h),
    (e: unknown) =>
      e instanceof ConfigError &&
      /^DOCKER_CREDENTIAL_CLOUD_LOG: must be silent, error, warn, info, debug, got "verbose"$/.test(e.message),
  );
  await assert.rejects(loadSettings({ HOME: h, DOCKER_CREDENTIAL_CLOUD_TIMEOUT: "abc" }, h), ConfigError);
});

test("an invalid level is quoted as a short excerpt, never whole", async (t) => {
  const h = await home(t);
  await assert.rejects(loadSettings({ HOME: h, DOCKER_CREDENTIAL_CLOUD_LOG: "x".repeat(100_000) }, h), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.ok(e.message.length < 200, `message of ${e.message.length} characters`);
    return true;
  });
});

test("valid levels in any case, and an empty value, are accepted", async (t) => {
  const h = await home(t);
  assert.equal((await loadSettings({ HOME: h, DOCKER_CREDENTIAL_CLOUD_LOG: "DEBUG" }, h)).logLevel, "debug");
  assert.equal((await loadSettings({ HOME: h, DOCKER_CREDENTIAL_CLOUD_LOG: "" }, h)).logLevel, "warn");
  assert.equal((await loadSettings({ HOME: h }, h)).logLevel, "warn");
});
