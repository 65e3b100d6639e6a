// Every metadata timeout must hold in the compiled binary too (issue 14): in a private network
// namespace where 169.254.169.254 exists but a netfilter DROP rule swallows every packet to it
// (a laptop or CI runner where link-local traffic is silently dropped), a `get` with no identity
// must end with "credentials not found" after the short metadata probes — not hang until the
// request budget ends. Before the fix, Bun's node:http ignored the IMDS client's connect timeout
// and the binary's ECR get printed "did not finish within 30 s".
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { baseEnv, EXECUTABLE, LAUNCHER, runCli } from "../support/cli.ts";
import { which } from "../support/namespace.ts";
import { tmpTree } from "../support/tmp.ts";

const SBIN_PATH = `${process.env.PATH ?? "/usr/bin:/bin"}:/usr/sbin:/sbin`;
const tools = ["unshare", "ip", "iptables"].filter((t) => !which(t, SBIN_PATH));
const skip =
  process.getuid?.() !== 0
    ? "needs root for a network namespace with a netfilter rule; CI runs as root"
    : tools.length > 0
      ? `missing tools: ${tools.join(", ")} (Debian: util-linux, iproute2, iptables)`
      : false;

// Inside the new namespace: loopback up, the metadata address on it, every packet to it dropped.
const SETUP = `set -e
ip link set lo up
ip addr add 169.254.169.254/32 dev lo
iptables -A INPUT -d 169.254.169.254 -j DROP
exec "$@"
`;

const HOSTS = {
  ecr: "123456789012.dkr.ecr.us-east-1.amazonaws.com",
  google: "gcr.io",
  acr: "example.azurecr.io",
};

describe("metadata traffic silently dropped", { skip }, () => {
  for (const [name, bin] of [
    ["executable", EXECUTABLE],
    ["Node launcher", LAUNCHER],
  ] as const) {
    for (const [cloud, host] of Object.entries(HOSTS)) {
      test(`${name}, ${cloud}: credentials not found after the probes, no request-budget timeout`, async (t) => {
        const home = await tmpTree(t);
        const script = join(home, "netns.sh");
        await writeFile(script, SETUP);
        const env: Record<string, string> = { ...baseEnv(home), PATH: SBIN_PATH };
        // Metadata probing ON: the point of this test.
        delete env.AWS_EC2_METADATA_DISABLED;
        delete env.METADATA_SERVER_DETECTION;
        delete env.AZURE_POD_IDENTITY_AUTHORITY_HOST;
        // The request budget stays at its default (30 s); a hang is ended at 25 s by runCli and
        // shows as code null.
        const r = await runCli(["-n", "bash", script, bin, "get"], host, env, { bin: "unshare", timeoutMs: 25_000 });
        assert.equal(r.code, 1, `stderr: ${r.stderr}`);
        assert.equal(r.stdout, "credentials not found in native keychain\n");
        assert.doesNotMatch(r.stderr, /did not finish within/);
      });
    }
  }
});
