// The credential store (src/store) against real files in a temp dir, with the OS keyring replaced
// by a plain object (the real Secret Service is exercised in test/integration/store-keyring.test.ts).
import assert from "node:assert/strict";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { createLogger } from "../../src/log.ts";
import { parseServerUrl, type ServerRef } from "../../src/registry/hosts.ts";
import type { Opened, SecretBackend } from "../../src/store/backend.ts";
import { type CredentialStore, openStore, StoreError } from "../../src/store/store.ts";
import { tmpTree } from "../support/tmp.ts";

const ref = (url: string): ServerRef => {
  const r = parseServerUrl(url);
  assert.ok(r, url);
  return r;
};

/** An in-memory keyring; `reachable: false` plays a machine without one. */
const fakeKeyring = (reachable = true) => {
  const items = new Map<string, string>();
  const calls: string[] = [];
  const backend: SecretBackend = {
    name: "keyring",
    where: "the fake keyring",
    get: async (a) => {
      calls.push(`get ${a}`);
      return items.get(a) ?? null;
    },
    set: async (a, s) => {
      calls.push(`set ${a}`);
      items.set(a, s);
    },
    delete: async (a) => {
      calls.push(`delete ${a}`);
      return items.delete(a);
    },
  };
  const state = { reachable };
  const open = async (probe: boolean): Promise<Opened> => {
    calls.push(`open probe=${probe}`);
    return state.reachable ? { ok: true, backend } : { ok: false, reason: "no fake bus" };
  };
  return { items, calls, open, state };
};

const setup = async (
  t: import("node:test").TestContext,
  mode: "auto" | "keyring" | "file",
  keyring = fakeKeyring(),
) => {
  const dir = join(await tmpTree(t), "data");
  const logs: string[] = [];
  const store: CredentialStore = openStore({
    dataDir: dir,
    mode,
    env: {},
    platform: "linux",
    log: createLogger("debug", (l) => logs.push(l)),
    now: () => Date.UTC(2030, 0, 1),
    openKeyring: keyring.open,
  });
  return { dir, logs, store, keyring };
};

test("file mode: put → get → list → erase, files 0600 in a 0700 directory, nothing of the keyring touched", async (t) => {
  const { dir, store, keyring, logs } = await setup(t, "file");
  await store.put(ref("registry.example:5000"), {
    serverURL: "https://registry.example:5000",
    username: "alice",
    secret: "s3cret",
  });
  assert.deepEqual(await store.get(ref("registry.example:5000")), {
    serverURL: "https://registry.example:5000",
    username: "alice",
    secret: "s3cret",
  });
  assert.deepEqual(Object.keys(await store.list()), ["registry.example:5000"]);
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  for (const f of ["index.json", "credentials.json"]) assert.equal((await stat(join(dir, f))).mode & 0o777, 0o600, f);
  const index = await readFile(join(dir, "index.json"), "utf8");
  assert.doesNotMatch(index, /s3cret/, "the index holds no secret");
  assert.match(await readFile(join(dir, "credentials.json"), "utf8"), /s3cret/);
  assert.ok(
    logs.some((l) => /debug: store backend: file .*credentials\.json/.test(l)),
    logs.join(""),
  );
  assert.equal(await store.erase(ref("https://registry.example:5000/v2/")), true);
  assert.equal(await store.get(ref("registry.example:5000")), null);
  assert.deepEqual({ ...(await store.list()) }, {});
  assert.doesNotMatch(await readFile(join(dir, "credentials.json"), "utf8"), /s3cret/);
  assert.deepEqual(keyring.calls, [], "file mode never opens the keyring");
});

test("server URLs normalise to one entry: scheme, trailing slash, :443, Docker Hub spellings", async (t) => {
  const { store } = await setup(t, "file");
  const put = (url: string, secret: string) => store.put(ref(url), { serverURL: url, username: "u", secret });
  await put("https://r.example:443/v2/", "one");
  await put("r.example", "two");
  await put("http://R.Example/", "three");
  await put("https://index.docker.io/v1/", "hub1");
  await put("docker.io", "hub2");
  assert.deepEqual(Object.keys(await store.list()).sort(), ["https://index.docker.io/v1/", "r.example"]);
  assert.equal((await store.get(ref("r.example:443")))?.secret, "three");
  assert.equal((await store.get(ref("registry-1.docker.io")))?.secret, "hub2");
  assert.equal((await store.get(ref("https://index.docker.io/v1/")))?.serverURL, "docker.io");
  assert.equal(await store.get(ref("r.example:5000")), null, "another port is another registry");
});

