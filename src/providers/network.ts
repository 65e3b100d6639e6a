// The network every provider's SDK uses, decided in one place (imported on a cache miss only):
//   - proxies: HTTPS_PROXY/https_proxy, HTTP_PROXY/http_proxy and NO_PROXY (host names, ".suffix"
//     and "suffix" domains, host:port, "*") as proxy-from-env reads them, through proxy-agent; the
//     library is loaded only when a proxy variable is set;
//   - link-local metadata (169.254.0.0/16 — EC2/Azure IMDS, the ECS/EKS container endpoints —,
//     fd00:ec2::254, metadata.google.internal, and endpoints configured by GCE_METADATA_HOST,
//     AWS_EC2_METADATA_SERVICE_ENDPOINT, AZURE_POD_IDENTITY_AUTHORITY_HOST…) is NEVER sent through a proxy: a proxy cannot reach
//     the host's own metadata service, and must not see what it answers;
//   - custom CA bundles: AWS_CA_BUNDLE and SSL_CERT_FILE are added to Node's default trust store
//     (NODE_EXTRA_CA_CERTS Node itself adds at start-up), so proxied and direct calls trust them.
//
// The SDKs get one agent (agent-base picks http or https per request): the AWS SDK through its
// NodeHttpHandler, gaxios through transporterOptions.agent, @azure/identity and our ACR exchange
// through the pipeline's `agent`. gcp-metadata (the Google metadata token) takes no agent: for it,
// the link-local hosts are appended to NO_PROXY/no_proxy of this process when a proxy is set.
//
// In the single-file executable (Bun), node:http honours the agent and the CA set here, but the
// fetch that gaxios uses does not: `fetch` below is the same decision (proxy or direct, metadata
// always direct, the CA bundles) stated per request to Bun's fetch (fetch-adapter.ts).

import { readFile } from "node:fs/promises";
import type { Agent, ClientRequest } from "node:http";
import tls from "node:tls";
import type { ProxyAgent } from "proxy-agent";
import type { Env } from "../env.ts";
import { ConfigError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { bunFetch, type FetchLike, onBun } from "./fetch-adapter.ts";
import { ProxyRefusedError } from "./net-errors.ts";

/** Host names that always mean "this machine's metadata service". */
export const METADATA_HOSTS = ["169.254.169.254", "fd00:ec2::254", "metadata.google.internal", "metadata"] as const;

/** True for link-local metadata and credential endpoints, which are never proxied. */
export const isLinkLocal = (hostname: string): boolean => {
  const h = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return (
    (METADATA_HOSTS as readonly string[]).includes(h) ||
    /^169\.254\.\d{1,3}\.\d{1,3}$/.test(h) ||
    /^fe[89ab][0-9a-f]?:/.test(h)
  );
};

// Variables that point a cloud's metadata or managed-identity endpoint elsewhere (tests, sidecars,
// App Service): those endpoints are by definition local and are never proxied either.
const METADATA_ENDPOINT_VARS = [
  "GCE_METADATA_HOST",
  "GCE_METADATA_IP",
  "AWS_EC2_METADATA_SERVICE_ENDPOINT",
  "AWS_CONTAINER_CREDENTIALS_FULL_URI",
  "AZURE_POD_IDENTITY_AUTHORITY_HOST",
  "IDENTITY_ENDPOINT",
  "IMDS_ENDPOINT",
  "MSI_ENDPOINT",
] as const;

/** host:port of each configured metadata endpoint (a bare host means port 80). */
export const metadataEndpoints = (env: Env): string[] =>
  METADATA_ENDPOINT_VARS.flatMap((v) => {
    const raw = env[v];
    if (!raw) return [];
    try {
      const u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
      return [`${u.hostname}:${u.port || (u.protocol === "https:" ? "443" : "80")}`];
    } catch {
      return [];
    }
  });

/** Whether a request URL goes to metadata: link-local, or a configured metadata endpoint. */
export const isMetadataUrl = (url: string, env: Env): boolean => {
  const u = new URL(url);
  if (isLinkLocal(u.hostname)) return true;
  const hostPort = `${u.hostname}:${u.port || (u.protocol === "https:" ? "443" : "80")}`;
  return metadataEndpoints(env).includes(hostPort);
};

const PROXY_VARS = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] as const;

export const proxyConfigured = (env: Env): boolean => PROXY_VARS.some((v) => Boolean(env[v]));

export interface Network {
  /** undefined: no proxy is configured; the SDKs' defaults connect directly. */
  agent: Agent | undefined;
  /**
   * Under Bun only: a fetch making the same decisions as `agent` and the CA bundles, for fetch-based
   * clients (gaxios' fetchImplementation). undefined under Node, where those clients take the agent.
   */
  fetch: FetchLike | undefined;
}

let cached: Promise<Network> | undefined;

