// The DaemonSet's install script, run for real against a temp "node": the payload is laid out like
// the installer image's (/payload: VERSION, bin/docker-credential-cloud = the executable), the host
// root is a temp dir.
// Then the kubelet's view: each configured provider name in the bin dir resolves (through the
// installer's symlinks) to a program that answers a CredentialProviderRequest strictly.
import assert from "node:assert/strict";
import { lstat, mkdir, readdir, readFile, readlink, rm, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parseAllDocuments } from "yaml";
import { loadCredentialProviderConfig } from "../../src/keyring/kubelet-config.ts";
import { baseEnv, EXECUTABLE, ROOT, runCli } from "../support/cli.ts";
import { checkRun } from "../support/kubelet-checker.ts";
import { run } from "../support/namespace.ts";
import { tmpTree } from "../support/tmp.ts";

const PACKAGING = join(ROOT, "packaging", "kubernetes");
const LINK_TARGET = "/opt/docker-credential-cloud/current/bin/docker-credential-cloud";

const configMap = async () => {
  const docs = parseAllDocuments(await readFile(join(PACKAGING, "daemonset.yaml"), "utf8"));
  const cm = docs[0]?.toJS() as { data: Record<string, string> } | undefined;
  return cm?.data ?? {};
};

/** A payload tree like the installer image's (packaging/kubernetes/Dockerfile), with this checkout's executable. */
const makePayload = async (dir: string, version: string) => {
  await mkdir(join(dir, "bin"), { recursive: true });
  await writeFile(join(dir, "VERSION"), `${version}\n`);
  await symlink(EXECUTABLE, join(dir, "bin", "docker-credential-cloud"));
  return dir;
};

const install = async (work: string, payload: string, extra: Record<string, string> = {}) => {
  const data = await configMap();
  await writeFile(join(work, "install.sh"), data["install.sh"] ?? "");
  await writeFile(join(work, "config.yaml"), data["config.yaml"] ?? "");
  return run("/bin/sh", [join(work, "install.sh")], {
    env: {
      ...baseEnv(join(work, "home")),
      PAYLOAD: payload,
      HOST_ROOT: join(work, "host"),
      CONFIG_SRC: join(work, "config.yaml"),
      ...extra,
    },
    timeoutMs: 60_000,
  });
};

/** Follows the bin-dir symlinks as the kubelet would on the node, with the node's root at `host`. */
const resolveOnNode = async (host: string, path: string): Promise<string> => {
  let p = path;
  for (let i = 0; i < 10; i++) {
    const st = await lstat(p);
    if (!st.isSymbolicLink()) return p;
    const target = await readlink(p);
    // Absolute links are node paths, except the payload's link to this checkout's executable.
    p = target.startsWith(ROOT) ? target : target.startsWith("/") ? join(host, target) : join(p, "..", target);
  }
  throw new Error("symlink loop");
};

describe("DaemonSet install script", () => {
  test("the script is valid POSIX sh", async () => {
    const dir = await tmpTree(undefined, { "install.sh": (await configMap())["install.sh"] ?? "" });
    const r = await run("/bin/sh", ["-n", join(dir, "install.sh")], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, r.stderr);
  });

  test("installs the program, the kubelet's names and a valid config; the self-test answers", async (t) => {
    const work = await tmpTree(t);
    const payload = await makePayload(join(work, "payload-1"), "0.1.0");
    const r = await install(work, payload);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^\{"kind":"CredentialProviderResponse".*\n.*docker-credential-cloud 0\.1\.0 installed\n$/s);
    const host = join(work, "host");
    const root = join(host, "opt/docker-credential-cloud");
    assert.equal(await readlink(join(root, "current")), "0.1.0");
    await stat(join(root, "0.1.0", ".complete"));
    const conf = join(host, "etc/kubernetes/image-credential-provider");
    const cfg = await loadCredentialProviderConfig(join(conf, "config.yaml"));
    assert.equal(((await stat(join(conf, "config.yaml"))).mode & 0o777).toString(8), "644");
    const names = await readdir(join(conf, "bin"));
    for (const p of cfg.providers) assert.ok(names.includes(p.name), `${p.name} installed`);
    assert.deepEqual(
      names.filter((n) => n.startsWith(".")),
      [],
      "no temporary files left behind",
    );
    for (const n of names) assert.equal(await readlink(join(conf, "bin", n)), LINK_TARGET);
  });

  test("the kubelet's exec of each configured name answers strictly (the executable through the symlinks)", async (t) => {
    const work = await tmpTree(t);
    const r = await install(work, await makePayload(join(work, "payload"), "0.1.0"));
    assert.equal(r.code, 0, r.stderr);
    const host = join(work, "host");
    const conf = join(host, "etc/kubernetes/image-credential-provider");
    const cfg = await loadCredentialProviderConfig(join(conf, "config.yaml"));
    for (const p of cfg.providers) {
      const bin = await resolveOnNode(host, join(conf, "bin", p.name));
      const image = "docker.io/library/busybox";
      const out = await runCli(
        p.args,
        `${JSON.stringify({ kind: "CredentialProviderRequest", apiVersion: p.apiVersion, image })}\n`,
        {
          ...baseEnv(join(work, "home")),
          ...Object.fromEntries(p.env.map((e) => [e.name, e.value.replace(/^\//, `${work}/`)])),
        },
        { bin },
      );
      const c = checkRun(out, { apiVersion: p.apiVersion, image });
      assert.equal(c.response.cacheDuration, "0s");
    }
  });

  test("an upgrade switches `current` atomically and keeps the old version; reruns are idempotent", async (t) => {
    const work = await tmpTree(t);
    assert.equal((await install(work, await makePayload(join(work, "p1"), "0.1.0"))).code, 0);
    const r2 = await install(work, await makePayload(join(work, "p2"), "0.2.0"));
    assert.equal(r2.code, 0, r2.stderr);
    const root = join(work, "host/opt/docker-credential-cloud");
    assert.equal(await readlink(join(root, "current")), "0.2.0");
    await stat(join(root, "0.1.0", ".complete"));
    const r3 = await install(work, await makePayload(join(work, "p3"), "0.2.0"));
    assert.equal(r3.code, 0, r3.stderr);
    assert.deepEqual((await readdir(root)).sort(), ["0.1.0", "0.2.0", "current"]);
  });

  test("INSTALL_CONFIG=false leaves the node's own config alone", async (t) => {
    const work = await tmpTree(t, {
      "host/etc/kubernetes/image-credential-provider/config.yaml": "# the node image's\n",
    });
    const r = await install(work, await makePayload(join(work, "payload"), "0.1.0"), { INSTALL_CONFIG: "false" });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      await readFile(join(work, "host/etc/kubernetes/image-credential-provider/config.yaml"), "utf8"),
      "# the node image's\n",
    );
  });

  test("a broken payload fails the init container (the pod does not report ready)", async (t) => {
    const work = await tmpTree(t);
    const payload = await makePayload(join(work, "payload"), "0.1.0");
    await rm(join(payload, "bin", "docker-credential-cloud")); // the link, not the executable
    await writeFile(join(payload, "bin", "docker-credential-cloud"), "#!/bin/sh\nexit 3\n");
    const r = await install(work, payload);
    assert.notEqual(r.code, 0);
  });
});