test("identity tokens (Username <token>) and odd secrets round-trip unchanged", async (t) => {
  const { store } = await setup(t, "auto");
  const secret = `eyJhbGciOi.${"x".repeat(3000)}\n"quoted" ünïcode \\ end`;
  await store.put(ref("r.example"), { serverURL: "r.example", username: "<token>", secret });
  assert.deepEqual(await store.get(ref("r.example")), { serverURL: "r.example", username: "<token>", secret });
});

test("auto: keyring when reachable (probed), file otherwise; the index records which", async (t) => {
  const up = await setup(t, "auto");
  await up.store.put(ref("a.example"), { serverURL: "a.example", username: "u", secret: "in-keyring" });
  assert.equal(up.keyring.items.get("a.example"), "in-keyring");
  assert.equal((await up.store.list())["a.example"]?.backend, "keyring");
  assert.ok(up.keyring.calls.includes("open probe=true"));

  const down = await setup(t, "auto", fakeKeyring(false));
  await down.store.put(ref("a.example"), { serverURL: "a.example", username: "u", secret: "in-file" });
  assert.equal((await down.store.list())["a.example"]?.backend, "file");
  assert.match(await readFile(join(down.dir, "credentials.json"), "utf8"), /in-file/);
  assert.ok(down.logs.some((l) => /debug: store backend: file .* \(no OS keyring: no fake bus\)/.test(l)));
});

test("keyring mode without a reachable keyring: an error naming the setting, nothing written", async (t) => {
  const { dir, store } = await setup(t, "keyring", fakeKeyring(false));
  await assert.rejects(
    store.put(ref("a.example"), { serverURL: "a.example", username: "u", secret: "x" }),
    (e: Error) => e instanceof StoreError && /DOCKER_CREDENTIAL_CLOUD_STORE=keyring.*no fake bus/.test(e.message),
  );
  await assert.rejects(stat(join(dir, "index.json")), { code: "ENOENT" });
});

test("get never opens the keyring for a registry that is not in the index", async (t) => {
  const { store, keyring } = await setup(t, "auto");
  await store.put(ref("a.example"), { serverURL: "a.example", username: "u", secret: "x" });
  keyring.calls.length = 0;
  assert.equal(await store.get(ref("123456789012.dkr.ecr.us-east-1.amazonaws.com")), null);
  assert.equal(await store.get(ref("b.example")), null);
  await store.list();
  assert.deepEqual(keyring.calls, []);
  assert.equal((await store.get(ref("a.example")))?.secret, "x");
  assert.deepEqual(keyring.calls, ["open probe=false", "get a.example"]);
});

test("a keyring entry while the keyring is unreachable: get and erase fail clearly, the index keeps it", async (t) => {
  const { store, keyring } = await setup(t, "auto");
  await store.put(ref("a.example"), { serverURL: "a.example", username: "u", secret: "x" });
  keyring.state.reachable = false;
  await assert.rejects(store.get(ref("a.example")), /credentials for a\.example are in the OS keyring.*no fake bus/);
  await assert.rejects(store.erase(ref("a.example")), /not reachable/);
  assert.ok("a.example" in (await store.list()));
});

test("switching backend moves the secret: no copy is left behind in the old one", async (t) => {
  const keyring = fakeKeyring(false);
  const { dir, store } = await setup(t, "auto", keyring);
  await store.put(ref("a.example"), { serverURL: "a.example", username: "u", secret: "old" });
  keyring.state.reachable = true;
  await store.put(ref("a.example"), { serverURL: "a.example", username: "u2", secret: "new" });
  assert.equal(keyring.items.get("a.example"), "new");
  assert.doesNotMatch(await readFile(join(dir, "credentials.json"), "utf8"), /old/);
  assert.deepEqual(await store.get(ref("a.example")), { serverURL: "a.example", username: "u2", secret: "new" });
});

