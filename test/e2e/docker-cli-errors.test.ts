// Issue 13 §2, through the real Docker CLI: when `get` fails, Docker drops the helper's stdout (the
// protocol line) and shows only what the helper writes on stderr. `docker pull` resolves the
// registry's credentials client-side, running the credential helper BEFORE it contacts the daemon,
// so no daemon is needed: DOCKER_HOST points at a socket that does not exist, and the CLI's output
// still shows the helper's one-line cause, followed by Docker's "Cannot connect to the Docker
// daemon". Run with Debian's docker.io (/usr/bin/docker, installed by .ci/run) and with whichever
// `docker` comes first on PATH, if that is another one.
import assert from "node:assert/strict";
import { chmod, mkdir, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, type TestContext, test } from "node:test";
import { BIN, baseEnv } from "../support/cli.ts";
import { run, which } from "../support/namespace.ts";
import { startTinyproxy, type Tinyproxy } from "../support/tinyproxy.ts";
import { tmpTree } from "../support/tmp.ts";

const HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const IMAGE = `${HOST}/team/api:v1`;
const DOCKERS = [...new Set([which("docker", "/usr/bin"), which("docker")])].filter(
  (d): d is string => d !== undefined,
);
const skip = DOCKERS.length === 0 ? "the Docker CLI is not installed (docker.io)" : false;

describe("the helper's cause, as the Docker CLI shows it (docker pull, no daemon needed)", { skip }, () => {
  let proxy: Tinyproxy;
  let dir: string;
  before(async () => {
    dir = await tmpTree(undefined);
    proxy = await startTinyproxy(dir, [["127.0.0.1:9", ".amazonaws.com"]], {
      basicAuth: { user: "corp", password: "corp-password" },
    });
  });
  after(async () => {
    proxy?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A home whose Docker config sends HOST to `helper` (linked to `target`), with `files` in it. */
  const home = async (t: TestContext, helper: string, target: string, files: Record<string, string> = {}) => {
    const h = await tmpTree(t, {
      ".docker/config.json": JSON.stringify({ credHelpers: { [HOST]: helper } }),
      ...files,
    });
    await mkdir(join(h, "bin"));
    await symlink(target, join(h, "bin", `docker-credential-${helper}`));
    return h;
  };

  /** `docker pull IMAGE` with `docker`, the daemon socket missing; returns what the user sees. */
  const pull = async (docker: string, h: string, extra: Record<string, string> = {}) => {
    const base = baseEnv(h);
    const env = {
      ...base,
      PATH: `${join(h, "bin")}:${base.PATH}`,
      DOCKER_CONFIG: join(h, ".docker"),
      DOCKER_HOST: `unix://${join(h, "no-daemon.sock")}`,
      ...extra,
    };
    const r = await run(docker, ["pull", IMAGE], { env, timeoutMs: 60_000 });
    assert.equal(r.code, 1, `${docker}: ${r.stdout}${r.stderr}`);
    // The helper ran before the daemon was contacted.
    assert.match(r.stderr, /Cannot connect to the Docker daemon/, `${docker}: ${r.stderr}`);
    return `${r.stdout}${r.stderr}`;
  };

  test("a config-file typo: Docker shows the file, the key and why", async (t) => {
    const h = await home(t, "cloud", BIN, {
      ".config/docker-credential-cloud/config.yaml": "registries:\n  - match: x\n    aws: {profle: dev}\n",
    });
    for (const docker of DOCKERS) {
      const seen = await pull(docker, h);
      assert.ok(
        seen.includes(
          `docker-credential-cloud: ${join(h, ".config/docker-credential-cloud/config.yaml")}: registries[0].aws.profle: unknown key\n`,
        ),
        `${docker}: ${seen}`,
      );
    }
  });

  test("no cloud identity on this machine: Docker shows what was tried and what to set up", async (t) => {
    const h = await home(t, "cloud", BIN);
    for (const docker of DOCKERS) {
      const seen = await pull(docker, h);
      assert.match(
        seen,
        new RegExp(
          `docker-credential-cloud: warn: no AWS identity found for ${HOST.replace(/\./g, "\\.")}: tried .*; set one up`,
        ),
        docker,
      );
    }
  });

  test("a proxy that wants credentials: Docker shows the proxy's refusal, not the AWS key's", async (t) => {
    const h = await home(t, "cloud", BIN);
    for (const docker of DOCKERS) {
      const seen = await pull(docker, h, {
        AWS_ACCESS_KEY_ID: "AKIADOCKERCLI",
        AWS_SECRET_ACCESS_KEY: "docker-cli-secret",
        HTTPS_PROXY: proxy.url,
      });
      assert.ok(
        seen.includes(
          `the proxy ${proxy.url} refused the tunnel to api.ecr.eu-west-1.amazonaws.com:443: 407 Proxy Authentication Required — set credentials in HTTPS_PROXY (http://user:pass@…) or NO_PROXY\n`,
        ),
        `${docker}: ${seen}`,
      );
    }
  });

  // The control that makes the three above meaningful: a helper that fails with its cause on stdout
  // only (as ours did before issue 13 §2) is invisible to a Docker user.
  test("control: a cause written only on stdout never reaches the Docker user", async (t) => {
    const shim = join(dir, "stdout-only");
    await writeFile(shim, "#!/bin/sh\ncat >/dev/null\necho 'CAUSE-ON-STDOUT-ONLY'\nexit 1\n");
    await chmod(shim, 0o755);
    const h = await home(t, "stdoutonly", shim);
    for (const docker of DOCKERS) {
      const seen = await pull(docker, h);
      assert.ok(!seen.includes("CAUSE-ON-STDOUT-ONLY"), `${docker} showed the helper's stdout: ${seen}`);
    }
  });
});
