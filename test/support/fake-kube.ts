// A fake Kubernetes API server for the endpoints `pull-secrets` and `kubectl get` use, on 127.0.0.1
// (HTTP, or HTTPS with a test CA leaf). It behaves like the real one where it matters:
// - one cluster-wide resourceVersion counter; every write bumps it; PUT with a stale
//   metadata.resourceVersion gets 409 Conflict (a Status object), POST of an existing name 409
//   AlreadyExists, GET of a missing object 404 NotFound;
// - namespaces list + watch (?watch=true&resourceVersion=N): events after N from a bounded history,
//   410 Gone when N is older than the history, BOOKMARK events when asked. Like the API server's
//   watch cache (and its etcd path), a too-old resourceVersion is answered 200 with one ERROR event
//   holding a 410 "Expired" Status, then the stream ends; `goneAs = "status"` answers HTTP 410 with
//   the Status instead (what a client also meets, e.g. behind aggregated servers), so both paths
//   of a client's handling are exercised; `expireWatches()` ends open watches with that ERROR event
//   (etcd compacted under a running watch);
// - a namespace being deleted (`terminate`) refuses new objects with 403 Forbidden;
// - PATCH with application/merge-patch+json, application/strategic-merge-patch+json (merge
//   semantics, with imagePullSecrets merged by name) and application/json-patch+json;
// - discovery documents (/api, /apis, /api/v1, /version) so that kubectl can talk to it;
// - service accounts watched the same way, cluster-wide (/api/v1/serviceaccounts) or in one namespace;
// - bearer-token authentication, with a token per client when asked (`tokenFor`: each request is
//   recorded with its user, so a test can tell two replicas' writes apart); injected 500s (for one
//   user too); dropped watches; a latency on every request (`latencyMs`);
// - optionally, a new namespace's `default` service account created a while after the namespace
//   (`defaultServiceAccountDelayMs`), as the real service-account controller does asynchronously.
import { randomUUID } from "node:crypto";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";

export type KubeObject = {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp?: string;
    [k: string]: unknown;
  };
  [k: string]: unknown;
};

type Kind = { resource: string; kind: string; apiVersion: string; namespaced: boolean; prefix: string };
const KINDS: Kind[] = [
  { resource: "namespaces", kind: "Namespace", apiVersion: "v1", namespaced: false, prefix: "/api/v1" },
  { resource: "secrets", kind: "Secret", apiVersion: "v1", namespaced: true, prefix: "/api/v1" },
  { resource: "serviceaccounts", kind: "ServiceAccount", apiVersion: "v1", namespaced: true, prefix: "/api/v1" },
  {
    resource: "leases",
    kind: "Lease",
    apiVersion: "coordination.k8s.io/v1",
    namespaced: true,
    prefix: "/apis/coordination.k8s.io/v1",
  },
];

/** Kinds only discovered (so that kubectl --dry-run=client can map the packaging manifests), not served. */
const DISCOVERY_ONLY: Record<string, (readonly [string, string, boolean])[]> = {
  "apps/v1": [["deployments", "Deployment", true]],
  "batch/v1": [["cronjobs", "CronJob", true]],
  "rbac.authorization.k8s.io/v1": [
    ["clusterroles", "ClusterRole", false],
    ["clusterrolebindings", "ClusterRoleBinding", false],
    ["roles", "Role", true],
    ["rolebindings", "RoleBinding", true],
  ],
};

export type Request = {
  method: string;
  path: string;
  contentType: string | undefined;
  auth: string | undefined;
  /** Whose token: "admin" for `token`, else the name given to `tokenFor`. */
  user?: string;
};

