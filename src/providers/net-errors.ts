// Error codes that mean "the network, not the identity": classified as such by every cloud's error
// module before any secret is blamed (issue 13: honest messages).

/** Socket and DNS failures (Node's errno codes). */
export const SOCKET_ERROR_CODES = [
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
] as const;

/** TLS verification failures (an untrusted proxy or CA, a wrong host name). */
export const TLS_ERROR_CODES = [
  "CERT_HAS_EXPIRED",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "ERR_TLS_CERT_ALTNAME_INVALID",
] as const;

/** A proxy URL as it may be shown: scheme, host and port; never its user name or password. */
export const shownProxy = (proxy: string | URL): string => {
  try {
    const u = proxy instanceof URL ? proxy : new URL(proxy);
    return `${u.protocol}//${u.host}`;
  } catch {
    return "(unparsable proxy URL)";
  }
};

const hasCredentials = (proxy: string | URL): boolean => {
  try {
    const u = proxy instanceof URL ? proxy : new URL(proxy);
    return Boolean(u.username || u.password);
  } catch {
    return false;
  }
};

/** The next step for a proxy that refused a tunnel with `status`. */
const proxyHint = (status: number, target: string, withCredentials: boolean): string => {
  if (status === 407 || status === 401) {
    // tinyproxy, among others, answers wrong credentials with 401 rather than 407.
    return withCredentials
      ? "the proxy did not accept the credentials in HTTPS_PROXY: correct them (http://user:pass@…) or bypass the proxy with NO_PROXY"
      : "set credentials in HTTPS_PROXY (http://user:pass@…) or NO_PROXY";
  }
  if (status === 403) return `the proxy's policy does not allow ${target}: ask for it to be allowed, or set NO_PROXY`;
  if (status >= 500) return `the proxy could not reach ${target}: check the proxy and its upstream, or set NO_PROXY`;
  return "check HTTPS_PROXY, or bypass the proxy with NO_PROXY";
};

/**
 * A forward proxy answered CONNECT with something other than 200: the proxy, not the identity, is
 * why the request failed. Raised by network.ts (Node's http stack through proxy-agent) and by
 * fetch-adapter.ts (Bun's fetch, whose own error is ERR_PROXY_TUNNEL); every cloud's errors.ts
 * reports its message as is. The proxy is named without the credentials its URL may carry.
 */
export class ProxyRefusedError extends Error {
  override name = "ProxyRefusedError";
  readonly code = "ERR_PROXY_TUNNEL";
  readonly proxy: string;
  readonly target: string;
  readonly status: number;
  constructor(proxy: string | URL, target: string, status: number, statusText: string) {
    const shown = shownProxy(proxy);
    // The status text comes from the proxy: printable, short.
    const text = statusText
      .replace(/[^\x20-\x7e]/g, "")
      .trim()
      .slice(0, 80);
    super(
      `the proxy ${shown} refused the tunnel to ${target}: ${status}${text ? ` ${text}` : ""} — ${proxyHint(status, target, hasCredentials(proxy))}`,
    );
    this.proxy = shown;
    this.target = target;
    this.status = status;
    latest = { error: this, at: performance.now() };
  }
}

let latest: { error: ProxyRefusedError; at: number } | undefined;

/**
 * The last tunnel a proxy refused in this process since `since` (performance.now()), for
 * libraries whose errors drop the cause (MSAL's "network_error").
 */
export const recentProxyRefusal = (since: number): ProxyRefusedError | undefined =>
  latest && latest.at >= since ? latest.error : undefined;

/** Whether an error or one of its causes carries ERR_PROXY_TUNNEL (node-fetch copies only the code). */
const hasTunnelCode = (e: unknown, depth = 0): boolean => {
  if (depth > 5 || e === null || typeof e !== "object") return false;
  const o = e as { code?: unknown; cause?: unknown; errors?: unknown; error?: unknown };
  return (
    o.code === "ERR_PROXY_TUNNEL" ||
    [o.cause, o.error, ...(Array.isArray(o.errors) ? o.errors : [])].some((x) => hasTunnelCode(x, depth + 1))
  );
};

const findRefusal = (e: unknown, depth: number): ProxyRefusedError | undefined => {
  if (e instanceof ProxyRefusedError) return e;
  if (depth > 5 || e === null || typeof e !== "object") return undefined;
  const o = e as { cause?: unknown; errors?: unknown; error?: unknown; originalError?: unknown };
  for (const inner of [o.cause, o.error, o.originalError, ...(Array.isArray(o.errors) ? o.errors : [])]) {
    const found = findRefusal(inner, depth + 1);
    if (found) return found;
  }
  return undefined;
};

/**
 * The ProxyRefusedError inside an error (itself, its cause, an aggregate's errors), or — when a
 * wrapper kept only its ERR_PROXY_TUNNEL code, as node-fetch's FetchError does — the last one raised.
 */
export const proxyRefusal = (e: unknown): ProxyRefusedError | undefined =>
  findRefusal(e, 0) ?? (hasTunnelCode(e) ? latest?.error : undefined);

/** Bun's fetch error for a refused CONNECT ("Proxy refused to open a tunnel: 407 …") as a ProxyRefusedError. */
export const fromBunTunnelError = (e: unknown, proxy: string, target: string): ProxyRefusedError | undefined => {
  const o = (e ?? {}) as { code?: unknown; message?: unknown };
  if (o.code !== "ERR_PROXY_TUNNEL") return undefined;
  const m = /(\d{3})\s*(.*)$/.exec(typeof o.message === "string" ? o.message : "");
  return new ProxyRefusedError(proxy, target, m ? Number(m[1]) : 0, m?.[2] ?? "");
};
