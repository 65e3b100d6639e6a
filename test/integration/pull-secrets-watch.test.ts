// pull-secrets in its long-running mode (the built CLI as child processes) against the fake
// Kubernetes API and the fake AWS: the namespace watch, resync after a dropped watch and after
// 410 Gone, expiry-driven refresh, leader election between two replicas, /healthz and /metrics.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { baseEnv } from "../support/cli.ts";
import { awsEnv, type FakeAws, startFakeAws } from "../support/fake-aws.ts";
import type { FakeKube } from "../support/fake-kube.ts";
import { type Spawned, spawnCli, startKubeFixture } from "../support/pull-secrets.ts";
import { waitFor } from "../support/scripts.ts";
import { tmpTree } from "../support/tmp.ts";

const HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const AKID = "AKIAFAKEPULLSECRETW1";
const SECRET = "fake-pull-secrets-watch";
const PASSWORD = `pw-us-east-1-${AKID}`;
const NAME = "cloud-registry-credentials";

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });

type Replica = Spawned & { port: number };

describe("pull-secrets, long-running", () => {
  let kube: FakeKube;
  let aws: FakeAws;
  let work = "";
  let kubeconfig = "";
  const replicas: Replica[] = [];

  before(async () => {
    work = await tmpTree(undefined);
    ({ kube, kubeconfig } = await startKubeFixture(work));
    aws = await startFakeAws({ keys: { [AKID]: SECRET } });
    kube.addNamespace("ops");
  });
  after(async () => {
    for (const r of replicas) r.child.kill("SIGKILL");
    await kube?.close();
    await aws?.close();
  });

  const start = async (name: string, include: string, extra = ""): Promise<Replica> => {
    const port = await freePort();
    const cfg = join(work, `${name}.yaml`);
    await writeFile(
      cfg,
      `registries: [${HOST}]\nnamespaces: { include: ["${include}"] }\nlease: { namespace: ops, name: ${include.replace(/\W/g, "")}-lease }\nmetricsPort: ${port}\n${extra}`,
    );
    const r = {
      port,
      ...spawnCli(["pull-secrets", "--config", cfg, "--kubeconfig", kubeconfig], {
        ...baseEnv(join(work, `home-${name}`)),
        ...awsEnv(aws, AKID, SECRET),
        DOCKER_CREDENTIAL_CLOUD_CACHE: "off",
        DOCKER_CREDENTIAL_CLOUD_LOG: "debug",
        PULL_SECRETS_LISTEN_ADDRESS: "127.0.0.1",
        PULL_SECRETS_LEASE_SECONDS: "2",
        POD_NAME: name,
      }),
    };
    replicas.push(r);
    return r;
  };
  const metrics = async (r: Replica) => {
    try {
      return await (await fetch(`http://127.0.0.1:${r.port}/metrics`)).text();
    } catch {
      return "";
    }
  };
  /** Namespace lists (not watches) so far. */
  const listRequests = () =>
    kube.requests.filter((q) => q.method === "GET" && /^\/api\/v1\/namespaces(\?(?!.*watch=)|$)/.test(q.path)).length;
  const stop = async (r: Replica) => {
    r.child.kill("SIGTERM");
    assert.equal(await r.exited, 0, r.stderr());
  };

  test("new namespaces are served through the watch, also after a dropped watch", async () => {
    kube.addNamespace("w-1");
    const r = await start("watcher", "w-*");
    await waitFor(() => !!kube.get("secrets", "w-1", NAME), "the initial pass", 30_000);
    await waitFor(() => kube.openWatches() > 0, "a namespace watch", 10_000);
    kube.addNamespace("w-2");
    await waitFor(
      () =>
        JSON.stringify(
          (kube.get("serviceaccounts", "w-2", "default") as { imagePullSecrets?: unknown }).imagePullSecrets,
        ) === JSON.stringify([{ name: NAME }]),
      "w-2 served from the watch (secret and service account)",
      10_000,
    );
    assert.ok(kube.get("secrets", "w-2", NAME));
    // Dropped: the replica watches again from the last resourceVersion it saw (no re-list), and the
    // API replays what happened meanwhile: a namespace created then is served.
    const lists = listRequests();
    kube.dropWatches();
    kube.addNamespace("w-3");
    await waitFor(() => !!kube.get("secrets", "w-3", NAME), "w-3 served after the watch resumed", 15_000);
    assert.equal(listRequests(), lists, "resumed from its resourceVersion, not re-listed");
    assert.ok(
      kube.requests.some((q) => q.path.includes("watch=true") && q.path.includes("allowWatchBookmarks=true")),
      "bookmarks requested",
    );
    const m = await metrics(r);
    assert.match(m, /^pull_secrets_leader 1$/m);
    assert.match(
      m,
      new RegExp(`^pull_secrets_last_success_timestamp_seconds\\{registry="${HOST.replace(/\./g, "\\.")}"\\} \\d`, "m"),
    );
    assert.match(m, /^pull_secrets_token_expiry_timestamp_seconds\{registry="[^"]+"\} \d/m);
    assert.match(m, /^pull_secrets_credential_errors_total\{registry="[^"]+"\} 0$/m);
    assert.equal(await (await fetch(`http://127.0.0.1:${r.port}/healthz`)).text(), "ok\n");
    await stop(r);
    assert.ok(!r.stderr().includes(PASSWORD), "no token in the logs (debug level)");
    assert.match(r.stderr(), /namespace watch ended/);
  });

  const patched = (ns: string, sa: string) =>
    JSON.stringify(
      (kube.get("serviceaccounts", ns, sa) as { imagePullSecrets?: unknown } | undefined)?.imagePullSecrets,
    ) === JSON.stringify([{ name: NAME }]);

  test("service accounts created after their namespace (the controller's default, a later one) get the entry within seconds", async () => {
    kube.addNamespace("sa-1");
    const r = await start("sa-watcher", "sa-*", `serviceAccounts: [default, "build*"]\n`);
    await waitFor(() => patched("sa-1", "default"), "the initial pass", 30_000);
    await waitFor(
      () => kube.requests.some((q) => q.path.startsWith("/api/v1/serviceaccounts?") && q.path.includes("watch=true")),
      "a cluster-wide service-account watch",
      10_000,
    );
    // The real API creates a new namespace's `default` asynchronously (service-account controller):
    // the namespace event finds no service account to patch.
    kube.defaultServiceAccountDelayMs = 3_000;
    try {
      kube.addNamespace("sa-2");
      await waitFor(() => !!kube.get("secrets", "sa-2", NAME), "the secret in sa-2 (namespace event)", 10_000);
      assert.equal(kube.get("serviceaccounts", "sa-2", "default"), undefined, "default did not exist yet");
      await waitFor(() => patched("sa-2", "default"), "default in sa-2 patched once it appeared", 15_000);
    } finally {
      kube.defaultServiceAccountDelayMs = 0;
    }
    // A selected service account created any time later; one not selected stays untouched.
    kube.put("serviceaccounts", { metadata: { name: "other", namespace: "sa-1" } });
    kube.put("serviceaccounts", { metadata: { name: "builder", namespace: "sa-1" } });
    await waitFor(() => patched("sa-1", "builder"), "a later builder patched", 10_000);
    assert.equal(kube.get("serviceaccounts", "sa-1", "other")?.imagePullSecrets, undefined);
    // Someone takes our entry out: it is put back.
    const b = kube.get("serviceaccounts", "sa-1", "builder");
    assert.ok(b);
    kube.put("serviceaccounts", { ...b, imagePullSecrets: [] });
    await waitFor(() => patched("sa-1", "builder"), "the entry restored", 10_000);
    await stop(r);
  });

  for (const goneAs of ["event", "status"] as const)
    test(`a watch that cannot resume (410 Gone ${goneAs === "event" ? "as an ERROR event, as the API server sends it" : "as the HTTP status"}): full re-list; a namespace created meanwhile is served, one deleted meanwhile gets nothing`, async () => {
      const p = `g${goneAs[0]}-`;
      kube.goneAs = goneAs;
      try {
        kube.addNamespace(`${p}1`);
        kube.addNamespace(`${p}old`);
        const r = await start(`gone-${goneAs}`, `${p}*`);
        await waitFor(
          () => !!kube.get("secrets", `${p}1`, NAME) && !!kube.get("secrets", `${p}old`, NAME),
          "the initial pass",
          30_000,
        );
        await waitFor(() => kube.openWatches() > 0, "a namespace watch", 10_000);
        const gone = kube.gone;
        const lists = listRequests();
        // While the watch is down: one namespace is created, one created and deleted, one served
        // namespace deleted, and the history compacted, so the resumed watch gets 410 Gone.
        let from = -1;
        kube.beforeNext(/^GET \/api\/v1\/namespaces\?.*watch=true/, () => {
          from = kube.requests.length - 1;
          kube.addNamespace(`${p}new`);
          kube.addNamespace(`${p}brief`);
          kube.remove("namespaces", undefined, `${p}brief`);
          kube.remove("namespaces", undefined, `${p}old`);
          kube.compact();
        });
        kube.dropWatches();
        await waitFor(
          () =>
            JSON.stringify(
              (kube.get("serviceaccounts", `${p}new`, "default") as { imagePullSecrets?: unknown } | undefined)
                ?.imagePullSecrets,
            ) === JSON.stringify([{ name: NAME }]),
          `${p}new served after the re-list`,
          20_000,
        );
        assert.ok(kube.get("secrets", `${p}new`, NAME));
        assert.equal(kube.gone, gone + 1, "the resumed watch was answered 410 Gone");
        const since = kube.requests.slice(from);
        assert.match(since[0]?.path ?? "", /watch=true/, "the hook ran on the resumed watch");
        assert.ok(listRequests() > lists, "re-listed after 410 Gone");
        const touched = since.filter(
          (q) => q.path.includes(`/namespaces/${p}brief`) || q.path.includes(`/namespaces/${p}old`),
        );
        assert.deepEqual(touched, [], "nothing written to (or read from) the namespaces deleted meanwhile");
        assert.equal(kube.get("secrets", `${p}old`, NAME), undefined);
        await waitFor(() => kube.openWatches() > 0, "watching again", 10_000);
        assert.match(await metrics(r), /^pull_secrets_watch_resyncs_total 1$/m);
        await stop(r);
        assert.match(r.stderr(), /is too old \(410 Gone\); re-listing every namespace/);
      } finally {
        kube.goneAs = "event";
      }
    });

  test("a watch ended by an ERROR 410 event mid-stream (history compacted under it): re-listed and served", async () => {
    kube.addNamespace("gm-1");
    const r = await start("gone-midstream", "gm-*");
    await waitFor(() => !!kube.get("secrets", "gm-1", NAME), "the initial pass", 30_000);
    await waitFor(() => kube.openWatches() > 0, "a namespace watch", 10_000);
    const lists = listRequests();
    kube.addNamespace("gm-2");
    kube.expireWatches();
    await waitFor(() => listRequests() > lists, "a re-list after the ERROR 410 event", 20_000);
    kube.addNamespace("gm-3");
    await waitFor(() => !!kube.get("secrets", "gm-2", NAME), "gm-2 served", 20_000);
    await waitFor(() => !!kube.get("secrets", "gm-3", NAME), "gm-3 served by the new watch", 20_000);
    await stop(r);
    assert.match(r.stderr(), /410 Gone\); re-listing/);
  });

  test("tokens are refreshed before they expire (half their life), and the secret follows", async () => {
    aws.tokenTtlSeconds = 30;
    try {
      kube.addNamespace("exp-1");
      const before = aws.calls.ecr ?? 0;
      const r = await start("refresher", "exp-*");
      await waitFor(() => !!kube.get("secrets", "exp-1", NAME), "the initial pass", 30_000);
      const first = kube.get("secrets", "exp-1", NAME)?.metadata.annotations?.["docker-credential-cloud.io/expires"];
      await waitFor(() => (aws.calls.ecr ?? 0) >= before + 2, "a second ECR call", 40_000);
      await waitFor(
        () =>
          kube.get("secrets", "exp-1", NAME)?.metadata.annotations?.["docker-credential-cloud.io/expires"] !== first,
        "the secret updated with the new expiry",
        10_000,
      );
      await stop(r);
      assert.ok(!r.stderr().includes(PASSWORD));
    } finally {
      aws.tokenTtlSeconds = 12 * 3600;
    }
  });

  test("two replicas: one leader serves; when it stops, the other takes over", async () => {
    kube.addNamespace("ha-1");
    const a = await start("replica-a", "ha-*");
    const b = await start("replica-b", "ha-*");
    await waitFor(() => !!kube.get("secrets", "ha-1", NAME), "the leader's pass", 30_000);
    let ma = "";
    let mb = "";
    await waitFor(
      () => {
        void metrics(a).then((m) => {
          ma = m;
        });
        void metrics(b).then((m) => {
          mb = m;
        });
        return /pull_secrets_leader/.test(ma) && /pull_secrets_leader/.test(mb);
      },
      "both metrics endpoints",
      20_000,
    );
    const leaders = [ma, mb].filter((m) => /^pull_secrets_leader 1$/m.test(m)).length;
    assert.equal(leaders, 1, `exactly one leader:\n${ma}\n${mb}`);
    const lease = kube.get("leases", "ops", "ha-lease");
    const holder = (lease?.spec as { holderIdentity?: string } | undefined)?.holderIdentity;
    assert.ok(holder === "replica-a" || holder === "replica-b");
    const [leader, standby] = holder === "replica-a" ? [a, b] : [b, a];
    await stop(leader);
    kube.addNamespace("ha-2");
    await waitFor(() => !!kube.get("secrets", "ha-2", NAME), "the standby took over", 20_000);
    assert.equal(
      (kube.get("leases", "ops", "ha-lease")?.spec as { holderIdentity?: string } | undefined)?.holderIdentity,
      standby === a ? "replica-a" : "replica-b",
    );
    await stop(standby);
  });
});
