// How @kubernetes/client-node reaches the API server, on both runtimes.
//
// Under Node: the library's own way (kc.makeApiClient, k8s.Watch), undici's fetch with a dispatcher
// that carries the cluster CA, the client certificate and key, and the kubeconfig's proxy-url.
//
// Under Bun (the single-file executable), undici's fetch is Bun's, which ignores that dispatcher:
// every call would fail TLS verification. Here the same client gets an HTTP library (its
// `httpApi` hook) and a watch built on fetch-adapter.ts, which states per request what the
// dispatcher stood for, taken from the kubeconfig by the library itself (applyToHTTPSOptions):
// CA, client certificate/key, skip-TLS-verify, TLS server name; the bearer token, basic auth,
// exec/auth-provider headers come from applySecurityAuthentication as for Node. Proxies as under
// Node: the kubeconfig's proxy-url (http/https), else direct — the proxy variables are for the
// cloud calls, as client-node under Node ignores them too.

import type { RequestOptions } from "node:https";
import * as k8s from "@kubernetes/client-node";
import { bunFetch, type FetchLike, onBun, type Transport } from "../providers/fetch-adapter.ts";
import { VERSION } from "../version.ts";

const transportFor = async (kc: k8s.KubeConfig): Promise<Transport> => {
  const o: RequestOptions = {};
  await kc.applyToHTTPSOptions(o);
  const proxyUrl = kc.getCurrentCluster()?.proxyUrl;
  if (proxyUrl && !/^https?:\/\//i.test(proxyUrl)) {
    throw new Error(
      `kubeconfig proxy-url ${proxyUrl.replace(/\/\/[^@/]*@/, "//")}: the single-file executable supports http:// and https:// proxies only; use the Node launcher for SOCKS`,
    );
  }
  const tls = {
    ...(o.ca ? { ca: o.ca as string | Buffer } : {}),
    ...(o.cert ? { cert: o.cert as string | Buffer } : {}),
    ...(o.key ? { key: o.key as string | Buffer } : {}),
    ...(o.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
    ...(o.servername ? { serverName: o.servername } : {}),
  };
  return { proxy: proxyUrl || false, ...(Object.keys(tls).length ? { tls } : {}) };
};

const kubeFetch = (kc: k8s.KubeConfig): FetchLike => bunFetch(() => transportFor(kc));

const httpLibrary = (kc: k8s.KubeConfig): k8s.HttpLibrary => {
  const f = kubeFetch(kc);
  return k8s.wrapHttpLibrary({
    send: async (req) => {
      const res = await f(req.getUrl(), {
        method: req.getHttpMethod(),
        body: req.getBody() as string | undefined,
        headers: req.getHeaders(),
        signal: req.getSignal() ?? null,
      });
      const headers: Record<string, string> = {};
      res.headers.forEach((value, name) => {
        headers[name] = value;
      });
      return new k8s.ResponseContext(res.status, headers, {
        text: () => res.text(),
        binary: async () => Buffer.from(await res.arrayBuffer()),
        stream: () => res.body,
      });
    },
  });
};

/**
 * kc.makeApiClient(api) (the same configuration), with an HTTP library Bun honours when running
 * there, and a deadline on every request: an API server that accepts the connection and never
 * answers must not hold a pass (or a --once run) for the runtime's own minutes-long default.
 */
export const apiClient = <T>(kc: k8s.KubeConfig, api: new (config: k8s.Configuration) => T, timeoutMs: number): T => {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("No active cluster!");
  return new api(
    k8s.createConfiguration({
      baseServer: new k8s.ServerConfiguration(cluster.server, {}),
      authMethods: { default: kc },
      ...(onBun() ? { httpApi: httpLibrary(kc) } : {}),
      middleware: [k8s.setHeaderMiddleware("User-Agent", `docker-credential-cloud/${VERSION}`)],
      promiseMiddleware: [
        {
          pre: async (req) => {
            req.setSignal(AbortSignal.timeout(timeoutMs));
            return req;
          },
          post: async (res) => res,
        },
      ],
    }),
  );
};

/** Without a byte for this long, a watch is over (k8s.Watch's request timeout, the same 30 s). */
const WATCH_IDLE_MS = 30_000;

/**
 * k8s.Watch#watch, with the same contract (events by `onEvent`, `onDone` once with the error or
 * null, the returned controller aborts), on fetch-adapter.ts under Bun.
 */
export const watch = async (
  kc: k8s.KubeConfig,
  path: string,
  query: Record<string, string | boolean>,
  onEvent: (type: string, obj: unknown) => void,
  onDone: (err: unknown) => void,
): Promise<{ abort(): void }> => {
  if (!onBun()) return new k8s.Watch(kc).watch(path, query, onEvent, onDone);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("No currently active cluster");
  const url = new URL(cluster.server + path);
  url.searchParams.set("watch", "true");
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, String(v));
  const ctx = new k8s.RequestContext(url.toString(), k8s.HttpMethod.GET);
  await kc.applySecurityAuthentication(ctx);
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let finished = false;
  const finish = (err: unknown) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    controller.abort();
    onDone(err);
  };
  const idle = () => {
    clearTimeout(timer);
    timer = setTimeout(() => finish(new Error(`no data from the watch for ${WATCH_IDLE_MS / 1000} s`)), WATCH_IDLE_MS);
    timer.unref();
  };
  idle();
  try {
    const res = await kubeFetch(kc)(url, { headers: ctx.getHeaders(), signal: controller.signal });
    if (res.status !== 200 || !res.body) {
      await res.body?.cancel();
      throw Object.assign(new Error(res.statusText || `HTTP ${res.status}`), { statusCode: res.status });
    }
    idle();
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    (async () => {
      let buf = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        idle();
        buf += value;
        for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          let event: { type?: string; object?: unknown };
          try {
            event = JSON.parse(line) as typeof event;
          } catch {
            continue; // as k8s.Watch: a line that is not JSON is skipped
          }
          onEvent(String(event.type), event.object);
        }
      }
      finish(null);
    })().catch(finish);
  } catch (e) {
    finish(e);
  }
  return controller;
};
