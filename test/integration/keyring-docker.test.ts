// The keyring library against real Docker config files and real credential-helper programs (tiny
// shell scripts on a temp PATH that record what they were given): auths, credHelpers, credsStore,
// what goes on the helper's stdin, pull secrets first, and the failure modes — a missing, broken or
// hanging helper is logged and skipped while the other sources still answer, a hanging one is
// killed with what it started, and concurrent lookups share one helper run.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { createKeyring, InvalidImageError, type KeyringOptions } from "../../src/index.ts";
import { baseEnv } from "../support/cli.ts";
import { lines, sq, waitFor } from "../support/scripts.ts";
import { tmpTree } from "../support/tmp.ts";

type T = Parameters<typeof tmpTree>[0];
const b64 = (s: string) => Buffer.from(s).toString("base64");

interface Answer {
  code?: number;
  stdout: string;
}

/**
 * A docker-credential-<name> program in `bin` that answers `get` from `answers` (by server URL,
 * else "credentials not found"). It appends one line per run to <state>/<name>.calls, keeps the
 * exact stdin in <state>/<name>.stdin and $FOO in <state>/<name>.env; with `release` it waits for
 * <state>/release before answering (bounded).
 */
const helper = async (
  bin: string,
  state: string,
  name: string,
  answers: Record<string, Answer>,
  opts: { release?: boolean; body?: string } = {},
) => {
  const cases = Object.entries(answers)
    .map(([server, a]) => `  ${sq(server)}) printf '%s\\n' ${sq(a.stdout)}; exit ${a.code ?? 0};;`)
    .join("\n");
  const wait = opts.release
    ? `i=0; while [ ! -e ${sq(join(state, "release"))} ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done\n`
    : "";
  const script = `#!/bin/sh
[ "$1" = get ] || { echo "Unknown credential action \\\`$1\\\`"; exit 1; }
input=$(cat; echo x); input=\${input%x}
echo run >> ${sq(join(state, `${name}.calls`))}
printf '%s' "$input" > ${sq(join(state, `${name}.stdin`))}
printf '%s\\n' "$FOO" > ${sq(join(state, `${name}.env`))}
${opts.body ?? ""}${wait}case "$input" in
${cases}
  *) echo "credentials not found in native keychain"; exit 1;;
esac
`;
  const file = join(bin, `docker-credential-${name}`);
  await writeFile(file, script);
  await chmod(file, 0o755);
};

const creds = (server: string, username: string, secret: string): Answer => ({
  stdout: JSON.stringify({ ServerURL: server, Username: username, Secret: secret }),
});

interface Setup {
  home: string;
  bin: string;
  state: string;
  logs: string[];
  options: KeyringOptions;
}

const setup = async (t: T, config: unknown, extra: Partial<KeyringOptions> = {}): Promise<Setup> => {
  const home = await tmpTree(t, config === undefined ? {} : { ".docker/config.json": JSON.stringify(config) });
  const bin = join(home, "bin");
  const state = join(home, "state");
  await mkdir(bin);
  await mkdir(state);
  const logs: string[] = [];
  const env = { ...baseEnv(home), PATH: `${bin}:/usr/bin:/bin`, FOO: "from-keyring-env" };
  const logger = {
    error: (m: string) => logs.push(`error ${m}`),
    warn: (m: string) => logs.push(`warn ${m}`),
    info: (m: string) => logs.push(`info ${m}`),
    debug: (m: string) => logs.push(`debug ${m}`),
  };
  // No built-in fetchers: these tests are about the Docker sources (and must never reach a cloud).
  return { home, bin, state, logs, options: { env, logger, logLevel: "debug", builtins: false, ...extra } };
};

const users = (r: { username?: string; identityToken?: string }[]) =>
  r.map((a) => a.username ?? `token:${a.identityToken}`);

