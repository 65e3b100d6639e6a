// The credential service with plain-object providers and a real file cache in a temp dir.
import assert from "node:assert/strict";
import { test } from "node:test";
import { fileCache } from "../../src/cache/cache.ts";
import { isFresh, isUsable, type TokenEntry } from "../../src/cache/entry.ts";
import { EMPTY_CONFIG } from "../../src/config.ts";
import { type CredentialDeps, hostCredentials } from "../../src/credentials.ts";
import { NoIdentityError, NotFoundError, ProviderError } from "../../src/errors.ts";
import { silentLogger } from "../../src/log.ts";
import type { ProviderModule, Token } from "../../src/providers/types.ts";
import type { Settings } from "../../src/settings.ts";
import { tmpTree } from "../support/tmp.ts";

const HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const HOUR = 3600_000;

const settings = (dir: string, over: Partial<Settings> = {}): Settings => ({
  env: {},
  home: dir,
  config: EMPTY_CONFIG,
  configFile: null,
  cacheDir: dir,
  dataDir: dir,
  storeBackend: "file",
  negativeTtlMs: 60_000,
  requestTimeoutMs: 1000,
  logLevel: "silent",
  ...over,
});

const deps = (dir: string, provider: ProviderModule, clock: { t: number }): CredentialDeps => ({
  settings: settings(dir),
  log: silentLogger,
  cache: fileCache(dir, { now: () => clock.t, lockWaitMs: 5000 }),
  now: () => clock.t,
  loadProvider: async () => provider,
});

const counting = (make: (n: number) => Token | Error) => {
  const p = {
    calls: 0,
    fetchToken: async () => {
      p.calls++;
      const r = make(p.calls);
      if (r instanceof Error) throw r;
      return r;
    },
  };
  return p;
};

test("freshness is half the token's life; usability ends a minute before expiry", () => {
  const e: TokenEntry = {
    kind: "token",
    username: "u",
    secret: "s",
    fetchedAt: 0,
    expiresAt: 12 * HOUR,
    host: "h",
    identity: "i",
  };
  assert.ok(isFresh(e, 6 * HOUR - 1));
  assert.ok(!isFresh(e, 6 * HOUR));
  assert.ok(isUsable(e, 12 * HOUR - 60_001));
  assert.ok(!isUsable(e, 12 * HOUR - 60_000));
});

test("fresh hit, refresh after half-life, stale served while the refresh fails, error once expired", async (t) => {
  const dir = await tmpTree(t);
  const clock = { t: 1_000_000 };
  const p = counting((n) =>
    n === 1 ? { username: "AWS", secret: "one", expiresAt: clock.t + 12 * HOUR } : new ProviderError("denied"),
  );
  const d = deps(dir, p, clock);
  assert.equal((await hostCredentials(HOST, d)).secret, "one");
  clock.t += 5 * HOUR;
  assert.equal((await hostCredentials(HOST, d)).secret, "one");
  assert.equal(p.calls, 1, "fresh: no call");
  clock.t += 2 * HOUR; // 7 h: stale but usable
  assert.equal((await hostCredentials(HOST, d)).secret, "one");
  assert.equal(p.calls, 2, "a refresh was tried");
  clock.t += 5 * HOUR; // 12 h: expired
  await assert.rejects(hostCredentials(HOST, d), ProviderError);
});

test("no identity is remembered for the negative TTL", async (t) => {
  const dir = await tmpTree(t);
  const clock = { t: 1_000_000 };
  const p = counting(() => new NoIdentityError("no AWS identity"));
  const d = deps(dir, p, clock);
  await assert.rejects(hostCredentials(HOST, d), NoIdentityError);
  await assert.rejects(hostCredentials(HOST, d), NoIdentityError);
  assert.equal(p.calls, 1);
  clock.t += 61_000;
  await assert.rejects(hostCredentials(HOST, d), NoIdentityError);
  assert.equal(p.calls, 2);
});

test("hosts nobody owns are not found without loading a provider", async (t) => {
  const dir = await tmpTree(t);
  const d = deps(
    dir,
    counting(() => new Error("must not be called")),
    { t: 0 },
  );
  d.loadProvider = async () => {
    throw new Error("must not load");
  };
  await assert.rejects(hostCredentials("quay.io", d), NotFoundError);
  await assert.rejects(hostCredentials(`${HOST}.evil.com`, d), NotFoundError);
});

test("concurrent misses in one process share one fetch", async (t) => {
  const dir = await tmpTree(t);
  const clock = { t: 1_000_000 };
  const p = counting(() => ({ username: "AWS", secret: "s", expiresAt: clock.t + HOUR }));
  const d = deps(dir, p, clock);
  await Promise.all(Array.from({ length: 10 }, () => hostCredentials(HOST, d)));
  assert.equal(p.calls, 1);
});

test("no identity on refresh: a still-usable token is served, and the negative entry does not hide it", async (t) => {
  const dir = await tmpTree(t);
  const clock = { t: 1_000_000 };
  const p = counting((n) =>
    n === 1 ? { username: "AWS", secret: "one", expiresAt: clock.t + 12 * HOUR } : new NoIdentityError("IMDS blip"),
  );
  const d = deps(dir, p, clock);
  assert.equal((await hostCredentials(HOST, d)).secret, "one");
  clock.t += 7 * HOUR; // stale but usable
  assert.equal((await hostCredentials(HOST, d)).secret, "one", "served despite no identity");
  assert.equal((await hostCredentials(HOST, d)).secret, "one", "served from the negative entry without a probe");
  assert.equal(p.calls, 2);
  clock.t += 5 * HOUR; // expired
  await assert.rejects(hostCredentials(HOST, d), NoIdentityError);
});
