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
import { LeaderElector, LostLeadership } from "./leader.ts";
import { Metrics } from "./metrics.ts";
import { type Change, type Fresh, type ReconcileOptions, reconcileNamespace, releaseNamespace } from "./reconcile.ts";
import { namespaceSelector, serviceAccountSelected } from "./select.ts";

export { withIdentity } from "./identity.ts";

export interface PullSecretsContext {
  /** The core entry for `host`, as the registry's own identity when the config gives it one. */
  credentials(
    host: string,
    identity: RegistryIdentity | undefined,
  ): Promise<{ username: string; secret: string; expiresAt: number | undefined }>;
  log: Logger;
  now: () => number;
  /**
   * SIGTERM/SIGINT (its reason: the signal's name): a pass stops between namespaces, the long-running
   * mode gives up the lease and returns 0, an interrupted `--once` returns 128 + the signal number.
   */
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

const signalName = (s: AbortSignal | undefined): string => (typeof s?.reason === "string" ? s.reason : "SIGTERM");
/** The shell's convention for a run ended by a signal: 128 + its number. */
const signalCode = (s: AbortSignal | undefined): number => (signalName(s) === "SIGINT" ? 130 : 143);

/** `p`, or undefined as soon as `signal` fires (what `p` was doing writes nothing, so it may be left). */
const untilStopped = <T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T | undefined> =>
  signal
    ? Promise.race([
        p,
        new Promise<undefined>((resolve) => {
          if (signal.aborted) resolve(undefined);
          signal.addEventListener("abort", () => resolve(undefined), { once: true });
        }),
      ])
    : p;

export interface PassResult {
  changes: Change[];
  errors: string[];
  resourceVersion: string;
  namespaces: Obj[];
  /** Set when `o.signal` fired: the pass stopped between namespaces after `done` of `total`. */
  interrupted?: { done: number; total: number };
}

/**
 * One full pass over every namespace. Stops between namespaces when `signal` fires (the namespace
 * in hand is finished); LostLeadership from a write ends the pass at once.
 */
export const reconcileAll = async (
  kube: Kube,
  fresh: Fresh,
  o: ReconcileOptions,
  signal?: AbortSignal,
): Promise<PassResult> => {
  const selected = namespaceSelector(o.cfg);
  const { items, resourceVersion } = await kube.listNamespaces();
  const changes: Change[] = [];
  const errors: string[] = [];
  let done = 0;
  for (const ns of items) {
    if (signal?.aborted)
      return { changes, errors, resourceVersion, namespaces: items, interrupted: { done, total: items.length } };
    const name = ns.metadata.name;
    try {
      if (isTerminating(ns)) continue;
      o.guard?.();
      if (selected(name, labelsOf(ns))) changes.push(...(await reconcileNamespace(name, fresh, o)));
      else changes.push(...(await releaseNamespace(name, o)));
    } catch (e) {
      if (e instanceof LostLeadership) throw e;
      errors.push(`namespace ${name}: ${oneLine(e)}`);
      o.log.warn(`namespace ${name}: ${oneLine(e)}`);
    } finally {
      done += 1;
    }
  }
  return { changes, errors, resourceVersion, namespaces: items };
};

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener("abort", done, { once: true });
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
    const stopped = (done: number, total: number | undefined, changes: Change[]) => ({
      stdout: report(changes),
      stderr: `docker-credential-cloud: pull-secrets: stopped by ${signalName(ctx.signal)} ${
        total === undefined ? "before the first namespace" : `after ${done} of ${total} namespaces`
      }; the next run serves the rest\n`,
      code: signalCode(ctx.signal),
    });
    const fresh = await untilStopped(fetchAll(cfg, ctx), ctx.signal);
    if (!fresh || ctx.signal?.aborted) return stopped(0, undefined, []);
    try {
      const r = await reconcileAll(kube, fresh, o, ctx.signal);
      if (r.interrupted) return stopped(r.interrupted.done, r.interrupted.total, r.changes);
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

type OpenWatch = Kube["watchNamespaces"];

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
  // Every write asks first: a leader that could not renew in time (or saw another holder) stops.
  const ro: ReconcileOptions = { ...o, guard: () => elector.check() };
  const selected = namespaceSelector(cfg);
  let fresh: Fresh = new Map();
  /** The namespaces as last listed or watched: what a service-account event is judged by. */
  const namespaces = new Map<string, Obj>();
  let resync = true;
  let wake: (() => void) | undefined;
  const poke = () => wake?.();
  elector.whenLost(() => {
    metrics.leader = false;
    poke();
  });

  // The watches, informer-style (client-go's reflector, @kubernetes/client-node's ListWatch): a
  // full pass lists the namespaces and watches namespaces and service accounts from the list's
  // resourceVersion (one counter for the whole cluster); a watch that ends (server timeout, dropped
  // connection) is resumed from the last resourceVersion it saw, so events in between are replayed;
  // a watch answered 410 Gone (that resourceVersion is compacted away) cannot be resumed: the next
  // full pass re-lists and resyncs every namespace.
  type Watch = {
    what: string;
    open: OpenWatch;
    onEvent: (type: string, obj: Obj) => void;
    handle: { abort(): void } | undefined;
    lastRv: string;
    /** Watches in a row that ended within 5 s (API errors): backed off, never a hot loop. */
    short: number;
    retryAt: number;
  };
  const startWatch = async (w: Watch, from: string) => {
    const token = { abort: () => {} };
    w.handle = token;
    w.lastRv = from;
    const started = ctx.now();
    let gone = false;
    const ended = (err: unknown) => {
      if (w.handle !== token) return;
      w.handle = undefined;
      if (gone || isGone(err)) {
        ctx.log.warn(`${w.what} watch: resourceVersion ${from} is too old (410 Gone); re-listing every namespace`);
        if (!resync) metrics.watchResyncs += 1; // both watches answered 410: one re-list
        resync = true;
        w.short = 0;
      } else {
        if (err)
          ctx.log.warn(`${w.what} watch ended: ${oneLine(err)}; watching again from resourceVersion ${w.lastRv}`);
        else ctx.log.debug(`${w.what} watch ended; watching again from resourceVersion ${w.lastRv}`);
        w.short = ctx.now() - started < 5_000 ? w.short + 1 : 0;
      }
      w.retryAt = ctx.now() + (w.short ? backoffMs(w.short) : 0);
      poke();
    };
    try {
      const h = await w.open(
        from,
        (type, obj) => {
          if (type === "ERROR") {
            if (isGone(obj)) gone = true;
            else ctx.log.warn(`${w.what} watch: error event ${oneLine((obj as { message?: unknown })?.message)}`);
            return;
          }
          if (obj?.metadata?.resourceVersion) w.lastRv = obj.metadata.resourceVersion;
          if (type !== "BOOKMARK") w.onEvent(type, obj);
        },
        ended,
      );
      if (w.handle === token) token.abort = () => h.abort();
      else h.abort();
    } catch (e) {
      // Refused outright (a 403 from RBAC without `watch`, the API down): retried with backoff.
      ctx.log.warn(`${w.what} watch: ${oneLine(e)}`);
      if (w.handle === token) w.handle = undefined;
      w.short += 1;
      w.retryAt = ctx.now() + backoffMs(w.short);
    }
  };
  const newWatch = (what: string, open: OpenWatch, onEvent: Watch["onEvent"]): Watch => ({
    what,
    open,
    onEvent,
    handle: undefined,
    lastRv: "",
    short: 0,
    retryAt: 0,
  });
  const nsWatch = newWatch("namespace", kube.watchNamespaces, (type, obj) => {
    const name = obj.metadata.name;
    if (type === "ADDED" || type === "MODIFIED") namespaces.set(name, obj);
    else if (type === "DELETED") namespaces.delete(name);
    else return;
    enqueue(name);
  });
  // A namespace's `default` service account is created after the namespace (by the API's
  // service-account controller), other selected ones whenever someone creates them: a selected
  // service account in a selected namespace that lacks our entry has its namespace reconciled.
  const saWatch = newWatch("service account", kube.watchServiceAccounts, (type, sa) => {
    const ns = sa.metadata.namespace;
    if ((type !== "ADDED" && type !== "MODIFIED") || !ns) return;
    if (!serviceAccountSelected(cfg, sa.metadata.name)) return;
    if ((sa.imagePullSecrets ?? []).some((r) => r.name === cfg.secretName)) return;
    const nsObj = namespaces.get(ns);
    // Not seen yet: its namespace's own event comes and lists this service account then.
    if (nsObj && selected(ns, labelsOf(nsObj))) enqueue(ns);
  });
  const watches = [nsWatch, saWatch];
  const stopWatches = () => {
    for (const w of watches) {
      w.handle?.abort();
      w.handle = undefined;
    }
  };

  // Watch events go through a queue of namespace names, handled one at a time with the latest
  // state seen: a burst (a resumed watch replaying history) collapses, and a namespace created
  // and then deleted before its turn gets nothing written.
  const queue = new Set<string>();
  let draining: Promise<void> | undefined;
  const enqueue = (name: string) => {
    queue.add(name);
    draining ??= new Promise<void>((resolve) => setImmediate(resolve)).then(drain);
  };
  const drain = async () => {
    for (const name of queue) {
      queue.delete(name);
      const obj = namespaces.get(name);
      if (!obj || isTerminating(obj) || stop?.aborted || !elector.isLeader()) continue;
      try {
        const cs = selected(name, labelsOf(obj))
          ? await reconcileNamespace(name, fresh, ro)
          : await releaseNamespace(name, ro);
        for (const c of cs) ctx.log.info(`${c.action} in namespace ${c.namespace}`);
      } catch (e) {
        if (e instanceof LostLeadership) {
          queue.clear();
          break;
        }
        ctx.log.warn(`namespace ${name}: ${oneLine(e)}`);
      }
    }
    draining = undefined;
  };
  const standBy = () => {
    metrics.leader = false;
    stopWatches();
    queue.clear();
    resync = true;
  };

  let failures = 0;
  try {
    while (!stop?.aborted) {
      if (!elector.isLeader() && !(await elector.tryAcquire())) {
        standBy();
        await sleep(elector.retryMs(), stop);
        continue;
      }
      metrics.leader = true;
      const f = await untilStopped(fetchAll(cfg, ctx, metrics), stop);
      if (!f || stop?.aborted) break;
      fresh = f;
      const anyFailed = [...fresh.values()].some((c) => c instanceof Error);
      let wait: number;
      try {
        const r = await reconcileAll(kube, fresh, ro, stop);
        for (const c of r.changes) ctx.log.info(`${c.action} in namespace ${c.namespace}`);
        if (r.interrupted) {
          ctx.log.info(
            `stopping on ${signalName(stop)}: pass interrupted after ${r.interrupted.done} of ${r.interrupted.total} namespaces`,
          );
          break;
        }
        metrics.passes += 1;
        namespaces.clear();
        for (const ns of r.namespaces) namespaces.set(ns.metadata.name, ns);
        if (resync || watches.some((w) => !w.handle)) {
          stopWatches();
          resync = false;
          for (const w of watches) {
            w.short = 0;
            await startWatch(w, r.resourceVersion);
          }
        }
        failures = anyFailed || r.errors.length ? failures + 1 : 0;
        wait = failures
          ? Math.min(backoffMs(failures), nextRefreshMs(fresh, ctx.now()))
          : nextRefreshMs(fresh, ctx.now());
      } catch (e) {
        if (e instanceof LostLeadership) {
          standBy();
          continue;
        }
        failures += 1;
        metrics.apiErrors += 1;
        ctx.log.warn(`reconcile failed: ${oneLine(e)}`);
        wait = backoffMs(failures);
      }
      // Until the refresh is due, a resync is needed or the lease is lost: resume ended watches.
      // The lease is renewed in the background (LeaderElector), during the passes too.
      const until = ctx.now() + wait;
      while (!stop?.aborted && ctx.now() < until && !resync && elector.isLeader()) {
        for (const w of watches) if (!w.handle && ctx.now() >= w.retryAt && !resync) await startWatch(w, w.lastRv);
        if (stop?.aborted || resync || !elector.isLeader()) break;
        const retry = Math.min(...watches.filter((w) => !w.handle).map((w) => w.retryAt), until);
        await new Promise<void>((resolve) => {
          wake = resolve;
          sleep(Math.min(until, retry, ctx.now() + elector.renewMs()) - ctx.now(), stop).then(resolve);
        });
        wake = undefined;
      }
      if (!elector.isLeader()) standBy();
    }
  } finally {
    stopWatches();
    queue.clear();
    await draining; // the namespace in hand is finished before the lease is given up
    const held = elector.isLeader();
    await elector.release();
    if (stop?.aborted)
      ctx.log.info(`stopped by ${signalName(stop)}${held ? "; lease released for a standby to take over" : ""}`);
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
  return { stdout: "", stderr: "", code: 0 };
};
