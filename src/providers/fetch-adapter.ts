// The single-file executable runs on Bun, whose `fetch` replaces node-fetch and undici's fetch for
// every bundled library. It ignores the Node `agent` (gaxios) and undici `dispatcher`
// (@kubernetes/client-node) those libraries pass, so their proxy decision, CA, client certificate
// and abort semantics would be lost. This module gives such a library a fetch that states each of
// them to Bun explicitly, per request:
//   - proxy: the URL our own rules chose, or `false` (direct, even when HTTPS_PROXY is set; Bun
//     would otherwise apply the proxy variables by its own, different NO_PROXY reading);
//   - tls: { ca, cert, key, rejectUnauthorized, serverName } (Bun's fetch reads no process-wide CA
//     changed at run time: tls.setDefaultCACertificates reaches node:https only);
//   - abort: an aborted request rejects with an `AbortError`, as node-fetch's does, never Bun's
//     DOMException `TimeoutError` (gaxios retries that one, turning a per-request timeout into
//     several) — also when the abort comes while the body is read, after the headers arrived:
//     every way of reading the response's body (text, json, arrayBuffer, blob, bytes, formData,
//     the body stream) rejects the same way.
// Under Node it is never used: there the libraries' own agents and dispatchers work.

import { fromBunTunnelError } from "./net-errors.ts";

/** True inside the single-file executable (and any Bun runtime). */
export const onBun = (): boolean => Boolean((process.versions as Record<string, string | undefined>).bun);

export interface BunTls {
  ca?: string | Buffer | (string | Buffer)[];
  cert?: string | Buffer;
  key?: string | Buffer;
  rejectUnauthorized?: boolean;
  serverName?: string;
}

/** How one request goes out: through `proxy` (a URL) or directly (`false`), with `tls`. */
export interface Transport {
  proxy: string | false;
  tls?: BunTls;
}

export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** An Error shaped like node-fetch's AbortError (name "AbortError", the signal's reason as cause). */
const abortError = (signal: AbortSignal): Error => {
  const e = new Error("The operation was aborted.", { cause: signal.reason });
  e.name = "AbortError";
  return e;
};

/** The Response methods that read the body. */
const BODY_READERS = ["arrayBuffer", "blob", "bytes", "formData", "json", "text"] as const;

/**
 * `res` (the same object) with its body read through a stream whose failures, once `signal` has
 * aborted, are node-fetch's AbortError: the body getter and each reader method go through it
 * (created on first use, as the body's own stream is), the status, headers and URL stay Bun's.
 */
const abortingBody = (res: Response, signal: AbortSignal): Response => {
  const original = Reflect.get(Response.prototype, "body", res) as ReadableStream<Uint8Array> | null;
  if (!original) return res;
  let stream: ReadableStream<Uint8Array> | undefined;
  const body = (): ReadableStream<Uint8Array> => {
    if (stream) return stream;
    const reader = original.getReader();
    stream = new ReadableStream<Uint8Array>({
      async pull(c) {
        try {
          const { done, value } = await reader.read();
          if (done) c.close();
          else c.enqueue(value);
        } catch (e) {
          c.error(signal.aborted ? abortError(signal) : e);
        }
      },
      cancel: (reason) => reader.cancel(reason),
    });
    return stream;
  };
  Object.defineProperty(res, "body", { configurable: true, get: body });
  for (const m of BODY_READERS) {
    Object.defineProperty(res, m, {
      configurable: true,
      writable: true,
      // async: a body already read rejects, as the method itself does, instead of throwing.
      value: async () => new Response(body(), { headers: res.headers })[m](),
    });
  }
  return res;
};

/**
 * A fetch for Bun that sends each request the way `route` says. Options only Node understands
 * (`agent`, `dispatcher`) are dropped: `route` has already decided what they stood for. With
 * `debug`, one line per exchange as network.ts's traceHttp writes under Node: method, host,
 * status or error, time — never a path, header or body.
 */
export const bunFetch =
  (route: (url: URL) => Transport | Promise<Transport>, debug?: (line: string) => void): FetchLike =>
  async (input, init = {}) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const {
      agent: _agent,
      dispatcher: _dispatcher,
      ...rest
    } = init as RequestInit & {
      agent?: unknown;
      dispatcher?: unknown;
    };
    const signal = init.signal ?? undefined;
    if (signal?.aborted) throw abortError(signal);
    const { proxy, tls } = await route(url);
    const t0 = performance.now();
    const line = (outcome: unknown) =>
      debug?.(
        `http: ${init.method ?? "GET"} ${url.host} → ${String(outcome)} (${Math.round(performance.now() - t0)} ms)`,
      );
    try {
      const res = await fetch(input instanceof Request ? input : url, {
        ...rest,
        proxy,
        ...(tls ? { tls } : {}),
      } as RequestInit);
      line(res.status);
      return signal ? abortingBody(res, signal) : res;
    } catch (e) {
      const err = e as { code?: unknown; name?: unknown };
      line(signal?.aborted ? "AbortError" : (err.code ?? err.name ?? "error"));
      if (signal?.aborted) throw abortError(signal);
      // A refused CONNECT: the proxy's answer, named with the proxy (never its credentials).
      throw (proxy && fromBunTunnelError(e, proxy, `${url.hostname}:${url.port || "443"}`)) || e;
    }
  };