describe("keyring: Docker config", () => {
  test("auths: auth decoded, identity tokens kept, placeholders ignored, the most specific key first", async (t) => {
    const s = await setup(t, {
      auths: {
        "reg.example.com": { auth: b64("host-user:host-pw") },
        "https://reg.example.com/v2/team": { username: "team-user", password: "team-pw" },
        "tok.example.com": { identitytoken: "refresh-token-1" },
        "empty.example.com": {},
        "*.example.com": { auth: b64("glob-user:glob-pw") },
      },
    });
    const k = createKeyring(s.options);
    t.after(() => k.close());
    assert.deepEqual(await k.lookup("reg.example.com/team/app:1.0"), [
      { serverAddress: "https://reg.example.com", username: "team-user", password: "team-pw" },
      { serverAddress: "https://reg.example.com", username: "host-user", password: "host-pw" },
      { serverAddress: "https://reg.example.com", username: "glob-user", password: "glob-pw" },
    ]);
    assert.deepEqual(await k.lookup("tok.example.com/app"), [
      { serverAddress: "https://tok.example.com", identityToken: "refresh-token-1" },
      { serverAddress: "https://tok.example.com", username: "glob-user", password: "glob-pw" },
    ]);
    assert.deepEqual(users(await k.lookup("empty.example.com/app")), ["glob-user"], "a placeholder is not anonymous");
    assert.deepEqual(await k.lookup("quay.io/app"), []);
    assert.ok(!s.logs.join("\n").includes("-pw"), "no password in the logs");
  });

  test("Docker Hub: the index.docker.io entry serves bare names; server_address is the host containerd contacts", async (t) => {
    const s = await setup(t, { auths: { "https://index.docker.io/v1/": { auth: b64("hub-user:hub-pw") } } });
    const k = createKeyring(s.options);
    t.after(() => k.close());
    for (const image of ["nginx", "library/nginx:1.25", "docker.io/user/app", "index.docker.io/user/app"]) {
      assert.deepEqual(
        await k.lookup(image),
        [{ serverAddress: "https://registry-1.docker.io", username: "hub-user", password: "hub-pw" }],
        image,
      );
    }
    const none = createKeyring({ ...s.options, serverAddress: "none" });
    assert.equal((await none.lookup("nginx"))[0]?.serverAddress, "", 'serverAddress: "none" sends "" like the kubelet');
  });

  test("credHelpers and credsStore: the helper is asked with host[:port] or Hub's URL, and comes before auths", async (t) => {
    const s = await setup(t, {
      auths: { "both.example.com": { auth: b64("inline-user:inline-pw") } },
      credHelpers: { "reg.example.com:5000": "fake" },
      credsStore: "store",
    });
    await helper(s.bin, s.state, "fake", {
      "reg.example.com:5000": creds("reg.example.com:5000", "port-user", "port-pw"),
    });
    await helper(s.bin, s.state, "store", {
      "https://index.docker.io/v1/": creds("https://index.docker.io/v1/", "<token>", "hub-identity-token"),
      "both.example.com": creds("both.example.com", "helper-user", "helper-pw"),
      "blank.example.com": creds("blank.example.com", "", ""),
    });
    const k = createKeyring(s.options);
    t.after(() => k.close());

    assert.deepEqual(await k.lookup("reg.example.com:5000/team/app:v1"), [
      { serverAddress: "https://reg.example.com:5000", username: "port-user", password: "port-pw" },
    ]);
    assert.equal(readFileSync(join(s.state, "fake.stdin"), "utf8"), "reg.example.com:5000", "host:port, no newline");
    assert.equal(readFileSync(join(s.state, "fake.env"), "utf8"), "from-keyring-env\n", "the keyring's env");

    assert.deepEqual(await k.lookup("nginx:latest"), [
      { serverAddress: "https://registry-1.docker.io", identityToken: "hub-identity-token" },
    ]);
    assert.equal(readFileSync(join(s.state, "store.stdin"), "utf8"), "https://index.docker.io/v1/");

    assert.deepEqual(users(await k.lookup("both.example.com/app")), ["helper-user", "inline-user"]);
    assert.deepEqual(await k.lookup("blank.example.com/app"), [], "empty username and secret: none");
    assert.deepEqual(await k.lookup("unknown.example.com/app"), [], "not found: none");
    assert.equal(lines(join(s.state, "fake.calls")).length, 1, "credHelpers wins over credsStore for its host");
    assert.ok(!s.logs.some((l) => l.startsWith("warn")), `no warnings: ${s.logs.join("\n")}`);
  });

  test("DOCKER_CONFIG and the legacy ~/.dockercfg are read; dockerConfig: false reads nothing", async (t) => {
    const s = await setup(t, undefined);
    const dc = join(s.home, "dc");
    await mkdir(dc);
    await writeFile(join(dc, "config.json"), JSON.stringify({ auths: { "a.example.com": { auth: b64("a:1") } } }));
    await writeFile(join(s.home, ".dockercfg"), JSON.stringify({ "b.example.com": { auth: b64("b:2"), email: "x" } }));
    const env = { ...s.options.env, DOCKER_CONFIG: dc };
    const k = createKeyring({ ...s.options, env });
    assert.deepEqual(users(await k.lookup("a.example.com/x")), ["a"]);
    assert.deepEqual(users(await k.lookup("b.example.com/x")), ["b"]);
    const off = createKeyring({ ...s.options, env, dockerConfig: false });
    assert.deepEqual(await off.lookup("a.example.com/x"), []);
    const one = createKeyring({ ...s.options, dockerConfig: join(s.home, ".dockercfg") });
    assert.deepEqual(users(await one.lookup("b.example.com/x")), ["b"]);
  });

  test("a docker login after the first lookup is seen by the next one", async (t) => {
    const s = await setup(t, { auths: {} });
    const k = createKeyring(s.options);
    assert.deepEqual(await k.lookup("reg.example.com/app"), []);
    await writeFile(
      join(s.home, ".docker", "config.json"),
      JSON.stringify({ auths: { "reg.example.com": { auth: b64("later:pw") } } }),
    );
    assert.deepEqual(users(await k.lookup("reg.example.com/app")), ["later"]);
  });

  test("pull secrets come first, then the node's credentials", async (t) => {
    const s = await setup(t, { auths: { "reg.example.com/team": { auth: b64("node-team:pw") } } });
    const k = createKeyring(s.options);
    const r = await k.lookup("reg.example.com/team/app", {
      pullSecrets: [
        JSON.stringify({ auths: { "reg.example.com": { auth: b64("secret-json:pw") } } }),
        { "reg.example.com": { username: "secret-legacy", password: "pw" } },
        "{ broken",
      ],
    });
    assert.deepEqual(users(r), ["secret-json", "secret-legacy", "node-team"]);
    assert.ok(s.logs.some((l) => /^warn docker-credential-cloud: pullSecrets\[2\]: not valid JSON/.test(l)));
  });

  test("an invalid image is the only thing lookup throws", async (t) => {
    const s = await setup(t, { auths: {}, credsStore: "missing-program" });
    const k = createKeyring(s.options);
    await assert.rejects(k.lookup("UPPER/Case:tag"), InvalidImageError);
    await assert.rejects(k.lookup(""), InvalidImageError);
    assert.deepEqual(await k.lookup("reg.example.com/app"), [], "a missing helper does not throw");
    assert.ok(
      s.logs.some((l) =>
        /^warn docker-credential-cloud: docker-credential-missing-program get reg\.example\.com: .*not on PATH/.test(l),
      ),
    );
  });
});

