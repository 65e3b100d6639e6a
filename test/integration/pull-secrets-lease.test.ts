// pull-secrets' leader election under slow API calls, and SIGTERM in the middle of a pass: the
// built CLI as child processes against a fake Kubernetes API that delays every request (so a pass
// takes several lease durations) and tells the replicas apart by their bearer tokens. At every
// write the fake's own Lease is checked: only the replica holding an unexpired lease may write.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { baseEnv } from "../support/cli.ts";
import { awsEnv, type FakeAws, startFakeAws } from "../support/fake-aws.ts";
import { type FakeKube, kubeconfigFor, type Request } from "../support/fake-kube.ts";
import { type Spawned, spawnCli, startKubeFixture } from "../support/pull-secrets.ts";
import { waitFor } from "../support/scripts.ts";
import { tmpTree } from "../support/tmp.ts";

const HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const AKID = "AKIAFAKEPULLSECRETL1";
const SECRET = "fake-pull-secrets-lease";
/** Each test its own secret name: a replica releases our secret name from the namespaces it does not select. */
const secretFor = (prefix: string) => `${prefix}creds`;
/** Per request; a namespace costs five (secret get + create, service accounts list, get + update). */
const LATENCY_MS = 150;
const LEASE_SECONDS = 3;
const NAMESPACES = 12;

type Replica = Spawned & { name: string };
type LeaseSpec = { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number };
type Write = { user: string; method: string; path: string; ok: boolean; lease: LeaseSpec | undefined };

