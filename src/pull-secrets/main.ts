// `docker-credential-cloud pull-secrets --config FILE [--once] [--kubeconfig PATH] [--dry-run]`:
// keeps one kubernetes.io/dockerconfigjson secret per selected namespace filled with every
// configured registry's current short-lived credentials, and the selected service accounts
// pointing at it. Loaded lazily by src/cli.ts; @kubernetes/client-node is imported only here.
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { parseArgs } from "node:util";
import { oneLine } from "../errors.ts";
import type { Logger } from "../log.ts";
import { type PullSecretsConfig, parseConfig, type RegistryIdentity } from "./config.ts";
import type { Kube, Obj } from "./kube.ts";
import { LeaderElector } from "./leader.ts";
import { Metrics } from "./metrics.ts";
import { type Change, type Fresh, type ReconcileOptions, reconcileNamespace, releaseNamespace } from "./reconcile.ts";
import { namespaceSelector } from "./select.ts";

export { withIdentity } from "./identity.ts";

export interface PullSecretsContext {
  /** The core entry for `host`, as the registry's own identity when the config gives it one. */
  credentials(
    host: string,
    identity: RegistryIdentity | undefined,
  ): Promise<{ username: string; secret: string; expiresAt: number | undefined }>;
  log: Logger;
  now: () => number;
  /** Ends the long-running mode (SIGTERM). */
  signal?: AbortSignal;
  /**
   * Test seam: the cluster; by default @kubernetes/client-node from --kubeconfig, else as kubectl
   * finds it ($KUBECONFIG, a list of files; ~/.kube/config; in-cluster).
   */
  connect?: (kubeconfig: string | undefined, timeoutMs: number) => Kube | Promise<Kube>;
  /** Deadline of each Kubernetes API request (DOCKER_CREDENTIAL_CLOUD_TIMEOUT, as for the cloud calls). */
  requestTimeoutMs: number;
  /** Identity for the Lease holder (default: $POD_NAME or host name + pid, given by the CLI). */
  identity: string;
  env: NodeJS.ProcessEnv;
}

export interface VerbResult {
  stdout: string;
  stderr: string;
  code: number;
}

const USAGE = "usage: docker-credential-cloud pull-secrets --config FILE [--once] [--kubeconfig PATH] [--dry-run]";

export const fetchAll = async (cfg: PullSecretsConfig, ctx: PullSecretsContext, metrics?: Metrics): Promise<Fresh> => {
  const fresh: Fresh = new Map();
  await Promise.all(
    cfg.registries.map(async (host) => {
      try {
        const c = await ctx.credentials(host, cfg.identities.get(host));
        if (!c.secret) throw new Error("empty credential");
        fresh.set(host, c);
        metrics?.success(host, ctx.now(), c.expiresAt);
      } catch (e) {
        fresh.set(host, e instanceof Error ? e : new Error(String(e)));
        metrics?.failure(host);
        ctx.log.error(`credentials for ${host}: ${oneLine(e)}`);
      }
    }),
  );
  return fresh;
};

/** Half of the shortest remaining token life, ±10 % jitter, within [10 s, 1 h]. */
export const nextRefreshMs = (fresh: Fresh, now: number, random = Math.random): number => {
  let shortest = 3_600_000 * 2;
  for (const c of fresh.values())
    if (!(c instanceof Error) && c.expiresAt !== undefined) shortest = Math.min(shortest, c.expiresAt - now);
  const half = shortest / 2;
  return Math.round(Math.min(3_600_000, Math.max(10_000, half * (0.9 + 0.2 * random()))));
};

/** Exponential backoff with full jitter: 5 s, 10 s ... capped at 5 min. */
export const backoffMs = (attempt: number, random = Math.random): number =>
  Math.round(Math.min(300_000, 5_000 * 2 ** Math.max(0, attempt - 1)) * (0.5 + 0.5 * random()));

const labelsOf = (o: Obj) => o.metadata.labels ?? {};
/** The API server refuses new objects in a namespace being deleted; it is not ours to serve any more. */
const isTerminating = (ns: Obj) => (ns.status as { phase?: string } | undefined)?.phase === "Terminating";

/** One full pass over every namespace. */
export const reconcileAll = async (
  kube: Kube,
  fresh: Fresh,
  o: ReconcileOptions,
): Promise<{ changes: Change[]; errors: string[]; resourceVersion: string }> => {
  const selected = namespaceSelector(o.cfg);
  const { items, resourceVersion } = await kube.listNamespaces();
  const changes: Change[] = [];
  const errors: string[] = [];
  for (const ns of items) {
    const name = ns.metadata.name;
    if (isTerminating(ns)) continue;
    try {
      if (selected(name, labelsOf(ns))) changes.push(...(await reconcileNamespace(name, fresh, o)));
      else changes.push(...(await releaseNamespace(name, o)));
    } catch (e) {
      errors.push(`namespace ${name}: ${oneLine(e)}`);
      o.log.warn(`namespace ${name}: ${oneLine(e)}`);
    }
  }
  return { changes, errors, resourceVersion };
};

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    });
  });

