// A probe of the registry itself with the token: GET /v2/ and a manifest HEAD, as a client pulls.
// The token only ever goes to the host the route was resolved for (redirects are not followed
// with it), and neither the token nor any Authorization header is ever part of the result.
// It goes out as the providers' calls do (network.ts: proxy per HTTPS_PROXY/NO_PROXY, the CA
// bundles): under Bun through Network.fetch, under Node over node:https with Network.agent — Node's
// global fetch would ignore both.

import type { Agent } from "node:http";
import { Readable } from "node:stream";
import { scrub } from "../../log.ts";
import { onBun } from "../../providers/fetch-adapter.ts";
import type { Network } from "../../providers/network.ts";

export interface HttpStep {
  method: string;
  url: string;
  status: number | null;
  /** The registry's own error, quoted (errors[0] of the distribution error body, or the text). */
  error?: { code?: string; message: string };
  /** The WWW-Authenticate challenge of an anonymous /v2/ request. */
  challenge?: string;
}

export interface Probe {
  anonymous: HttpStep;
  /**
   * Bearer registries (GCR, Artifact Registry, ACR): the credentials exchanged at the challenge's
   * realm for a registry token (the URL carries service and scope only, never a secret).
   */
  token?: HttpStep;
  /** GET /v2/ with the credentials; absent when the registry cannot be reached or the token step failed. */
  base?: HttpStep;
  manifest?: HttpStep;
  ok: boolean;
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/**
 * The fraction of fetch the probe uses (its URLs are all https), over node:https with `agent`
 * (undefined: Node's default agent, direct; the CA bundles network.ts added are Node's default
 * trust). A failure rejects as fetch's does (a TypeError whose cause is Node's error, or the
 * signal's reason once aborted), so the probe reports it the same way on both runtimes.
 */
const agentFetch =
  (agent: Agent | undefined): FetchLike =>
  async (url, init = {}) => {
    const { request } = await import("node:https");
    const method = init.method ?? "GET";
    const signal = init.signal ?? undefined;
    return new Promise<Response>((resolve, reject) => {
      const fail = (e: unknown) =>
        reject(signal?.aborted ? signal.reason : new TypeError("fetch failed", { cause: e }));
      const headers = init.headers as Record<string, string> | undefined;
      const req = request(
        url,
        { method, ...(headers ? { headers } : {}), ...(agent ? { agent } : {}), ...(signal ? { signal } : {}) },
        (res) => {
          try {
            const h = new Headers();
            const raw = res.rawHeaders;
            for (let i = 0; i + 1 < raw.length; i += 2) h.append(raw[i] ?? "", raw[i + 1] ?? "");
            const status = res.statusCode ?? 0;
            const empty = method === "HEAD" || status === 204 || status === 205 || status === 304;
            if (empty) res.resume();
            const body = empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
            resolve(new Response(body, { status, statusText: res.statusMessage ?? "", headers: h }));
          } catch (e) {
            res.destroy();
            fail(e);
          }
        },
      );
      req.once("error", fail);
      req.end();
    });
  };

/** How the probe goes out on this runtime (no network decided: the runtime's own defaults). */
export const probeFetch = (net: Network | undefined): FetchLike =>
  onBun() ? (net?.fetch ?? fetch) : agentFetch(net?.agent);

const MANIFEST_TYPES = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

const MAX_BODY = 64 * 1024;

const readError = async (res: Response): Promise<HttpStep["error"]> => {
  const text = (await res.text().catch(() => "")).slice(0, MAX_BODY);
  if (!text.trim()) return undefined;
  try {
    const body = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    const first = body.errors?.[0];
    if (first?.message) return { ...(first.code ? { code: first.code } : {}), message: scrub(first.message) };
  } catch {}
  return { message: scrub(text.replace(/\s+/g, " ").trim().slice(0, 500)) };
};

const request = async (
  fetcher: FetchLike,
  method: string,
  url: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<{ step: HttpStep; res?: Response }> => {
  try {
    const res = await fetcher(url, { method, headers, redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
    return { step: { method, url, status: res.status }, res };
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return {
      step: { method, url, status: null, error: { message: scrub(cause?.code ?? cause?.message ?? String(e)) } },
    };
  }
};

/**
 * Bearer registries (GCR, Artifact Registry, ACR): exchange the Basic credentials at the realm, as
 * Docker does (GET with Basic: ACR takes its refresh token with the user 00000000-0000-0000-0000-
 * 000000000000, Google its access token with the user oauth2accesstoken).
 */
const bearerFor = async (
  fetcher: FetchLike,
  challenge: string,
  basic: string,
  scope: string | undefined,
  host: string,
  timeoutMs: number,
): Promise<{ step: HttpStep; token?: string }> => {
  const params = Object.fromEntries(
    [...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]?.toLowerCase() ?? "", m[2] ?? ""]),
  );
  let realm: URL;
  try {
    realm = new URL(params.realm ?? "");
  } catch {
    return { step: { method: "GET", url: "", status: null, error: { message: "the challenge names no realm" } } };
  }
  // The token endpoint must be the registry's own host: never hand the credentials elsewhere.
  if (realm.protocol !== "https:" || realm.host !== host) {
    const message = `the challenge's realm ${realm.origin} is not https://${host}: the credentials were not sent there`;
    return { step: { method: "GET", url: `${realm.origin}${realm.pathname}`, status: null, error: { message } } };
  }
  if (params.service) realm.searchParams.set("service", params.service);
  if (scope) realm.searchParams.set("scope", scope);
  const { step, res } = await request(fetcher, "GET", realm.toString(), { authorization: basic }, timeoutMs);
  if (!res) return { step };
  if (!res.ok) {
    const err = await readError(res);
    if (err) step.error = err;
    return { step };
  }
  const body = (await res.json().catch(() => ({}))) as { token?: unknown; access_token?: unknown };
  const token = typeof body.token === "string" ? body.token : body.access_token;
  if (typeof token !== "string" || !token) {
    step.error = { message: "the token endpoint answered without a token" };
    return { step };
  }
  return { step, token };
};

export const probeRegistry = async (
  host: string,
  repoPath: string | undefined,
  reference: string | undefined,
  creds: { username: string; secret: string },
  timeoutMs: number,
  fetcher: FetchLike,
): Promise<Probe> => {
  const origin = `https://${host}`;
  const anon = await request(fetcher, "GET", `${origin}/v2/`, {}, timeoutMs);
  const anonymous = anon.step;
  const challenge = anon.res?.headers.get("www-authenticate") ?? undefined;
  if (challenge) anonymous.challenge = challenge;
  await anon.res?.body?.cancel().catch(() => {});
  if (anonymous.status === null) return { anonymous, ok: false };
  let auth = `Basic ${Buffer.from(`${creds.username}:${creds.secret}`).toString("base64")}`;
  let token: HttpStep | undefined;
  if (challenge && /^bearer\s/i.test(challenge)) {
    const scope = repoPath ? `repository:${repoPath}:pull` : undefined;
    const bearer = await bearerFor(fetcher, challenge, auth, scope, host, timeoutMs);
    token = bearer.step;
    // Without a registry token there is nothing to probe with: the token step's answer is the verdict.
    if (!bearer.token) return { anonymous, token, ok: false };
    auth = `Bearer ${bearer.token}`;
  }
  const withToken = token ? { token } : {};
  const b = await request(fetcher, "GET", `${origin}/v2/`, { authorization: auth }, timeoutMs);
  const base = b.step;
  if (b.res && !b.res.ok) {
    const err = await readError(b.res);
    if (err) base.error = err;
  } else await b.res?.body?.cancel().catch(() => {});
  if (!repoPath || base.status === null || (base.status !== 200 && base.status !== 404)) {
    return { anonymous, ...withToken, base, ok: base.status === 200 && !repoPath };
  }
  const url = `${origin}/v2/${repoPath}/manifests/${reference ?? "latest"}`;
  const headers = { authorization: auth, accept: MANIFEST_TYPES };
  const h = await request(fetcher, "HEAD", url, headers, timeoutMs);
  const manifest = h.step;
  if (h.res && !h.res.ok) {
    // HEAD has no body: ask again with GET to quote the registry's own words.
    const g = await request(fetcher, "GET", url, headers, timeoutMs);
    if (g.res) {
      const err = await readError(g.res);
      if (err) manifest.error = err;
    }
  }
  return { anonymous, ...withToken, base, manifest, ok: manifest.status === 200 };
};
