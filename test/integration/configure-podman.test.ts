// `configure podman` through the built CLI: the auth file keeps every other key (auths logins
// included) and its mode, gets a backup, re-runs change nothing, --dry-run writes nothing; the
// drop-in is written once; REGISTRY_AUTH_FILE and XDG_CONFIG_HOME choose the auth file.
import assert from "node:assert/strict";
import { chmod, readdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { baseEnv, runCli } from "../support/cli.ts";
import { tmpTree } from "../support/tmp.ts";

const HOST = "europe-docker.pkg.dev";
const AUTH = {
  auths: { "quay.io": { auth: "dXNlcjpwYXNz" } },
  credHelpers: { "registry.example.com": "secretservice" },
  extra: { k: 1 },
};
const DROP_IN = join(".config", "containers", "registries.conf.d", "50-docker-credential-cloud.conf");

describe("configure podman", () => {
  test("credHelpers merged into the auth file, drop-in created; a re-run changes nothing", async (t) => {
    const home = await tmpTree(t, { ".config/containers/auth.json": JSON.stringify(AUTH, null, 2) });
    const file = join(home, ".config", "containers", "auth.json");
    await chmod(file, 0o600);
    const env = baseEnv(home);
    const r = await runCli(["configure", "podman", "--registry", HOST], "", env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(await readFile(file, "utf8")), {
      ...AUTH,
      credHelpers: { "registry.example.com": "secretservice", [HOST]: "cloud" },
    });
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await readdir(join(home, ".config", "containers"))).filter((f) => f.endsWith(".bak")).length, 1);
    assert.match(
      await readFile(join(home, DROP_IN), "utf8"),
      /^credential-helpers = \["cloud", "containers-auth.json"\]$/m,
    );
    const before = await readFile(file, "utf8");
    const again = await runCli(["configure", "podman", "--registry", HOST], "", env);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout.match(/already configured, nothing to change/g)?.length, 2);
    assert.equal(await readFile(file, "utf8"), before);
  });

  test("--dry-run writes nothing; REGISTRY_AUTH_FILE is the auth file", async (t) => {
    const home = await tmpTree(t);
    const env = { ...baseEnv(home), REGISTRY_AUTH_FILE: join(home, "custom", "auth.json") };
    const r = await runCli(["configure", "podman", "--registry", HOST, "--dry-run"], "", env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`${join(home, "custom", "auth.json")}: would change`));
    assert.match(r.stdout, /^\+credential-helpers = /m);
    assert.deepEqual(await readdir(home), [], "nothing written");
    const w = await runCli(["configure", "podman", "--registry", HOST], "", env);
    assert.equal(w.code, 0, w.stderr);
    assert.deepEqual(JSON.parse(await readFile(join(home, "custom", "auth.json"), "utf8")), {
      credHelpers: { [HOST]: "cloud" },
    });
    assert.equal((await stat(join(home, "custom", "auth.json"))).mode & 0o777, 0o600);
  });

  test("warns about a plaintext login for a configured host; --no-drop-in needs a host", async (t) => {
    const home = await tmpTree(t, {
      ".config/containers/auth.json": JSON.stringify({ auths: { [HOST]: { auth: "eDp5" } } }),
    });
    const r = await runCli(["configure", "podman", "--registry", HOST, "--no-drop-in"], "", baseEnv(home));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /plaintext login for europe-docker\.pkg\.dev/);
    assert.ok(!r.stderr.includes("eDp5"));
    await assert.rejects(stat(join(home, DROP_IN)));
    const n = await runCli(["configure", "podman", "--no-drop-in"], "", baseEnv(home));
    assert.equal(n.code, 1);
  });

  test("a later drop-in that sets credential-helpers overrides ours: configure says so, doctor says podman is not wired", async (t) => {
    const dir = join(".config", "containers", "registries.conf.d");
    const home = await tmpTree(t, {
      [join(dir, "10-early.conf")]: 'credential-helpers = ["secretservice"]\n',
      [join(dir, "90-mine.conf")]: '# mine\ncredential-helpers = [ "containers-auth.json" ]\n',
    });
    const ours = join(home, DROP_IN);
    const mine = join(home, dir, "90-mine.conf");
    const env = baseEnv(home);
    // The dry run says it before anything is written (ours placed where it will be read).
    const dry = await runCli(["configure", "podman", "--dry-run"], "", env);
    assert.match(dry.stderr, /ours is overridden and ignored: .*90-mine\.conf/);
    await assert.rejects(stat(ours), "the dry run wrote nothing");
    const r = await runCli(["configure", "podman"], "", env);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(
      r.stderr.includes(
        `warning: ours is overridden and ignored: ${mine} sets credential-helpers = ["containers-auth.json"] and is read after ${ours}, so podman, skopeo and buildah do not ask docker-credential-cloud`,
      ),
      r.stderr,
    );
    // An earlier file is replaced by ours: a note, not a warning.
    assert.ok(
      r.stdout.includes(
        `note: ${join(home, dir, "10-early.conf")} sets credential-helpers = ["secretservice"]; ${ours} is read after it and replaces it`,
      ),
      r.stdout,
    );
    assert.doesNotMatch(r.stderr, /10-early/);

    const doctor = async () => {
      const d = await runCli(["doctor", "--json"], "", env);
      const j = JSON.parse(d.stdout) as {
        clients: {
          configs: {
            client: string;
            path: string;
            wired: boolean;
            overriddenBy?: { path: string; credentialHelpers: string[] };
          }[];
        };
        warnings: string[];
      };
      return { d, j, conf: (p: string) => j.clients.configs.find((c) => c.path === p) };
    };
    const a = await doctor();
    assert.equal(a.conf(ours)?.wired, false, a.d.stdout);
    assert.deepEqual(a.conf(ours)?.overriddenBy, { path: mine, credentialHelpers: ["containers-auth.json"] });
    assert.equal(a.conf(mine)?.wired, false);
    assert.equal(a.conf(mine)?.overriddenBy, undefined);
    assert.ok(
      a.j.clients.configs.every((c) => !c.client.startsWith("podman") || !c.wired),
      "podman is not wired",
    );
    assert.ok(
      a.j.warnings.some((w) => w.includes(`podman, skopeo and buildah do not ask cloud: ${ours}`) && w.includes(mine)),
      a.j.warnings.join("\n"),
    );
    const human = await runCli(["doctor"], "", env);
    assert.ok(
      human.stdout.includes(`overridden by ${mine} (credential-helpers = [containers-auth.json]), read after it`),
      human.stdout,
    );

    // Without the later file ours is in force again: wired.
    await rm(mine);
    const b = await doctor();
    assert.equal(b.conf(ours)?.wired, true, b.d.stdout);
    assert.equal(b.conf(ours)?.overriddenBy, undefined);
    const again = await runCli(["configure", "podman"], "", env);
    assert.doesNotMatch(again.stderr, /overridden/);
  });
});