export const runPullSecrets = async (args: string[], ctx: PullSecretsContext): Promise<VerbResult> => {
  let values: { config?: string; once?: boolean; kubeconfig?: string; "dry-run"?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        config: { type: "string" },
        once: { type: "boolean" },
        kubeconfig: { type: "string" },
        "dry-run": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: false,
    }));
  } catch (e) {
    return { stdout: "", stderr: `docker-credential-cloud: pull-secrets: ${oneLine(e)}\n${USAGE}\n`, code: 2 };
  }
  if (values.help) return { stdout: `${USAGE}\n`, stderr: "", code: 0 };
  if (!values.config)
    return { stdout: "", stderr: `docker-credential-cloud: pull-secrets: --config is required\n${USAGE}\n`, code: 2 };
  let cfg: PullSecretsConfig;
  try {
    cfg = parseConfig(readFileSync(values.config, "utf8"), values.config);
  } catch (e) {
    return { stdout: "", stderr: `docker-credential-cloud: pull-secrets: ${oneLine(e)}\n`, code: 2 };
  }
  const dryRun = values["dry-run"] === true;
  let kube: Kube;
  try {
    kube = await (ctx.connect ?? (await import("./kube.ts")).connect)(values.kubeconfig, ctx.requestTimeoutMs);
  } catch (e) {
    return {
      stdout: "",
      stderr: `docker-credential-cloud: pull-secrets: cannot load the cluster configuration: ${oneLine(e)}\n`,
      code: 2,
    };
  }
  const o: ReconcileOptions = { kube, cfg, dryRun, log: ctx.log };
  const report = (changes: Change[]) =>
    changes.map((c) => `${dryRun ? "would " : ""}${c.action} in namespace ${c.namespace}\n`).join("");
  if (values.once || dryRun) {
    const fresh = await fetchAll(cfg, ctx);
    try {
      const r = await reconcileAll(kube, fresh, o);
      const failed = [...fresh.values()].some((c) => c instanceof Error) || r.errors.length > 0;
      return { stdout: report(r.changes) || (dryRun ? "no changes\n" : ""), stderr: "", code: failed ? 1 : 0 };
    } catch (e) {
      return { stdout: "", stderr: `docker-credential-cloud: pull-secrets: ${oneLine(e)}\n`, code: 1 };
    }
  }
  return runForever(kube, cfg, o, ctx);
};

/** A watch that ended because its resourceVersion is too old: 410 Gone as an ERROR event or as the HTTP status. */
export const isGone = (e: unknown): boolean => {
  const x = e as { statusCode?: number; code?: number } | null | undefined;
  return x?.statusCode === 410 || x?.code === 410;
};

