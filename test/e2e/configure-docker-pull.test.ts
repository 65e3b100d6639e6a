// `docker pull` through a real Docker daemon (Debian's docker.io) with the ~/.docker/config.json
// that `configure docker` wrote: the CLI runs the BUILT helper (credHelpers → docker-credential-cloud
// → fake ECR) and hands the token to the daemon, which pulls from a real docker-registry answering
// as an ECR host. The daemon runs in a private mount namespace whose /etc/hosts maps the ECR host to
// loopback and whose /etc/docker is a temp dir holding the registry's CA (certs.d), with its own
// data root, exec root and socket (nothing shared with a system daemon), vfs storage, no iptables.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { copyFile, mkdir, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { BIN, baseEnv, runCli } from "../support/cli.ts";
import { awsEnv, type FakeAws, startFakeAws } from "../support/fake-aws.ts";
import { e2eSkip, hostsFileText, run } from "../support/namespace.ts";
import { pushImage, type Registry, startRegistry } from "../support/registry.ts";
import { makeCa } from "../support/tls.ts";
import { tmpTree } from "../support/tmp.ts";

const HOST = "345678901234.dkr.ecr.ap-southeast-2.amazonaws.com";
const IP = "127.0.0.9";
const REPO = "team/api";
const AKID = "AKIAFAKEDOCKERPULL01";
const SECRET = "fake-docker-pull-secret";
const PASSWORD = `pw-ap-southeast-2-${AKID}`;

const skip = e2eSkip(["dockerd", "docker", "skopeo", "docker-registry", "htpasswd", "openssl", "setpriv"]);

describe("docker pull through the daemon with what configure docker wrote", { skip }, () => {
  let fake: FakeAws;
  let registry: Registry | undefined;
  let daemon: ChildProcess | undefined;
  let daemonLog = "";
  let work = "";
  let sock = "";

  const docker = (args: string[], env: Record<string, string>) =>
    run("docker", args, { env: { ...env, DOCKER_HOST: `unix://${sock}` }, timeoutMs: 120_000 });

  before(async () => {
    work = await tmpTree(undefined);
    fake = await startFakeAws({ keys: { [AKID]: SECRET } });
    await mkdir(join(work, "ca"));
    const ca = await makeCa(join(work, "ca"));
    registry = await startRegistry({ ca, ip: IP, hostnames: [HOST], users: { AWS: PASSWORD } });
    await pushImage(registry, `${HOST}/${REPO}:v1`, "AWS", PASSWORD);
    await mkdir(join(work, "bin"));
    await symlink(BIN, join(work, "bin", "docker-credential-cloud"));
    const d = join(work, "daemon");
    await mkdir(d);
    sock = join(d, "docker.sock");
    await writeFile(join(d, "hosts"), hostsFileText(registry.hosts));
    // The daemon trusts registry CAs from /etc/docker/certs.d/<host>/ca.crt only: a private
    // /etc/docker (inside the namespace) holds ours.
    const etcDocker = join(d, "etc-docker");
    await mkdir(join(etcDocker, "certs.d", HOST), { recursive: true });
    await copyFile(join(registry.certDir, "ca.crt"), join(etcDocker, "certs.d", HOST, "ca.crt"));
    const script = 'mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/docker && shift 2 && exec "$@"';
    daemon = spawn(
      "setpriv",
      [
        "--pdeathsig",
        "KILL",
        "--",
        "unshare",
        "-m",
        "--propagation",
        "private",
        "/bin/sh",
        "-c",
        script,
        "sh",
        join(d, "hosts"),
        etcDocker,
        "dockerd",
        "--data-root",
        join(d, "data"),
        "--exec-root",
        join(d, "exec"),
        "--pidfile",
        join(d, "pid"),
        "-H",
        `unix://${sock}`,
        "--iptables=false",
        "--ip6tables=false",
        "--bridge=none",
        "--storage-driver=vfs",
        "--containerd-namespace",
        "dcc-test",
        "--containerd-plugins-namespace",
        "dcc-test-plugins",
      ],
      { stdio: ["ignore", "pipe", "pipe"], detached: true, env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } },
    );
    const keep = (b: Buffer) => {
      daemonLog = (daemonLog + b.toString()).slice(-20_000);
    };
    daemon.stdout?.on("data", keep);
    daemon.stderr?.on("data", keep);
    for (const end = Date.now() + 60_000; ; ) {
      const v = await docker(["version", "--format", "{{.Server.Version}}"], { PATH: process.env.PATH ?? "" });
      if (v.code === 0) break;
      if (Date.now() > end || daemon.exitCode !== null) throw new Error(`dockerd did not start:\n${daemonLog}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  });
  after(async () => {
    if (daemon?.pid !== undefined) {
      try {
        process.kill(-daemon.pid, "SIGTERM");
      } catch {}
      await new Promise((r) => setTimeout(r, 1000));
      try {
        process.kill(-daemon.pid, "SIGKILL");
      } catch {}
    }
    await registry?.stop();
    await fake?.close();
    await rm(work, { recursive: true, force: true });
  });

  test("configure docker --registry, then docker pull gets the image; without it the pull is refused", async () => {
    const home = join(work, "home");
    await mkdir(home);
    const env = {
      ...baseEnv(home),
      PATH: `${join(work, "bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`,
      ...awsEnv(fake, AKID, SECRET),
    };
    const refused = await docker(["pull", "--quiet", `${HOST}/${REPO}:v1`], env);
    // Docker treats registries on 127.0.0.0/8 as "insecure" and, after the refused HTTPS attempt,
    // also tries plain HTTP, whose "connection refused" is the error it reports.
    assert.notEqual(refused.code, 0, "no credentials yet");

    const c = await runCli(["configure", "docker", "--registry", HOST], "", env);
    assert.equal(c.code, 0, c.stderr);
    fake.calls = {};
    const r = await docker(["pull", "--quiet", `${HOST}/${REPO}:v1`], env);
    assert.equal(r.code, 0, `docker pull: ${r.stderr}\n${daemonLog.slice(-3000)}`);
    assert.equal(fake.calls.ecr, 1, "the token came from the fake ECR through our helper");
    const img = await docker(["image", "inspect", "--format", "{{.Id}}", `${HOST}/${REPO}:v1`], env);
    assert.equal(img.code, 0, img.stderr);
    assert.match(img.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
  });
});
