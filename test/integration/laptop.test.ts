// A laptop with no cloud identity: link-local metadata black-holed (a private network namespace
// with an iptables DROP rule for 169.254.169.254 and fd00:ec2::254, as packets to it vanish on a
// real network), nothing configured. Every cloud answers "credentials not found" with a warning
// that names the host asked for, and remembers it: the next get of another host of the same cloud
// makes no probe. Timings are measured in bench/, not asserted here.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { BIN, runCli } from "../support/cli.ts";
import { tmpTree } from "../support/tmp.ts";

const NOT_FOUND = "credentials not found in native keychain\n";

const CLOUDS = [
  ["ECR", "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "210987654321.dkr.ecr.us-east-1.amazonaws.com"],
  ["Google", "europe-west4-docker.pkg.dev", "gcr.io"],
  ["ACR", "myregistry.azurecr.io", "otherregistry.azurecr.io"],
] as const;

/** Runs `get host` for each host in turn inside one black-holed namespace; stdout/stderr per run. */
const inBlackHole = async (home: string, hosts: string[]): Promise<{ stdout: string; stderr: string }[]> => {
  const script = join(home, "run.sh");
  const lines = [
    "#!/bin/bash",
    "set -e",
    "ip link set lo up",
    "ip addr add 169.254.169.254/32 dev lo",
    "ip -6 addr add fd00:ec2::254/128 dev lo",
    "iptables -A OUTPUT -d 169.254.169.254 -j DROP",
    "ip6tables -A OUTPUT -d fd00:ec2::254 -j DROP",
    "set +e",
    ...hosts.map(
      (h, i) => `echo ${h} | env -i PATH=/usr/bin:/bin HOME=${home} ${BIN} get >${home}/out${i} 2>${home}/err${i}`,
    ),
    "exit 0",
  ];
  await writeFile(script, `${lines.join("\n")}\n`);
  await chmod(script, 0o755);
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn("unshare", ["-rn", script], { stdio: "inherit" });
    child.on("error", reject);
    child.on("close", resolve);
  });
  assert.equal(code, 0, "the namespace script ran");
  return Promise.all(
    hosts.map(async (_, i) => ({
      stdout: await readFile(join(home, `out${i}`), "utf8"),
      stderr: await readFile(join(home, `err${i}`), "utf8"),
    })),
  );
};

describe("a laptop with no identity (link-local metadata black-holed)", () => {
  for (const [cloud, first, second] of CLOUDS) {
    test(`${cloud}: not found, a warning naming each host asked for`, async (t) => {
      const home = await tmpTree(t);
      await mkdir(join(home, ".cache"), { recursive: true });
      const [a, b] = await inBlackHole(home, [first, second]);
      assert.equal(a?.stdout, NOT_FOUND);
      assert.equal(b?.stdout, NOT_FOUND);
      assert.ok(a?.stderr.includes(first), a?.stderr);
      // The remembered absence is reported for the host being asked, not the first one.
      assert.ok(b?.stderr.includes(second), b?.stderr);
      assert.ok(!b?.stderr.includes(first), b?.stderr);
    });
  }
});

describe("the remembered absence: the second get makes no probe", () => {
  // A "metadata service" that accepts connections and drops them at once, counting them.
  let server: Server;
  let connections = 0;
  let port = 0;
  const sockets = new Set<import("node:net").Socket>();
  before(async () => {
    server = createServer((s) => {
      connections++;
      sockets.add(s);
      s.on("error", () => {});
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as { port: number }).port;
  });
  after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });

  const run = (host: string, env: Record<string, string>) => runCli(["get"], `${host}\n`, env);

  for (const [cloud, first, second] of CLOUDS) {
    test(cloud, async (t) => {
      const home = await tmpTree(t);
      const endpoint = `127.0.0.1:${port}`;
      const env: Record<string, string> = {
        PATH: "/usr/bin:/bin",
        HOME: home,
        AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://${endpoint}`,
        GCE_METADATA_HOST: endpoint,
        AZURE_POD_IDENTITY_AUTHORITY_HOST: `http://${endpoint}`,
        DOCKER_CREDENTIAL_CLOUD_TIMEOUT: "2",
      };
      const before = connections;
      const a = await run(first, env);
      assert.equal(a.stdout, NOT_FOUND, a.stderr);
      assert.ok(connections > before, "the first get probed the metadata service");
      const probed = connections;
      const b = await run(second, env);
      assert.equal(b.stdout, NOT_FOUND, b.stderr);
      assert.equal(connections, probed, "the second get made no probe");
      assert.ok(b.stderr.includes(second), b.stderr);
    });
  }
});