const runForever = async (
  kube: Kube,
  cfg: PullSecretsConfig,
  o: ReconcileOptions,
  ctx: PullSecretsContext,
): Promise<VerbResult> => {
  const metrics = new Metrics();
  const stop = ctx.signal;
  let server: Server | undefined;
  if (cfg.metricsPort) {
    server = createServer((req, res) => {
      if (req.url === "/healthz") {
        res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      } else if (req.url === "/metrics") {
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(metrics.render(ctx.now()));
      } else res.writeHead(404).end();
    });
    await new Promise<void>((resolve, reject) => {
      server?.once("error", reject);
      server?.listen(cfg.metricsPort, ctx.env.PULL_SECRETS_LISTEN_ADDRESS ?? "0.0.0.0", resolve);
    });
    ctx.log.info(`serving /healthz and /metrics on port ${(server.address() as { port: number }).port}`);
  }
  const elector = new LeaderElector(
    kube,
    cfg.lease,
    ctx.identity,
    ctx.now,
    ctx.log,
    Number(ctx.env.PULL_SECRETS_LEASE_SECONDS ?? 15),
  );
  const selected = namespaceSelector(cfg);
  let fresh: Fresh = new Map();

  // The namespace watch, informer-style (client-go's reflector, @kubernetes/client-node's
  // ListWatch): a full pass lists and watches from the list's resourceVersion; a watch that ends
  // (server timeout, dropped connection) is resumed from the last resourceVersion seen, so events
  // in between are replayed; a watch answered 410 Gone (that resourceVersion is compacted away)
  // cannot be resumed: the next full pass re-lists and resyncs every namespace.
  let watch: { abort(): void } | undefined;
  let lastRv = "";
  let resync = true;
  let shortWatches = 0;
  let wake: (() => void) | undefined;
  const startWatch = async (from: string) => {
    const token = { abort: () => {} };
    watch = token;
    lastRv = from;
    const started = ctx.now();
    let gone = false;
    const handle = await kube.watchNamespaces(
      from,
      (type, obj) => {
        if (type === "ERROR") {
          if (isGone(obj)) gone = true;
          else ctx.log.warn(`namespace watch: error event ${oneLine((obj as { message?: unknown })?.message)}`);
          return;
        }
        if (obj?.metadata?.resourceVersion) lastRv = obj.metadata.resourceVersion;
        if (type === "ADDED" || type === "MODIFIED") enqueue(obj.metadata.name, obj);
        else if (type === "DELETED") enqueue(obj.metadata.name, null);
      },
      (err) => {
        if (watch !== token) return;
        watch = undefined;
        if (gone || isGone(err)) {
          metrics.watchResyncs += 1;
          ctx.log.warn(`namespace watch: resourceVersion ${from} is too old (410 Gone); re-listing every namespace`);
          resync = true;
          shortWatches = 0;
        } else {
          if (err)
            ctx.log.warn(`namespace watch ended: ${oneLine(err)}; watching again from resourceVersion ${lastRv}`);
          else ctx.log.debug(`namespace watch ended; watching again from resourceVersion ${lastRv}`);
          // A watch that keeps ending at once (API errors) must not turn into a hot loop.
          shortWatches = ctx.now() - started < 5_000 ? shortWatches + 1 : 0;
        }
        wake?.();
      },
    );
    if (watch === token) token.abort = () => handle.abort();
    else handle.abort();
  };

  // Namespace events go through a queue keyed by name, handled one at a time with the latest state
  // seen: a burst (a resumed watch replaying history) collapses, and a namespace created and then
  // deleted before its turn gets nothing written.
  const queue = new Map<string, Obj | null>();
  let draining = false;
  const enqueue = (name: string, obj: Obj | null) => {
    queue.set(name, obj);
    if (!draining) {
      draining = true;
      setImmediate(() => void drain());
    }
  };
  const drain = async () => {
    for (const [name, obj] of queue) {
      queue.delete(name);
      if (!obj || isTerminating(obj) || !metrics.leader) continue;
      try {
        const cs = selected(name, labelsOf(obj))
          ? await reconcileNamespace(name, fresh, o)
          : await releaseNamespace(name, o);
        for (const c of cs) ctx.log.info(`${c.action} in namespace ${c.namespace}`);
      } catch (e) {
        ctx.log.warn(`namespace ${name}: ${oneLine(e)}`);
      }
    }
    draining = false;
  };

  let failures = 0;
  try {
    while (!stop?.aborted) {
      if (!(await elector.tryAcquire())) {
        metrics.leader = false;
        watch?.abort();
        watch = undefined;
        resync = true;
        await sleep(elector.retryMs(), stop);
        continue;
      }
      metrics.leader = true;
      fresh = await fetchAll(cfg, ctx, metrics);
      const anyFailed = [...fresh.values()].some((c) => c instanceof Error);
      let wait: number;
      try {
        const r = await reconcileAll(kube, fresh, o);
        for (const c of r.changes) ctx.log.info(`${c.action} in namespace ${c.namespace}`);
        metrics.passes += 1;
        if (resync || !watch) {
          watch?.abort();
          watch = undefined;
          resync = false;
          await startWatch(r.resourceVersion);
        }
        failures = anyFailed || r.errors.length ? failures + 1 : 0;
        wait = failures
          ? Math.min(backoffMs(failures), nextRefreshMs(fresh, ctx.now()))
          : nextRefreshMs(fresh, ctx.now());
      } catch (e) {
        failures += 1;
        metrics.apiErrors += 1;
        ctx.log.warn(`reconcile failed: ${oneLine(e)}`);
        wait = backoffMs(failures);
      }
      // Until the refresh is due or a resync is needed: resume an ended watch, renew the lease.
      const until = ctx.now() + wait;
      while (!stop?.aborted && ctx.now() < until && !resync) {
        if (!watch) {
          if (shortWatches > 0) await sleep(Math.min(backoffMs(shortWatches), until - ctx.now()), stop);
          if (stop?.aborted || resync || ctx.now() >= until) break;
          try {
            await startWatch(lastRv);
          } catch (e) {
            ctx.log.warn(`namespace watch: ${oneLine(e)}`);
            shortWatches += 1;
          }
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          sleep(Math.min(until - ctx.now(), elector.renewMs()), stop).then(resolve);
        });
        wake = undefined;
        if (!(await elector.tryAcquire())) break;
      }
    }
  } finally {
    watch?.abort();
    await elector.release();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
  return { stdout: "", stderr: "", code: 0 };
};