export interface FakeKube {
  url: string;
  token: string;
  /** Every request, in order. */
  requests: Request[];
  /** A further bearer token, for `user` (e.g. one per replica); requests carry `user`. */
  tokenFor(user: string): string;
  /** Delay before each request is handled (0: none). */
  latencyMs: number;
  /** Called for each authenticated request just before it takes effect (after `latencyMs`). */
  onRequest: ((r: Request) => void) | undefined;
  /** When set, a new namespace's "default" service account is created this long after it (not at once). */
  defaultServiceAccountDelayMs: number;
  /** Direct access (no HTTP) for arranging and checking state. */
  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined;
  put(resource: string, obj: KubeObject): KubeObject;
  remove(resource: string, namespace: string | undefined, name: string): void;
  list(resource: string, namespace?: string): KubeObject[];
  /** Creates a namespace (with its "default" service account, as the real controller does). */
  addNamespace(name: string, labels?: Record<string, string>): void;
  /** The next `count` requests whose "METHOD path" matches (from `user` only, when given) get 500. */
  failNext(pattern: RegExp, count: number, user?: string): void;
  /** Runs `fn` (another writer, say) just before the next request whose "METHOD path?query" matches. */
  beforeNext(pattern: RegExp, fn: () => void): void;
  /** Ends every open watch. */
  dropWatches(): void;
  /** Forgets the watch history: a watch from an older resourceVersion gets 410 Gone. */
  compact(): void;
  /** Compacts and ends every open watch with an ERROR event holding a 410 Expired Status. */
  expireWatches(): void;
  /** How a watch from a compacted resourceVersion is answered (default "event", as the API server does). */
  goneAs: "event" | "status";
  /** Marks a namespace Terminating (a MODIFIED event), as `kubectl delete ns` does before it is gone. */
  terminate(name: string): void;
  openWatches(): number;
  /** How many namespace watches were answered with 410 Gone. */
  gone: number;
  /** How many service-account watches were answered with 410 Gone. */
  goneServiceAccounts: number;
  close(): Promise<void>;
}

const status = (code: number, reason: string, message: string) => ({
  kind: "Status",
  apiVersion: "v1",
  metadata: {},
  status: "Failure",
  message,
  reason,
  code,
});

const clone = <T>(x: T): T => structuredClone(x);

const mergePatch = (target: unknown, patch: unknown, strategic: boolean, key = ""): unknown => {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) {
    if (strategic && key === "imagePullSecrets" && Array.isArray(patch) && Array.isArray(target)) {
      const out = [...(target as { name: string }[])];
      for (const p of patch as { name: string }[]) if (!out.some((o) => o.name === p.name)) out.push(p);
      return out;
    }
    return patch;
  }
  const base: Record<string, unknown> =
    target && typeof target === "object" && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete base[k];
    else base[k] = mergePatch(base[k], v, strategic, k);
  }
  return base;
};

const pointer = (p: string): string[] =>
  p
    .split("/")
    .slice(1)
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));

const jsonPatch = (doc: unknown, ops: { op: string; path: string; value?: unknown; from?: string }[]): unknown => {
  const root = { v: clone(doc) } as Record<string, unknown>;
  const walk = (parts: string[]): [Record<string, unknown> | unknown[], string] => {
    let cur: unknown = root.v;
    for (const part of parts.slice(0, -1)) {
      if (cur === null || typeof cur !== "object") throw new Error("path not found");
      cur = (cur as Record<string, unknown>)[part];
    }
    if (cur === null || typeof cur !== "object") throw new Error("path not found");
    return [cur as Record<string, unknown>, parts[parts.length - 1] ?? ""];
  };
  for (const op of ops) {
    const [parent, last] = walk(pointer(op.path));
    if (op.op === "add" || op.op === "replace") {
      if (Array.isArray(parent)) {
        if (last === "-") parent.push(op.value);
        else if (op.op === "add") parent.splice(Number(last), 0, op.value);
        else parent[Number(last)] = op.value;
      } else parent[last] = op.value;
    } else if (op.op === "remove") {
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else if (last in parent) delete parent[last];
      else throw new Error("path not found");
    } else if (op.op === "test") {
      const cur = Array.isArray(parent) ? parent[Number(last)] : parent[last];
      if (JSON.stringify(cur) !== JSON.stringify(op.value)) throw new Error("test failed");
    } else throw new Error(`unsupported op ${op.op}`);
  }
  return root.v;
};