test("erase also removes a stray keyring copy that the index does not know about (a lost index)", async (t) => {
  const { store, keyring } = await setup(t, "auto");
  keyring.items.set("a.example", "orphan");
  assert.equal(await store.erase(ref("a.example")), false);
  assert.equal(keyring.items.has("a.example"), false);
});

test("an index entry whose secret is gone: warns, and get falls through (null)", async (t) => {
  const { store, keyring, logs } = await setup(t, "auto");
  await store.put(ref("a.example"), { serverURL: "a.example", username: "u", secret: "x" });
  keyring.items.clear();
  assert.equal(await store.get(ref("a.example")), null);
  assert.ok(
    logs.some((l) => /warn: a\.example is listed in .*index\.json but the fake keyring holds no secret/.test(l)),
  );
});

for (const [what, content] of [
  ["not JSON", '{"version":1,"entries":{"a.example":'],
  ["empty", ""],
  ["a newer format", '{"version":2,"entries":{}}'],
  ["a malformed entry", '{"version":1,"entries":{"a.example":{"serverURL":"a.example"}}}'],
] as const) {
  test(`corrupt index (${what}): every verb fails naming the file, and the file is left byte for byte`, async (t) => {
    const { dir, store, keyring } = await setup(t, "auto");
    await store.put(ref("keep.example"), { serverURL: "keep.example", username: "u", secret: "x" });
    const file = join(dir, "index.json");
    await writeFile(file, content);
    const named = (e: Error) =>
      e instanceof StoreError && e.message.startsWith(`${file}: `) && !e.message.includes("\n");
    await assert.rejects(store.get(ref("keep.example")), named);
    await assert.rejects(store.list(), named);
    await assert.rejects(store.put(ref("b.example"), { serverURL: "b.example", username: "u", secret: "y" }), named);
    await assert.rejects(store.erase(ref("keep.example")), named);
    assert.equal(await readFile(file, "utf8"), content);
    assert.equal(keyring.items.get("keep.example"), "x", "the stored secret is untouched");
    assert.equal(keyring.items.has("b.example"), false, "nothing was written before the index was read");
  });
}

test("corrupt file-backend secrets: store and get fail naming the file; index and file untouched", async (t) => {
  const { dir, store } = await setup(t, "file");
  await store.put(ref("keep.example"), { serverURL: "keep.example", username: "u", secret: "x" });
  const file = join(dir, "credentials.json");
  const index = await readFile(join(dir, "index.json"), "utf8");
  await writeFile(file, "garbage");
  await assert.rejects(
    store.put(ref("b.example"), { serverURL: "b.example", username: "u", secret: "y" }),
    (e: Error) => e.message.startsWith(`${file}: not valid JSON`),
  );
  await assert.rejects(store.get(ref("keep.example")), (e: Error) => e.message.startsWith(`${file}: `));
  assert.equal(await readFile(file, "utf8"), "garbage");
  assert.equal(await readFile(join(dir, "index.json"), "utf8"), index);
});

test("a secrets file readable by others is served with a warning", async (t) => {
  const { dir, store, logs } = await setup(t, "file");
  await store.put(ref("a.example"), { serverURL: "a.example", username: "u", secret: "x" });
  const { chmod } = await import("node:fs/promises");
  await chmod(join(dir, "credentials.json"), 0o644);
  assert.equal((await store.get(ref("a.example")))?.secret, "x");
  assert.ok(logs.some((l) => /warn: .*credentials\.json is readable by other users \(mode 644\)/.test(l)));
});

test("registry names that are Object.prototype keys are ordinary registries", async (t) => {
  const { store, keyring, logs } = await setup(t, "file");
  assert.equal(await store.get(ref("constructor")), null);
  await store.put(ref("https://constructor:5000"), { serverURL: "constructor:5000", username: "u", secret: "x" });
  assert.equal(await store.get(ref("constructor")), null);
  assert.equal(await store.erase(ref("constructor")), false);
  assert.equal((await store.get(ref("constructor:5000")))?.secret, "x");
  assert.deepEqual(keyring.calls, []);
  assert.deepEqual(
    logs.filter((l) => / warn: /.test(l)),
    [],
  );
});