/** Adds AWS_CA_BUNDLE/SSL_CERT_FILE to the default trust; returns the new default list, if changed. */
const trustBundles = async (env: Env): Promise<string[] | undefined> => {
  const files = [env.AWS_CA_BUNDLE, env.SSL_CERT_FILE].filter((f): f is string => Boolean(f));
  if (files.length === 0) return undefined;
  const pems: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? "unreadable";
      const name = file === env.AWS_CA_BUNDLE ? "AWS_CA_BUNDLE" : "SSL_CERT_FILE";
      throw new ConfigError(`${name}: ${file} cannot be read (${code})`);
    }
    pems.push(...(text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []));
  }
  if (pems.length === 0) return undefined;
  // Node ≥ 22.19 / 24.5: one switch for every TLS connection of the process.
  const t = tls as typeof tls & {
    getCACertificates?: (which: string) => string[];
    setDefaultCACertificates?: (certs: string[]) => void;
  };
  if (!t.setDefaultCACertificates || !t.getCACertificates) {
    throw new ConfigError("AWS_CA_BUNDLE/SSL_CERT_FILE need Node ≥ 22.19; use NODE_EXTRA_CA_CERTS instead");
  }
  t.setDefaultCACertificates([...t.getCACertificates("default"), ...pems]);
  return t.getCACertificates("default");
};

/** Bun's fetch with this network's decisions (proxy per `agent`, metadata direct, `ca`). */
const fetchFor = (
  agent: ProxyAgent | undefined,
  ca: string[] | undefined,
  log: Logger | undefined,
): FetchLike | undefined => {
  if (!onBun()) return undefined;
  return bunFetch(
    async (url) => {
      // The agent's own decision (metadata is always "", direct); no agent: no proxy is configured.
      const proxy = agent ? await agent.getProxyForUrl(url.href, undefined as never) : "";
      return { proxy: proxy || false, ...(ca ? { tls: { ca } } : {}) };
    },
    log?.level === "debug" ? (l) => log.debug(l) : undefined,
  );
};

/**
 * A refused CONNECT (407, 403, 502…) fails the request with a ProxyRefusedError. https-proxy-agent
 * would instead hand the proxy's answer to the request as if the server had sent it, so each SDK
 * blamed its identity for a "401" or an unparsable HTML page. The tunnel is opened here (the proxy
 * agent the request would have been given, asked directly) so that the refusal can reject it.
 */
const refuseOnFailedTunnel = (agent: ProxyAgent, log: Logger | undefined): void => {
  const pick = agent.connect.bind(agent);
  type Tunnel = Agent & { proxy?: unknown; connect?: (req: ClientRequest, opts: unknown) => Promise<unknown> };
  agent.connect = (async (req: ClientRequest, opts: Parameters<ProxyAgent["connect"]>[1]) => {
    const inner = (await pick(req, opts)) as Tunnel;
    if (!opts.secureEndpoint || !(inner.proxy instanceof URL) || typeof inner.connect !== "function") return inner;
    const proxy = inner.proxy;
    let refused: { statusCode: number; statusText: string } | undefined;
    req.once("proxyConnect", (answer: { statusCode: number; statusText: string }) => {
      if (answer.statusCode !== 200) refused = answer;
    });
    const t0 = performance.now();
    const socket = (await inner.connect(req, opts)) as { destroy(): void };
    if (!refused) return socket;
    socket.destroy();
    const target = `${opts.host}:${opts.port}`;
    const error = new ProxyRefusedError(proxy, target, refused.statusCode, refused.statusText);
    if (log?.level === "debug") {
      log.debug(
        `http: CONNECT ${target} via ${error.proxy} → ${refused.statusCode} (${Math.round(performance.now() - t0)} ms)`,
      );
    }
    throw error;
  }) as never;
};

/**
 * DEBUG=* (the `debug` package's knob) makes proxy-agent print the proxy URL, user and password
 * included. Its lines go through our logger at debug level instead, scrubbed, as the Google SDK's
 * do (google/sdk-log.ts).
 */
const routeDebugLogs = async (log: Logger): Promise<void> => {
  const [{ default: createDebug }, { formatWithOptions }] = await Promise.all([import("debug"), import("node:util")]);
  createDebug.log = (...args: unknown[]) => {
    const inspect = (createDebug as { inspectOpts?: object }).inspectOpts ?? {};
    for (const line of formatWithOptions(inspect, ...args).split("\n")) log.debug(`debug: ${line}`);
  };
};

/** A NO_PROXY entry naming a domain without a leading "." or "*" (optionally with a port), not an IP. */
export const isBareDomain = (entry: string): boolean => {
  const host = entry.replace(/:\d+$/, "");
  return /^[a-z0-9-]+(\.[a-z0-9-]+)*$/i.test(host) && !/^[\d.]+$/.test(host) && !host.includes(":");
};