describe("pull-secrets: leadership during long passes, SIGTERM mid-pass", () => {
  let kube: FakeKube;
  let aws: FakeAws;
  let work = "";
  let caPem = "";
  const replicas: Replica[] = [];

  before(async () => {
    work = await tmpTree(undefined);
    ({ kube, caPem } = await startKubeFixture(work));
    aws = await startFakeAws({ keys: { [AKID]: SECRET } });
    kube.addNamespace("ops");
  });
  after(async () => {
    for (const r of replicas) r.child.kill("SIGKILL");
    await kube?.close();
    await aws?.close();
  });

  /** Writes to secrets and service accounts, each with the Lease as the fake had it then. */
  const watchWrites = (lease: string): Write[] => {
    const writes: Write[] = [];
    kube.onRequest = (r: Request) => {
      if (r.method === "GET" || !/\/(secrets|serviceaccounts)(\/|$)/.test(r.path.split("?")[0] ?? "")) return;
      const spec = kube.get("leases", "ops", lease)?.spec as LeaseSpec | undefined;
      const valid =
        !!spec?.renewTime &&
        spec.holderIdentity === r.user &&
        Date.parse(spec.renewTime) + (spec.leaseDurationSeconds ?? 0) * 1000 > Date.now();
      writes.push({ user: r.user ?? "", method: r.method, path: r.path, ok: valid, lease: spec });
    };
    return writes;
  };
  const invalid = (writes: Write[]) =>
    writes
      .filter((w) => !w.ok)
      .map((w) => `${w.method} ${w.path} by ${w.user} while the lease was ${JSON.stringify(w.lease)}`);
  /** Who wrote, in order, with repeats collapsed: one entry per uninterrupted run of one writer. */
  const runs = (writes: Write[]) => writes.map((w) => w.user).filter((u, i, a) => u !== a[i - 1]);

  const namespaces = (prefix: string) => {
    for (let i = 0; i < NAMESPACES; i++) kube.addNamespace(`${prefix}${i}`);
  };
  const served = (prefix: string) => {
    const NAME = secretFor(prefix);
    let n = 0;
    for (let i = 0; i < NAMESPACES; i++) {
      const sa = kube.get("serviceaccounts", `${prefix}${i}`, "default") as { imagePullSecrets?: unknown } | undefined;
      if (kube.get("secrets", `${prefix}${i}`, NAME) && JSON.stringify(sa?.imagePullSecrets) === `[{"name":"${NAME}"}]`)
        n += 1;
    }
    return n;
  };
  const secrets = (prefix: string) =>
    kube
      .list("secrets")
      .filter((s) => s.metadata.namespace?.startsWith(prefix) && s.metadata.name === secretFor(prefix)).length;
  const holder = (lease: string) => (kube.get("leases", "ops", lease)?.spec as LeaseSpec | undefined)?.holderIdentity;

  const start = async (name: string, prefix: string, args: string[] = []): Promise<Replica> => {
    const cfg = join(work, `${name}.yaml`);
    await writeFile(
      cfg,
      `registries: [${HOST}]\nsecretName: ${secretFor(prefix)}\nnamespaces: { include: ["${prefix}*"] }\nlease: { namespace: ops, name: ${prefix}lease }\nmetricsPort: 0\n`,
    );
    const kubeconfig = join(work, `${name}.kubeconfig`);
    await writeFile(kubeconfig, kubeconfigFor(kube, caPem, kube.tokenFor(name)));
    const r = {
      name,
      ...spawnCli(["pull-secrets", "--config", cfg, "--kubeconfig", kubeconfig, ...args], {
        ...baseEnv(join(work, `home-${name}`)),
        ...awsEnv(aws, AKID, SECRET),
        DOCKER_CREDENTIAL_CLOUD_CACHE: "off",
        DOCKER_CREDENTIAL_CLOUD_LOG: "debug",
        PULL_SECRETS_LEASE_SECONDS: String(LEASE_SECONDS),
        POD_NAME: name,
      }),
    };
    replicas.push(r);
    return r;
  };
  /** After each test: no replica left running into the next, the fake back to normal. */
  const cleanUp = () => {
    for (const r of replicas) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill("SIGKILL");
    kube.latencyMs = 0;
    kube.onRequest = undefined;
  };
  const stop = async (r: Replica) => {
    r.child.kill("SIGTERM");
    assert.equal(await r.exited, 0, r.stderr());
  };

  test("a pass longer than the lease: the leader renews during it, the standby never writes", async () => {
    kube.latencyMs = LATENCY_MS;
    const writes = watchWrites("long-lease");
    try {
      namespaces("long-");
      const a = await start("long-a", "long-");
      await waitFor(() => holder("long-lease") === "long-a", "long-a holds the lease", 20_000);
      const b = await start("long-b", "long-");
      await waitFor(() => served("long-") === NAMESPACES, "every namespace served", 90_000);
      assert.deepEqual(invalid(writes), [], "every write by the holder of an unexpired lease");
      assert.deepEqual(runs(writes), ["long-a"], "one writer");
      assert.ok(writes.length >= 2 * NAMESPACES, `the pass wrote: ${writes.length}`);
      assert.ok(
        kube.requests.some((q) => q.user === "long-b" && q.path.includes("/leases/")),
        "long-b tried for the lease",
      );
      assert.doesNotMatch(a.stderr(), /lost leadership/);
      await stop(b);
      await stop(a);
    } finally {
      cleanUp();
    }
  });

  test("a leader whose renewals fail stops its pass before the lease runs out; the standby takes over", async () => {
    kube.latencyMs = LATENCY_MS;
    const writes = watchWrites("fail-lease");
    try {
      namespaces("fail-");
      const a = await start("fail-a", "fail-");
      await waitFor(() => holder("fail-lease") === "fail-a", "fail-a holds the lease", 20_000);
      const b = await start("fail-b", "fail-");
      await waitFor(() => secrets("fail-") >= 2, "fail-a's pass under way", 30_000);
      kube.failNext(/\/leases/, 10_000, "fail-a"); // fail-a cannot renew (nor read) the lease any more
      await waitFor(() => /lost leadership/.test(a.stderr()), "fail-a steps down", 20_000);
      await waitFor(() => served("fail-") === NAMESPACES, "every namespace served", 90_000);
      assert.equal(holder("fail-lease"), "fail-b");
      assert.deepEqual(invalid(writes), [], "every write by the holder of an unexpired lease");
      assert.deepEqual(runs(writes), ["fail-a", "fail-b"], "one writer at a time: a, then b");
      const byA = new Set(writes.filter((w) => w.user === "fail-a" && w.method === "POST").map((w) => w.path));
      assert.ok(byA.size < NAMESPACES, "fail-a stopped its pass");
      await stop(b);
      await stop(a);
    } finally {
      cleanUp();
    }
  });

  test("SIGTERM to the leader mid-pass: it finishes the namespace in hand, releases the lease and exits 0", async () => {
    kube.latencyMs = LATENCY_MS;
    const writes = watchWrites("term-lease");
    try {
      namespaces("term-");
      const a = await start("term-a", "term-");
      await waitFor(() => holder("term-lease") === "term-a", "term-a holds the lease", 20_000);
      const b = await start("term-b", "term-");
      await waitFor(() => secrets("term-") >= 2, "term-a's pass under way", 30_000);
      a.child.kill("SIGTERM");
      assert.equal(await a.exited, 0, a.stderr());
      assert.notEqual(holder("term-lease"), "term-a", "released at exit, not left to expire");
      const mine = (method: string, re: RegExp) =>
        writes
          .filter((w) => w.user === "term-a" && w.method === method && re.test(w.path))
          .map((w) => /\/namespaces\/([^/]+)\//.exec(w.path)?.[1])
          .sort();
      const secretsByA = mine("POST", /\/secrets/);
      assert.ok(secretsByA.length < NAMESPACES, `term-a stopped early (${secretsByA.length} namespaces)`);
      assert.deepEqual(mine("PUT", /\/serviceaccounts\//), secretsByA, "each namespace it began, it finished");
      assert.match(a.stderr(), /stopping on SIGTERM: pass interrupted after \d+ of \d+ namespaces/);
      assert.match(a.stderr(), /stopped by SIGTERM; lease released for a standby to take over/);
      await waitFor(() => served("term-") === NAMESPACES, "the standby served the rest", 90_000);
      assert.equal(holder("term-lease"), "term-b");
      assert.deepEqual(invalid(writes), [], "every write by the holder of an unexpired lease");
      assert.deepEqual(runs(writes), ["term-a", "term-b"]);
      await stop(b);
    } finally {
      cleanUp();
    }
  });

  test("SIGTERM during --once: stops between namespaces, one line, exit 143", async () => {
    kube.latencyMs = LATENCY_MS;
    try {
      namespaces("once-");
      const r = await start("once", "once-", ["--once"]);
      let out = "";
      r.child.stdout?.setEncoding("utf8").on("data", (d) => {
        out += d;
      });
      await waitFor(() => secrets("once-") >= 2, "the pass under way", 30_000);
      r.child.kill("SIGTERM");
      assert.equal(await r.exited, 143, r.stderr());
      const lines = r.stderr().trim().split("\n");
      assert.match(
        lines[lines.length - 1] ?? "",
        /^docker-credential-cloud: pull-secrets: stopped by SIGTERM after \d+ of \d+ namespaces; the next run serves the rest$/,
      );
      assert.equal(r.stderr().match(/stopped by/g)?.length, 1, "one line");
      const done = secrets("once-");
      assert.ok(done < NAMESPACES, `stopped early (${done} of ${NAMESPACES})`);
      assert.equal(served("once-"), done, "every namespace with a secret has its service account too");
      assert.equal(out.split("\n").filter((l) => l.startsWith("create secret")).length, done, "the report so far");
    } finally {
      cleanUp();
    }
  });
});