describe("keyring: helper failures are skipped, bounded and shared", () => {
  test("a broken helper is logged in one line and skipped; auths still answer", async (t) => {
    const s = await setup(t, { auths: { "reg.example.com": { auth: b64("inline:pw") } }, credsStore: "broken" });
    await helper(s.bin, s.state, "broken", { "reg.example.com": { code: 2, stdout: "boom: the keychain is locked" } });
    const k = createKeyring(s.options);
    assert.deepEqual(users(await k.lookup("reg.example.com/app")), ["inline"]);
    const warn = s.logs.filter((l) => l.startsWith("warn"));
    assert.deepEqual(warn, [
      "warn docker-credential-cloud: docker-credential-broken get reg.example.com: exit status 2: boom: the keychain is locked; skipped",
    ]);
  });

  test("a hanging helper is killed at the timeout with what it started; the lookup still answers", async (t) => {
    const s = await setup(
      t,
      { auths: { "reg.example.com": { auth: b64("inline:pw") } }, credsStore: "hang" },
      {
        timeoutMs: 300,
      },
    );
    const pids = join(s.state, "hang.pids");
    await helper(
      s.bin,
      s.state,
      "hang",
      {},
      { body: `echo $$ >> ${sq(pids)}\nsleep 30 &\necho $! >> ${sq(pids)}\nwait\n` },
    );
    const k = createKeyring(s.options);
    assert.deepEqual(users(await k.lookup("reg.example.com/app")), ["inline"]);
    assert.ok(
      s.logs.some((l) =>
        /^warn .*docker-credential-hang get reg\.example\.com: killed after the 0\.3s timeout; skipped$/.test(l),
      ),
    );
    const started = lines(pids).map(Number);
    assert.equal(started.length, 2, "the helper and its sleep");
    // Gone, or a zombie waiting for a reaper that this container may not have.
    const dead = (pid: number) => {
      try {
        return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.startsWith("Z") ?? true;
      } catch {
        return true;
      }
    };
    await waitFor(() => started.every(dead), "the helper's process group to die");
  });

  test("concurrent lookups for one registry share one helper run", async (t) => {
    const s = await setup(t, { credsStore: "slow" });
    await helper(
      s.bin,
      s.state,
      "slow",
      { "reg.example.com": creds("reg.example.com", "shared", "pw") },
      { release: true },
    );
    const k = createKeyring(s.options);
    const N = 8;
    const all = Promise.all(Array.from({ length: N }, (_, i) => k.lookup(`reg.example.com/app-${i}:v${i}`)));
    const joined = () => s.logs.filter((l) => l.includes("waiting for the running docker-credential-slow get")).length;
    await waitFor(() => joined() === N - 1 && lines(join(s.state, "slow.calls")).length === 1, "all lookups to join");
    await writeFile(join(s.state, "release"), "");
    const results = await all;
    assert.equal(lines(join(s.state, "slow.calls")).length, 1, "one run");
    for (const r of results) assert.deepEqual(users(r), ["shared"]);
    // Once finished, the next lookup runs the helper again (Docker never caches helper answers).
    await k.lookup("reg.example.com/app");
    assert.equal(lines(join(s.state, "slow.calls")).length, 2);
  });

  test("close() kills a running helper; later lookups are refused", async (t) => {
    const s = await setup(t, { auths: { "reg.example.com": { auth: b64("inline:pw") } }, credsStore: "slow" });
    await helper(s.bin, s.state, "slow", {}, { release: true });
    const k = createKeyring(s.options);
    const pending = k.lookup("reg.example.com/app");
    await waitFor(() => lines(join(s.state, "slow.calls")).length === 1, "the helper to start");
    await k.close();
    assert.deepEqual(users(await pending), ["inline"], "the other sources still answer");
    assert.ok(s.logs.some((l) => /docker-credential-slow get .*keyring was closed; skipped/.test(l)));
    await assert.rejects(k.lookup("reg.example.com/app"), /closed/);
    assert.equal(await readFile(join(s.state, "slow.stdin"), "utf8"), "reg.example.com");
  });
});