const build = async (env: Env, log: Logger | undefined): Promise<Network> => {
  const ca = await trustBundles(env);
  if (!proxyConfigured(env)) return { agent: undefined, fetch: fetchFor(undefined, ca, log) };
  // For the libraries that read NO_PROXY themselves (gcp-metadata through gaxios, which takes
  // NO_PROXY over no_proxy): both get the union of the two and the metadata hosts.
  const list = [...new Set([process.env.NO_PROXY, process.env.no_proxy].flatMap((v) => (v ?? "").split(",")))]
    .map((x) => x.trim())
    .filter(Boolean);
  // gaxios matches an entry against a URL's origin too, so a configured endpoint excludes only itself.
  const extra = [...METADATA_HOSTS, ...metadataEndpoints(env).map((hp) => `http://${hp.replace(/:80$/, "")}`)];
  // A bare domain means the domain and its subdomains (as for Go, curl and gaxios); proxy-from-env
  // reads it as that host only, so each one also gets its ".domain" form.
  const suffixes = list.filter(isBareDomain).map((d) => `.${d}`);
  const all = [...list, ...suffixes, ...extra];
  const merged = all.filter((h, i) => all.indexOf(h) === i).join(",");
  process.env.NO_PROXY = merged;
  process.env.no_proxy = merged;
  if (env.DEBUG && log) await routeDebugLogs(log);
  const { ProxyAgent } = await import("proxy-agent");
  const agent = new ProxyAgent({ keepAlive: false });
  // proxy-agent's own decision (proxy-from-env: *_PROXY, NO_PROXY with hosts, suffixes, ports, "*"),
  // except that metadata is always direct.
  const fromEnv = agent.getProxyForUrl;
  agent.getProxyForUrl = (url, req) => (isMetadataUrl(url, env) ? "" : fromEnv(url, req));
  refuseOnFailedTunnel(agent, log);
  return { agent, fetch: fetchFor(agent, ca, log) };
};

/** The process's network setup for providers, built once (a provider call may come from the keyring too). */
export const network = async (env: Env, log?: Logger): Promise<Network> => {
  if (log) await traceHttp(log);
  cached ??= build(env, log).catch((e) => {
    cached = undefined;
    throw e;
  });
  return cached;
};

/**
 * How long a metadata service may take to accept a TCP connection. A real one is on the host (or
 * the hypervisor) and accepts in well under a millisecond; off the cloud, link-local packets are
 * usually dropped, and this is what a laptop with no identity pays, once per negative-cache period.
 */
export const METADATA_CONNECT_MS = 200;

const reachability = new Map<string, Promise<boolean>>();

/** Whether something accepts TCP connections at host:port within `ms` (memoized per process). */
export const reachable = (host: string, port: number, ms = METADATA_CONNECT_MS): Promise<boolean> => {
  const key = `${host}:${port}`;
  let p = reachability.get(key);
  if (!p) {
    p = import("node:net").then(
      ({ connect }) =>
        new Promise<boolean>((resolve) => {
          const socket = connect({ host: host.replace(/^\[|\]$/g, ""), port });
          const done = (v: boolean) => {
            clearTimeout(timer);
            socket.destroy();
            resolve(v);
          };
          const timer = setTimeout(() => done(false), ms);
          socket.once("connect", () => done(true));
          socket.once("error", () => done(false));
        }),
    );
    reachability.set(key, p);
  }
  return p;
};

let tracing = false;
let lastError: { host: string; code: string } | undefined;

/**
 * The last connection-level failure of any HTTP request in this process (host and error code, as
 * Node reported it), for SDKs whose errors drop the cause (MSAL's "network_error").
 */
export const recentNetworkError = (): { host: string; code: string } | undefined => lastError;

/**
 * Watches every HTTP exchange any SDK makes through node:http/https, from Node's
 * diagnostics_channel (so no SDK needs a hook of its own): it remembers the last connection
 * failure, and at debug level logs one line per exchange — method, host, status and time; never a
 * path, header or body (they carry tokens).
 */
export const traceHttp = async (log: Logger): Promise<void> => {
  if (tracing) return;
  tracing = true;
  const debug = log.level === "debug";
  const dc = await import("node:diagnostics_channel");
  const started = new WeakMap<object, number>();
  type Req = { method?: string; host?: string; getHeader?: (n: string) => unknown };
  const hostOf = (req: Req): string => String(req.getHeader?.("host") ?? req.host ?? "?");
  const elapsed = (req: object): string => {
    const t0 = started.get(req);
    return t0 === undefined ? "?" : String(Math.round(performance.now() - t0));
  };
  // From the request's creation: "start" is not published for a request whose socket a proxy
  // agent supplies (the tunnel, on Node and on Bun), so its exchange line had no time. "start"
  // stays as a fallback for a runtime without "created".
  const mark = (m: unknown) => {
    const req = (m as { request: object }).request;
    if (!started.has(req)) started.set(req, performance.now());
  };
  dc.subscribe("http.client.request.created", mark);
  dc.subscribe("http.client.request.start", mark);
  if (debug) {
    dc.subscribe("http.client.response.finish", (m) => {
      const { request, response } = m as { request: Req; response: { statusCode?: number } };
      log.debug(
        `http: ${request.method ?? "?"} ${hostOf(request)} → ${response.statusCode ?? "?"} (${elapsed(request)} ms)`,
      );
    });
  }
  dc.subscribe("http.client.request.error", (m) => {
    const { request, error } = m as { request: Req; error: { code?: string; name?: string } };
    const code = error.code ?? error.name ?? "error";
    lastError = { host: hostOf(request), code };
    if (debug) log.debug(`http: ${request.method ?? "?"} ${hostOf(request)} → ${code} (${elapsed(request)} ms)`);
  });
};