export async function startFakeKube(opts: { tls?: { key: string; cert: string }; history?: number } = {}) {
  const token = `kube-${randomUUID()}`;
  const store = new Map<string, KubeObject>();
  let rv = 100;
  type Event = { rv: number; type: string; object: KubeObject };
  /** Watch history per watched resource (namespaces, serviceaccounts). */
  const histories = new Map<string, { events: Event[]; oldest: number }>();
  const history = (resource: string) => {
    const h = histories.get(resource) ?? { events: [], oldest: rv };
    histories.set(resource, h);
    return h;
  };
  history("namespaces");
  history("serviceaccounts");
  const watchers = new Set<{
    res: ServerResponse;
    since: number;
    resource: string;
    send: (e: Event) => void;
    end: () => void;
  }>();
  const failures: { pattern: RegExp; count: number; user?: string }[] = [];
  const tokens = new Map<string, string>([[token, "admin"]]);
  const hooks: { pattern: RegExp; fn: (() => void) | undefined }[] = [];
  const requests: Request[] = [];

  const k = (resource: string, ns: string | undefined, name: string) => `${resource}/${ns ?? ""}/${name}`;
  const kindOf = (resource: string) => KINDS.find((x) => x.resource === resource);

  const record = (type: string, obj: KubeObject) => {
    const resource = obj.kind === "Namespace" ? "namespaces" : obj.kind === "ServiceAccount" ? "serviceaccounts" : "";
    const h = histories.get(resource);
    if (!h) return;
    const e = { rv: Number(obj.metadata.resourceVersion), type, object: clone(obj) };
    h.events.push(e);
    if (h.events.length > (opts.history ?? 1000)) {
      h.events.shift();
      h.oldest = h.events[0]?.rv ?? rv;
    }
    for (const w of watchers) if (w.resource === resource) w.send(e);
  };
  /** The service-account controller: "default" in a new namespace, at once or after the delay. */
  const defaultServiceAccount = (ns: string) => {
    const create = () => {
      if (store.has(k("namespaces", undefined, ns)) && !store.has(k("serviceaccounts", ns, "default")))
        write("serviceaccounts", { metadata: { name: "default", namespace: ns } }, "ADDED");
    };
    if (fake.defaultServiceAccountDelayMs > 0) setTimeout(create, fake.defaultServiceAccountDelayMs);
    else create();
  };

  const write = (resource: string, obj: KubeObject, type: "ADDED" | "MODIFIED"): KubeObject => {
    const kind = kindOf(resource);
    if (!kind) throw new Error(`unknown resource ${resource}`);
    const o = clone(obj);
    rv += 1;
    o.apiVersion = kind.apiVersion;
    o.kind = kind.kind;
    o.metadata.resourceVersion = String(rv);
    o.metadata.uid ??= randomUUID();
    o.metadata.creationTimestamp ??= new Date().toISOString().replace(/\.\d+Z$/, "Z");
    if (!kind.namespaced) delete o.metadata.namespace;
    store.set(k(resource, o.metadata.namespace, o.metadata.name), o);
    record(type, o);
    return clone(o);
  };
  const remove = (resource: string, ns: string | undefined, name: string) => {
    const key = k(resource, ns, name);
    const o = store.get(key);
    if (!o) return;
    store.delete(key);
    rv += 1;
    record("DELETED", { ...o, metadata: { ...o.metadata, resourceVersion: String(rv) } });
    if (resource === "namespaces") {
      for (const key2 of [...store.keys()]) if (key2.split("/")[1] === name) store.delete(key2);
    }
  };
  const list = (resource: string, ns?: string) =>
    [...store.entries()]
      .filter(([key]) => {
        const [r, n] = key.split("/");
        return r === resource && (ns === undefined || n === ns);
      })
      .map(([, o]) => clone(o))
      .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));

  const addNamespace = (name: string, labels: Record<string, string> = {}) => {
    write(
      "namespaces",
      { metadata: { name, labels: { "kubernetes.io/metadata.name": name, ...labels } }, status: { phase: "Active" } },
      "ADDED",
    );
    defaultServiceAccount(name);
  };

  const readBody = async (req: IncomingMessage): Promise<string> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  };

  const send = (res: ServerResponse, code: number, body: unknown) => {
    res.writeHead(code, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };

  const discovery = (path: string): unknown => {
    if (path === "/version")
      return { major: "1", minor: "30", gitVersion: "v1.30.0-fake", platform: "linux/amd64", goVersion: "go1.22" };
    if (path === "/api")
      return {
        kind: "APIVersions",
        versions: ["v1"],
        serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "127.0.0.1" }],
      };
    if (path === "/apis")
      return {
        kind: "APIGroupList",
        apiVersion: "v1",
        groups: ["coordination.k8s.io", ...Object.keys(DISCOVERY_ONLY).map((gv) => gv.split("/")[0])].map((name) => ({
          name,
          versions: [{ groupVersion: `${name}/v1`, version: "v1" }],
          preferredVersion: { groupVersion: `${name}/v1`, version: "v1" },
        })),
      };
    const gv = path === "/api/v1" ? "v1" : path.startsWith("/apis/") ? path.slice(6) : null;
    if (!gv) return undefined;
    const extra = (gv === "v1" ? [["configmaps", "ConfigMap", true] as const] : (DISCOVERY_ONLY[gv] ?? [])).map(
      ([name, kind, namespaced]) => ({
        name,
        singularName: kind.toLowerCase(),
        namespaced,
        kind,
        verbs: ["create", "get", "list"],
      }),
    );
    if (!extra.length && gv !== "coordination.k8s.io/v1") return undefined;
    return {
      kind: "APIResourceList",
      apiVersion: "v1",
      groupVersion: gv,
      resources: [
        ...extra,
        ...KINDS.filter((x) => x.apiVersion === gv).map((x) => ({
          name: x.resource,
          singularName: x.kind.toLowerCase(),
          namespaced: x.namespaced,
          kind: x.kind,
          verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
          shortNames: x.resource === "serviceaccounts" ? ["sa"] : x.resource === "namespaces" ? ["ns"] : undefined,
        })),
      ],
    };
  };

  const handleWatch = (
    req: IncomingMessage,
    res: ServerResponse,
    q: URLSearchParams,
    resource: string,
    ns: string | undefined,
  ) => {
    const since = Number(q.get("resourceVersion") ?? "0");
    const bookmarks = q.get("allowWatchBookmarks") === "true";
    const h = history(resource);
    const oldest = h.oldest;
    const kind = kindOf(resource)?.kind ?? "";
    const inScope = (o: KubeObject) => ns === undefined || o.metadata.namespace === ns;
    if (since && since < oldest) {
      if (resource === "namespaces") fake.gone += 1;
      else fake.goneServiceAccounts += 1;
      const expired = status(410, "Expired", `too old resource version: ${since} (${oldest})`);
      if (fake.goneAs === "status") return send(res, 410, expired);
      res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
      res.end(`${JSON.stringify({ type: "ERROR", object: expired })}\n`);
      return;
    }
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    const line = (e: { type: string; object: unknown }) => res.write(`${JSON.stringify(e)}\n`);
    const w = {
      res,
      since,
      resource,
      send: (e: Event) => {
        if (e.rv > since && inScope(e.object)) line({ type: e.type, object: e.object });
      },
      end: () => {
        line({ type: "ERROR", object: status(410, "Expired", `too old resource version: ${since} (${oldest})`) });
        res.end();
      },
    };
    if (since) for (const e of h.events) w.send(e);
    else for (const o of list(resource, ns)) line({ type: "ADDED", object: o });
    watchers.add(w);
    const timer = bookmarks
      ? setInterval(
          () =>
            line({
              type: "BOOKMARK",
              object: { kind, apiVersion: "v1", metadata: { resourceVersion: String(rv) } },
            }),
          500,
        )
      : undefined;
    const done = () => {
      clearInterval(timer);
      watchers.delete(w);
    };
    res.on("close", done);
    req.on("close", done);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x");
    const method = req.method ?? "GET";
    const path = url.pathname.replace(/\/$/, "");
    const auth = req.headers.authorization;
    const user = auth?.startsWith("Bearer ") ? tokens.get(auth.slice(7)) : undefined;
    const entry: Request = {
      method,
      path: url.pathname + url.search,
      contentType: req.headers["content-type"],
      auth,
      ...(user ? { user } : {}),
    };
    requests.push(entry);
    const body = method === "GET" || method === "DELETE" ? "" : await readBody(req);
    if (fake.latencyMs > 0) await new Promise((r) => setTimeout(r, fake.latencyMs));
    if (!user) return send(res, 401, status(401, "Unauthorized", "Unauthorized"));
    fake.onRequest?.(entry);
    const h = hooks.find((x) => x.fn && x.pattern.test(`${method} ${path}${url.search}`));
    if (h?.fn) {
      const fn = h.fn;
      h.fn = undefined;
      fn();
    }
    const f = failures.find(
      (x) => x.count > 0 && (x.user === undefined || x.user === user) && x.pattern.test(`${method} ${path}`),
    );
    if (f) {
      f.count -= 1;
      return send(res, 500, status(500, "InternalError", "injected failure"));
    }
    const d = discovery(path);
    if (d && method === "GET") return send(res, 200, d);
    const m =
      /^(\/api\/v1|\/apis\/coordination\.k8s\.io\/v1)(?:\/namespaces\/([^/]+))?\/(namespaces|secrets|serviceaccounts|leases)(?:\/([^/]+))?$/.exec(
        path,
      );
    if (!m) return send(res, 404, status(404, "NotFound", `the server could not find the requested resource ${path}`));
    const [, prefix, ns, resource = "", name] = m;
    const kind = kindOf(resource);
    if (!kind || kind.prefix !== prefix || kind.namespaced !== (ns !== undefined || resource !== "namespaces")) {
      // cluster-wide list of namespaced resources is fine; namespaced namespaces is not
      if (!(kind && kind.prefix === prefix && kind.namespaced && ns === undefined && !name))
        return send(res, 404, status(404, "NotFound", "not found"));
    }
    if (ns && resource !== "namespaces" && !store.has(k("namespaces", undefined, ns)) && method !== "GET")
      return send(res, 404, status(404, "NotFound", `namespaces "${ns}" not found`));
    let parsed: KubeObject | undefined;
    if (body) {
      try {
        parsed = JSON.parse(body) as KubeObject;
      } catch {
        return send(res, 400, status(400, "BadRequest", "invalid JSON"));
      }
    }
    const notFound = () => send(res, 404, status(404, "NotFound", `${resource} "${name}" not found`));
    if (!name) {
      if (method === "GET") {
        if (url.searchParams.get("watch") === "true" || url.searchParams.get("watch") === "1") {
          if (resource !== "namespaces" && resource !== "serviceaccounts")
            return send(res, 405, status(405, "MethodNotAllowed", "watch only namespaces and service accounts"));
          return handleWatch(req, res, url.searchParams, resource, ns);
        }
        return send(res, 200, {
          kind: `${kind.kind}List`,
          apiVersion: kind.apiVersion,
          metadata: { resourceVersion: String(rv) },
          items: list(resource, ns),
        });
      }
      if (method === "POST") {
        if (!parsed?.metadata?.name) return send(res, 422, status(422, "Invalid", "metadata.name is required"));
        if (store.has(k(resource, ns, parsed.metadata.name)))
          return send(res, 409, status(409, "AlreadyExists", `${resource} "${parsed.metadata.name}" already exists`));
        const nsObj = ns ? store.get(k("namespaces", undefined, ns)) : undefined;
        if ((nsObj?.status as { phase?: string } | undefined)?.phase === "Terminating")
          return send(
            res,
            403,
            status(
              403,
              "Forbidden",
              `${resource} "${parsed.metadata.name}" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`,
            ),
          );
        parsed.metadata.namespace = ns;
        delete parsed.metadata.resourceVersion;
        const created = write(resource, parsed, "ADDED");
        if (resource === "namespaces") defaultServiceAccount(created.metadata.name);
        return send(res, 201, created);
      }
      return send(res, 405, status(405, "MethodNotAllowed", method));
    }
    const key = k(resource, kind.namespaced ? ns : undefined, name);
    const cur = store.get(key);
    if (method === "GET") return cur ? send(res, 200, cur) : notFound();
    if (method === "DELETE") {
      if (!cur) return notFound();
      remove(resource, kind.namespaced ? ns : undefined, name);
      return send(res, 200, { kind: "Status", apiVersion: "v1", status: "Success", metadata: {} });
    }
    if (!cur) return notFound();
    let next: KubeObject;
    if (method === "PUT") {
      if (!parsed) return send(res, 400, status(400, "BadRequest", "no body"));
      if (parsed.metadata?.name !== name) return send(res, 400, status(400, "BadRequest", "name mismatch"));
      const want = parsed.metadata.resourceVersion;
      if (want !== undefined && want !== "" && want !== cur.metadata.resourceVersion)
        return send(
          res,
          409,
          status(
            409,
            "Conflict",
            `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
          ),
        );
      next = parsed;
    } else if (method === "PATCH") {
      const ct = (req.headers["content-type"] ?? "").split(";")[0];
      try {
        if (ct === "application/json-patch+json") next = jsonPatch(cur, JSON.parse(body)) as KubeObject;
        else if (ct === "application/merge-patch+json" || ct === "application/strategic-merge-patch+json")
          next = mergePatch(cur, JSON.parse(body), ct.startsWith("application/strategic")) as KubeObject;
        else return send(res, 415, status(415, "UnsupportedMediaType", `unsupported patch type ${ct}`));
      } catch (e) {
        return send(res, 422, status(422, "Invalid", `patch failed: ${(e as Error).message}`));
      }
      const want = next.metadata?.resourceVersion;
      if (want !== undefined && want !== cur.metadata.resourceVersion)
        return send(res, 409, status(409, "Conflict", `Operation cannot be fulfilled on ${resource} "${name}"`));
    } else return send(res, 405, status(405, "MethodNotAllowed", method));
    next.metadata = {
      ...next.metadata,
      name,
      namespace: ns,
      uid: cur.metadata.uid,
      creationTimestamp: cur.metadata.creationTimestamp,
    };
    return send(res, 200, write(resource, next, "MODIFIED"));
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) send(res, 500, status(500, "InternalError", String(e)));
    });
  };
  const server: Server = opts.tls ? createHttpsServer(opts.tls, listener) : createHttpServer(listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const fake: FakeKube = {
    url: `${opts.tls ? "https" : "http"}://127.0.0.1:${port}`,
    token,
    requests,
    tokenFor: (user) => {
      const t = `kube-${randomUUID()}`;
      tokens.set(t, user);
      return t;
    },
    latencyMs: 0,
    onRequest: undefined,
    defaultServiceAccountDelayMs: 0,
    get: (resource, ns, name) => {
      const o = store.get(k(resource, ns, name));
      return o && clone(o);
    },
    put: (resource, obj) =>
      write(resource, obj, store.has(k(resource, obj.metadata.namespace, obj.metadata.name)) ? "MODIFIED" : "ADDED"),
    remove,
    list,
    addNamespace,
    failNext: (pattern, count, user) => {
      failures.push({ pattern, count, ...(user === undefined ? {} : { user }) });
    },
    beforeNext: (pattern, fn) => {
      hooks.push({ pattern, fn });
    },
    dropWatches: () => {
      for (const w of watchers) w.res.destroy();
      watchers.clear();
    },
    compact: () => {
      for (const h of histories.values()) {
        h.events = [];
        h.oldest = rv;
      }
    },
    expireWatches: () => {
      for (const h of histories.values()) {
        h.events = [];
        h.oldest = rv;
      }
      for (const w of watchers) w.end();
      watchers.clear();
    },
    goneAs: "event",
    terminate: (name) => {
      const ns = store.get(k("namespaces", undefined, name));
      if (ns) write("namespaces", { ...ns, status: { phase: "Terminating" } }, "MODIFIED");
    },
    openWatches: () => watchers.size,
    gone: 0,
    goneServiceAccounts: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const w of watchers) w.res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return fake;
}

/** A kubeconfig for the fake (the CA is given for HTTPS). */
export const kubeconfigFor = (fake: FakeKube, caPem?: string, token = fake.token): string =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: "fake",
        cluster: {
          server: fake.url,
          ...(caPem ? { "certificate-authority-data": Buffer.from(caPem).toString("base64") } : {}),
        },
      },
    ],
    users: [{ name: "fake", user: { token } }],
    contexts: [{ name: "fake", context: { cluster: "fake", user: "fake" } }],
    "current-context": "fake",
  });
