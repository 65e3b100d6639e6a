// A fake Azure for tests: Entra ID (token endpoint, OIDC metadata, instance discovery), ACR
// registries (/oauth2/exchange, the /v2/ challenge), IMDS and App Service managed identity.
//
// Entra and the registries keep their real host names: they are served behind the CONNECT MITM
// proxy (test/support/mitm.ts), so a child runs with HTTPS_PROXY=<proxyUrl> and
// NODE_EXTRA_CA_CERTS=<ca>. The managed-identity endpoints are plain http on 127.0.0.1 (reached
// directly: NO_PROXY=127.0.0.1,localhost), as AZURE_POD_IDENTITY_AUTHORITY_HOST / IDENTITY_ENDPOINT.
//
// Every endpoint CHECKS what it receives (method, exact route, headers, form fields, secrets,
// signatures) and answers like the real service would on a mistake (400/401 with an OAuth error),
// so a wrong request fails the test instead of passing silently. Unknown routes answer 400 (not
// 404: a 404 makes MSAL retry IMDS for ~15 s) and are listed in `unexpected`.

import { constants, createHash, createPublicKey, randomBytes, verify } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { baseEnv } from "./cli.ts";
import { type MitmProxy, startMitmProxy } from "./mitm.ts";
import { type Ca, makeCa } from "./tls.ts";
import { tmpTree } from "./tmp.ts";

export const TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
export const ACR_AUDIENCE = "https://containerregistry.azure.net";
export const ARM_AUDIENCE = "https://management.azure.com";
// MSAL sends China-cloud token requests to login.partner.microsoftonline.cn (its built-in alias
// of login.chinacloudapi.cn).
export const ENTRA_HOSTS = [
  "login.microsoftonline.com",
  "login.chinacloudapi.cn",
  "login.partner.microsoftonline.cn",
  "login.microsoftonline.us",
];
export const ACR_USER = "00000000-0000-0000-0000-000000000000";

/** One request as the fake saw it. */
export interface Call {
  kind: "entra" | "registry" | "metadata" | "other";
  host: string;
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  form: Record<string, string>;
  /** What the fake answered. */
  status: number;
}

export interface FakeClient {
  /** client_credentials with client_secret. */
  secret?: string;
  /** PEM of the certificate whose key signs client assertions (ClientCertificateCredential). */
  certPem?: string;
  /** Federated assertions (workload identity, kubelet service-account tokens) accepted verbatim. */
  federatedTokens?: string[];
}

export interface FakeRegistry {
  /** Answer the exchange with this status and an ACR error body (e.g. 401, 403). */
  deny?: number;
  /** Audiences the registry accepts (default: ACR and ARM, the default "authentication-as-arm" policy). */
  audiences?: string[];
  /** Return exactly this refresh token (e2e: the docker-registry password); else one is minted. */
  refreshToken?: string;
  /** Answer the exchange with a 307 to https://<redirectTo>/oauth2/exchange (a client must not follow). */
  redirectTo?: string;
  /** Accept the exchange and never answer it (a stalled registry: the client's request timeout must end it). */
  stall?: boolean;
  /**
   * Repositories and their tags, served at /v2/<repo>/manifests/<ref> to a Bearer access token from
   * /oauth2/token (explain's probe). Without it those routes are not served.
   */
  repos?: Record<string, string[]>;
  /**
   * Who holds AcrPull on the registry: app ids (service principals, user-assigned identities) or
   * sources ("imds", "cli", …). Others get an access token without pull rights, and the manifest
   * 401 ACR sends. Default: everyone.
   */
  pullers?: string[];
}

/** ACR's words when a token lacks the rights for a repository (401 UNAUTHORIZED). */
export const ACR_UNAUTHORIZED = "authentication required, visit https://aka.ms/acr/authorization for more information.";

export interface FakeAzureOptions {
  /** The CA the proxy's leaves chain to (e2e: shared with the registry); default a fresh one, removed by close(). */
  ca?: Ca;
  /** Tenants the token endpoint knows (default [TENANT]). */
  tenants?: string[];
  /** Hosts answered as Entra ID, besides ENTRA_HOSTS (custom authorities). */
  extraAuthorities?: string[];
  clients?: Record<string, FakeClient>;
  registries?: Record<string, FakeRegistry>;
  /** IMDS: whether a system-assigned identity exists, and the user-assigned client ids. */
  imds?: { systemAssigned?: boolean; clientIds?: string[] };
  /** App Service: the X-IDENTITY-HEADER value it requires. */
  appService?: { header: string; clientIds?: string[] };
  /** Lifetime of minted refresh tokens, seconds (default 3 h). */
  refreshLifetimeS?: number;
}

export interface FakeAzure {
  proxy: MitmProxy;
  /** http://127.0.0.1:P — for AZURE_POD_IDENTITY_AUTHORITY_HOST. */
  metadataUrl: string;
  /** For IDENTITY_ENDPOINT (App Service). */
  appServiceEndpoint: string;
  calls: Call[];
  unexpected: Call[];
  /** Claims of every access token the fake issued or registered, by token. */
  tokens: Map<string, Record<string, unknown>>;
  /** Registry access tokens issued by /oauth2/token: the identity, the repository and whether it may pull. */
  registryTokens: Map<string, { host: string; who: string; repo?: string; pull: boolean }>;
  /**
   * Registers and returns an access token as if Entra had issued it (for a fake `az`). Like Entra's,
   * its claims say who it is (the "who am I" the verbs read): tid, oid (a stable object id per
   * identity, see objectIdOf), appid for applications and managed identities, upn for users, idtyp.
   */
  mintAccessToken(claims: MintClaims): string;
  /** The env a child needs to reach the fake (proxy, CA, IMDS). */
  env(): Record<string, string>;
  close(): Promise<void>;
}

export interface MintClaims {
  aud: string;
  tid?: string;
  src: string;
  appid?: string;
  /** A user's sign-in name (makes it a user token, idtyp "user"). */
  upn?: string;
  oid?: string;
}

/** The object id the fake gives an identity: stable per (source, app id, user), UUID-shaped. */
export const objectIdOf = (c: Pick<MintClaims, "src" | "appid" | "upn">): string => {
  const h = createHash("sha256")
    .update(`${c.src}|${c.appid ?? ""}|${c.upn ?? ""}`)
    .digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
};

const b64url = (s: string | Buffer): string => Buffer.from(s).toString("base64url");

/** An unsigned JWT-shaped token (the fake's access tokens; tests decode it to see who asked). */
export const fakeJwt = (claims: Record<string, unknown>): string =>
  `${b64url(JSON.stringify({ alg: "none" }))}.${b64url(JSON.stringify(claims))}.`;

/** Decodes a JWT payload without verifying it; null when it is not JWT-shaped. */
export const jwtClaims = (token: string): Record<string, unknown> | null => {
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    return JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as Record<string, unknown>;
  } catch {
    return null;
  }
};

/**
 * An ACR-style refresh token. The random `jti` comes first so two tokens differ within their first
 * 72 bytes (htpasswd's bcrypt ignores the rest); `src` names the identity that obtained it.
 */
export const makeRefreshToken = (claims: { exp: number; src?: string; aud?: string; tid?: string }): string =>
  fakeJwt({ jti: randomBytes(12).toString("hex"), ...claims });

const readBody = async (req: IncomingMessage): Promise<string> => {
  let body = "";
  for await (const chunk of req) body += chunk;
  return body;
};

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
  res.end(JSON.stringify(body));
};

const oauthError = (res: ServerResponse, status: number, error: string, description: string) =>
  json(res, status, { error, error_description: description, error_codes: [0], correlation_id: "fake" });

const flatHeaders = (req: IncomingMessage): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) out[k] = Array.isArray(v) ? v.join(", ") : (v ?? "");
  return out;
};

/** Verifies a certificate-signed client assertion (RS256 or PS256); returns its claims or an error. */
const verifyAssertion = (assertion: string, certPem: string): Record<string, unknown> | string => {
  const [h, p, s] = assertion.split(".");
  if (!h || !p || !s) return "client_assertion is not a JWT";
  const header = JSON.parse(Buffer.from(h, "base64url").toString("utf8")) as { alg?: string };
  const key = createPublicKey(certPem);
  const data = Buffer.from(`${h}.${p}`);
  const sig = Buffer.from(s, "base64url");
  const ok =
    header.alg === "RS256"
      ? verify("sha256", data, key, sig)
      : header.alg === "PS256"
        ? verify(
            "sha256",
            data,
            { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST },
            sig,
          )
        : false;
  if (!ok) return `bad client_assertion signature (alg ${header.alg})`;
  return JSON.parse(Buffer.from(p, "base64url").toString("utf8")) as Record<string, unknown>;
};

export async function startFakeAzure(opts: FakeAzureOptions): Promise<FakeAzure> {
  const tenants = opts.tenants ?? [TENANT];
  const entraHosts = new Set([...ENTRA_HOSTS, ...(opts.extraAuthorities ?? [])]);
  const clients = opts.clients ?? {};
  const registries = opts.registries ?? {};
  const calls: Call[] = [];
  const unexpected: Call[] = [];
  const tokens = new Map<string, Record<string, unknown>>();
  // Refresh tokens minted by the exchange: for which registry, and which identity (app id or source).
  const refreshTokens = new Map<string, { host: string; who: string }>();
  const registryTokens: FakeAzure["registryTokens"] = new Map();
  const now = () => Math.floor(Date.now() / 1000);
  const caDir = opts.ca ? undefined : await mkdtemp(join(tmpdir(), "dcc-fake-azure-"));
  const ca = opts.ca ?? (await makeCa(caDir as string));
  const removeCaDir = async () => {
    if (caDir) await rm(caDir, { recursive: true, force: true });
  };

  const mintAccessToken = (claims: MintClaims): string => {
    const full = {
      ...claims,
      tid: claims.tid ?? TENANT,
      oid: claims.oid ?? objectIdOf(claims),
      idtyp: claims.upn ? "user" : "app",
      iat: now(),
      exp: now() + 3600,
      n: randomBytes(4).toString("hex"),
    };
    const token = fakeJwt(full);
    tokens.set(token, full);
    return token;
  };

  const record = async (req: IncomingMessage, host: string, kind: Call["kind"]): Promise<Call> => {
    const url = new URL(req.url ?? "/", "http://x");
    const body = await readBody(req);
    const ctype = req.headers["content-type"] ?? "";
    const form = ctype.startsWith("application/x-www-form-urlencoded")
      ? Object.fromEntries(new URLSearchParams(body))
      : {};
    const call: Call = {
      kind,
      host,
      method: req.method ?? "",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: flatHeaders(req),
      form,
      status: 0,
    };
    calls.push(call);
    return call;
  };

  const answer = (call: Call, res: ServerResponse) => {
    const writeHead = res.writeHead.bind(res);
    res.writeHead = ((status: number, ...rest: unknown[]) => {
      call.status = status;
      return (writeHead as (...a: unknown[]) => ServerResponse)(status, ...rest);
    }) as typeof res.writeHead;
  };

  const notRouted = (call: Call, res: ServerResponse) => {
    unexpected.push(call);
    json(res, 400, {
      error: "invalid_request",
      error_description: `fake azure: no route for ${call.method} ${call.path}`,
    });
  };

  // ---- Entra ID --------------------------------------------------------------------------------
  const entra = (call: Call, res: ServerResponse, host: string) => {
    const m = /^\/([^/]+)\/(v2\.0\/\.well-known\/openid-configuration|oauth2\/v2\.0\/token)$/.exec(call.path);
    if (call.method === "GET" && call.path === "/common/discovery/instance") {
      json(res, 200, {
        tenant_discovery_endpoint: `https://${host}/${TENANT}/v2.0/.well-known/openid-configuration`,
        "api-version": "1.1",
        metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
      });
      return;
    }
    if (!m) return notRouted(call, res);
    const [, tenant = "", what] = m;
    if (!tenants.includes(tenant)) {
      return oauthError(res, 400, "invalid_request", `AADSTS90002: Tenant '${tenant}' not found.`);
    }
    const base = `https://${host}/${tenant}`;
    if (call.method === "GET" && what?.startsWith("v2.0")) {
      json(res, 200, {
        authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        token_endpoint: `${base}/oauth2/v2.0/token`,
        issuer: `${base}/v2.0`,
        jwks_uri: `${base}/discovery/v2.0/keys`,
      });
      return;
    }
    if (call.method !== "POST" || !what?.startsWith("oauth2")) return notRouted(call, res);
    const f = call.form;
    if (f.grant_type !== "client_credentials") {
      return oauthError(res, 400, "unsupported_grant_type", `AADSTS70003: grant_type ${f.grant_type} not supported`);
    }
    const scope = f.scope ?? "";
    if (!/^\S+\/\.default$/.test(scope)) {
      return oauthError(
        res,
        400,
        "invalid_scope",
        `AADSTS1002012: The provided value for scope ${scope} is not valid.`,
      );
    }
    const client = clients[f.client_id ?? ""];
    if (!client) {
      return oauthError(res, 400, "unauthorized_client", `AADSTS700016: Application '${f.client_id}' was not found.`);
    }
    let src: string | undefined;
    if (f.client_secret !== undefined) {
      if (client.secret === undefined || f.client_secret !== client.secret) {
        return oauthError(res, 401, "invalid_client", "AADSTS7000215: Invalid client secret provided.");
      }
      src = "secret";
    } else if (f.client_assertion_type === "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") {
      const assertion = f.client_assertion ?? "";
      if (client.federatedTokens?.includes(assertion)) {
        src = "federated";
      } else if (client.certPem) {
        const claims = verifyAssertion(assertion, client.certPem);
        if (typeof claims === "string") return oauthError(res, 401, "invalid_client", `AADSTS700027: ${claims}`);
        if (claims.iss !== f.client_id || claims.sub !== f.client_id || claims.aud !== `${base}/oauth2/v2.0/token`) {
          return oauthError(res, 401, "invalid_client", "AADSTS700027: client assertion has wrong iss/sub/aud");
        }
        if (typeof claims.exp !== "number" || claims.exp < now()) {
          return oauthError(res, 401, "invalid_client", "AADSTS700027: client assertion expired");
        }
        src = "certificate";
      } else {
        return oauthError(res, 401, "invalid_client", "AADSTS700213: No matching federated identity record found.");
      }
    } else {
      return oauthError(res, 401, "invalid_client", "AADSTS7000218: client_assertion or client_secret required.");
    }
    const aud = scope.slice(0, -"/.default".length);
    const access = mintAccessToken({ aud, tid: tenant, src, appid: f.client_id ?? "" });
    json(res, 200, { token_type: "Bearer", expires_in: 3599, ext_expires_in: 3599, access_token: access });
  };

  // ---- ACR -----------------------------------------------------------------------------------------
  const registry = (call: Call, res: ServerResponse, host: string) => {
    const reg = registries[host];
    if (!reg) return notRouted(call, res);
    const challenge = (scope?: string) =>
      `Bearer realm="https://${host}/oauth2/token",service="${host}"${scope ? `,scope="${scope}"` : ""}`;
    const bearer = /^Bearer (.+)$/.exec(call.headers.authorization ?? "")?.[1];
    const access = bearer ? registryTokens.get(bearer) : undefined;
    if (call.method === "GET" && call.path === "/v2/") {
      if (access?.host === host) return json(res, 200, {});
      res.writeHead(401, { "content-type": "application/json", "www-authenticate": challenge() });
      res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }));
      return;
    }
    if (call.path === "/oauth2/token" && (call.method === "GET" || call.method === "POST")) {
      return registryToken(call, res, host, reg);
    }
    const manifest = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(call.path);
    if (manifest && reg.repos && (call.method === "GET" || call.method === "HEAD")) {
      const [, repo = "", ref = ""] = manifest;
      const scope = `repository:${repo}:pull`;
      // Like ACR: a token without pull rights on this repository is "authentication required".
      if (!access || access.host !== host || access.repo !== repo || !access.pull) {
        res.writeHead(401, { "content-type": "application/json", "www-authenticate": challenge(scope) });
        res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: ACR_UNAUTHORIZED }] }));
        return;
      }
      const tags = reg.repos[repo];
      if (!tags) {
        return json(res, 404, {
          errors: [{ code: "NAME_UNKNOWN", message: `repository name not known to registry`, detail: { name: repo } }],
        });
      }
      if (!tags.includes(ref)) {
        return json(res, 404, {
          errors: [{ code: "MANIFEST_UNKNOWN", message: `manifest tagged by "${ref}" is not found` }],
        });
      }
      res.writeHead(200, {
        "content-type": "application/vnd.oci.image.manifest.v1+json",
        "docker-content-digest": `sha256:${createHash("sha256").update(`${repo}:${ref}`).digest("hex")}`,
      });
      res.end(call.method === "HEAD" ? undefined : JSON.stringify({ schemaVersion: 2 }));
      return;
    }
    if (call.method !== "POST" || call.path !== "/oauth2/exchange") return notRouted(call, res);
    if (reg.stall) return;
    if (reg.redirectTo) {
      res.writeHead(307, { location: `https://${reg.redirectTo}/oauth2/exchange` });
      res.end();
      return;
    }
    const acrError = (status: number, message: string) =>
      json(res, status, { errors: [{ code: status === 403 ? "DENIED" : "UNAUTHORIZED", message }] });
    if (!(call.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")) {
      return acrError(400, "expected a form body");
    }
    const f = call.form;
    if (f.grant_type !== "access_token") return acrError(400, `unsupported grant_type ${f.grant_type}`);
    if (f.service !== host) return acrError(400, `service ${f.service} is not ${host}`);
    const claims = tokens.get(f.access_token ?? "");
    if (!claims) return acrError(401, "the access token was not issued by Entra ID");
    const audiences = reg.audiences ?? [ACR_AUDIENCE, ARM_AUDIENCE];
    if (!audiences.includes(String(claims.aud))) return acrError(401, `audience ${claims.aud} is not accepted`);
    if (f.tenant !== undefined && f.tenant !== claims.tid) return acrError(401, `tenant ${f.tenant} does not match`);
    if (reg.deny) return acrError(reg.deny, "client does not have permission to pull from this registry");
    const refresh =
      reg.refreshToken ??
      makeRefreshToken({
        exp: now() + (opts.refreshLifetimeS ?? 3 * 3600),
        src: String(claims.src),
        aud: host,
        tid: String(claims.tid),
      });
    refreshTokens.set(refresh, { host, who: String(claims.appid || claims.src) });
    json(res, 200, { refresh_token: refresh });
  };

  // ACR's token endpoint: a refresh token (from /oauth2/exchange) for an access token scoped to a
  // repository. GET with Basic 00000000-0000-0000-0000-000000000000:<refresh token> (what Docker
  // sends), or POST grant_type=refresh_token; service must be the registry, scope
  // repository:<name>:<actions>. The access token carries pull rights only for an AcrPull holder.
  const registryToken = (call: Call, res: ServerResponse, host: string, reg: FakeRegistry) => {
    const unauthorized = (message: string) => json(res, 401, { errors: [{ code: "UNAUTHORIZED", message }] });
    let refresh: string | undefined;
    let params: Record<string, string>;
    if (call.method === "GET") {
      params = call.query;
      const basic = /^Basic (.+)$/.exec(call.headers.authorization ?? "")?.[1];
      if (!basic) return unauthorized(ACR_UNAUTHORIZED);
      const decoded = Buffer.from(basic, "base64").toString("utf8");
      const i = decoded.indexOf(":");
      if (decoded.slice(0, i) !== ACR_USER) return unauthorized(`user name must be ${ACR_USER} for a refresh token`);
      refresh = decoded.slice(i + 1);
    } else {
      params = call.form;
      if (params.grant_type !== "refresh_token") {
        return json(res, 400, { errors: [{ code: "UNSUPPORTED", message: `grant_type ${params.grant_type}` }] });
      }
      refresh = params.refresh_token;
    }
    if (params.service !== host) {
      return json(res, 400, { errors: [{ code: "UNSUPPORTED", message: `service ${params.service} is not ${host}` }] });
    }
    const scope = params.scope;
    const m = scope ? /^repository:([a-z0-9._/-]+):([a-z*,]+)$/.exec(scope) : null;
    if (scope && !m) return json(res, 400, { errors: [{ code: "UNSUPPORTED", message: `bad scope ${scope}` }] });
    const who = refreshTokens.get(refresh ?? "");
    if (!who || who.host !== host) return unauthorized(ACR_UNAUTHORIZED);
    const pull =
      (reg.pullers === undefined || reg.pullers.includes(who.who)) && Boolean(m?.[2]?.split(",").includes("pull"));
    const token = fakeJwt({ iss: "Azure Container Registry", aud: host, n: randomBytes(6).toString("hex") });
    registryTokens.set(token, { host, who: who.who, ...(m?.[1] ? { repo: m[1] } : {}), pull });
    json(res, 200, { access_token: token });
  };

  // ---- Managed identity (plain http) -----------------------------------------------------------------
  const miAnswer = (res: ServerResponse, resource: string, src: string, clientId: string | undefined) => {
    const token = mintAccessToken({ aud: resource, src, ...(clientId ? { appid: clientId } : {}) });
    json(res, 200, {
      access_token: token,
      client_id: clientId ?? "system-assigned",
      expires_in: "3599",
      expires_on: String(now() + 3599),
      ext_expires_in: "3599",
      not_before: String(now()),
      resource,
      token_type: "Bearer",
    });
  };

  const metadata = (call: Call, res: ServerResponse) => {
    const q = call.query;
    // IMDS. MSAL requests the token path with a trailing slash when AZURE_POD_IDENTITY_AUTHORITY_HOST is set.
    if (call.path === "/metadata/identity/oauth2/token/" && call.method === "GET") {
      if (call.headers.metadata !== "true") {
        return oauthError(res, 400, "invalid_request", "Required metadata header not specified");
      }
      if (q["api-version"] !== "2018-02-01" || !q.resource) {
        return oauthError(res, 400, "invalid_request", "api-version and resource are required");
      }
      const id = q.client_id;
      const known = id ? (opts.imds?.clientIds ?? []).includes(id) : opts.imds?.systemAssigned === true;
      if (!known) return oauthError(res, 400, "invalid_request", "Identity not found");
      return miAnswer(res, q.resource, id ? "imds-user" : "imds", id);
    }
    if (call.path === "/msi/token" && call.method === "GET" && opts.appService) {
      if (call.headers["x-identity-header"] !== opts.appService.header) {
        return json(res, 401, { statusCode: 401, message: "X-IDENTITY-HEADER missing or wrong" });
      }
      if (q["api-version"] !== "2019-08-01" || !q.resource) {
        return json(res, 400, { statusCode: 400, message: "api-version and resource are required" });
      }
      const id = q.client_id;
      if (id && !(opts.appService.clientIds ?? []).includes(id)) {
        return json(res, 400, { statusCode: 400, message: "Identity not found" });
      }
      return miAnswer(res, q.resource, "appservice", id);
    }
    return notRouted(call, res);
  };

  const dispatch = async (req: IncomingMessage, res: ServerResponse, host: string) => {
    const kind: Call["kind"] = entraHosts.has(host) ? "entra" : registries[host] ? "registry" : "other";
    const call = await record(req, host, kind);
    answer(call, res);
    if (kind === "entra") return entra(call, res, host);
    if (kind === "registry") return registry(call, res, host);
    return notRouted(call, res);
  };

  let proxy: MitmProxy;
  try {
    proxy = await startMitmProxy({ ca, handler: dispatch });
  } catch (e) {
    await removeCaDir();
    throw e;
  }

  const sockets = new Set<Socket>();
  const meta = createServer((req, res) => {
    record(req, "127.0.0.1", "metadata").then((call) => {
      answer(call, res);
      metadata(call, res);
    });
  });
  meta.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      meta.once("error", reject);
      meta.listen(0, "127.0.0.1", () => resolve());
    });
  } catch (e) {
    await proxy.close();
    await removeCaDir();
    throw e;
  }
  const metadataUrl = `http://127.0.0.1:${(meta.address() as AddressInfo).port}`;

  return {
    proxy,
    metadataUrl,
    appServiceEndpoint: `${metadataUrl}/msi/token`,
    calls,
    unexpected,
    tokens,
    registryTokens,
    mintAccessToken,
    env: () => ({
      HTTPS_PROXY: proxy.url,
      NO_PROXY: "127.0.0.1,localhost",
      NODE_EXTRA_CA_CERTS: ca.certFile,
      AZURE_POD_IDENTITY_AUTHORITY_HOST: metadataUrl,
    }),
    close: async () => {
      await proxy.close();
      await new Promise<void>((resolve) => {
        meta.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      await removeCaDir();
    },
  };
}

/**
 * A fresh HOME (so a fresh cache; removed after test `t`) with a fake `az` first on PATH, and the
 * env the built CLI runs with there: baseEnv, then fake.env(), then `extra`. `config`, when given,
 * is written to HOME/config.json and named by DOCKER_CREDENTIAL_CLOUD_CONFIG.
 */
export async function fakeAzureHome(
  fake: FakeAzure,
  t: Parameters<typeof tmpTree>[0],
  extra: Record<string, string>,
  opts: { az?: "ok" | "login"; token?: string; config?: unknown } = {},
): Promise<{ home: string; env: Record<string, string>; azLog: string }> {
  const home = await tmpTree(t);
  const bin = join(home, "bin");
  await mkdir(bin);
  const azLog = join(home, "az.log");
  await writeFakeAz(bin, { logFile: azLog, mode: opts.az ?? "login", token: opts.token });
  const env: Record<string, string> = {
    ...baseEnv(home),
    ...fake.env(),
    PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    ...extra,
  };
  if (opts.config !== undefined) {
    const file = join(home, "config.json");
    await writeFile(file, JSON.stringify(opts.config));
    env.DOCKER_CREDENTIAL_CLOUD_CONFIG = file;
  }
  return { home, env, azLog };
}

/**
 * Writes an executable fake `az` into `dir`. Each run appends its argv to `logFile` (one argument
 * per line, then "--"). mode "ok" prints what `az account get-access-token --output json` prints
 * with `token`; "login" fails like a CLI that is installed but logged out.
 */
export async function writeFakeAz(
  dir: string,
  opts: { logFile: string; mode: "ok" | "login"; token?: string; tenant?: string },
): Promise<string> {
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const answer =
    opts.mode === "ok"
      ? `printf '%s\\n' ${q(
          JSON.stringify({
            accessToken: opts.token ?? "",
            expiresOn: new Date(exp * 1000).toISOString().replace("T", " ").replace("Z", "000"),
            expires_on: exp,
            subscription: "00000000-1111-2222-3333-444444444444",
            tenant: opts.tenant ?? TENANT,
            tokenType: "Bearer",
          }),
        )}`
      : `echo "ERROR: Please run 'az login' to setup account." >&2; exit 1`;
  const file = join(dir, "az");
  await writeFile(
    file,
    [
      "#!/bin/sh",
      "# test-only fake Azure CLI",
      `{ for a in "$@"; do printf '%s\\n' "$a"; done; printf -- '--\\n'; } >> ${q(opts.logFile)}`,
      answer,
      "",
    ].join("\n"),
  );
  await chmod(file, 0o755);
  return file;
}

/** The argv of each fake `az` run recorded in `logFile`. */
export async function fakeAzRuns(logFile: string): Promise<string[][]> {
  let text = "";
  try {
    text = await readFile(logFile, "utf8");
  } catch {
    return [];
  }
  const runs: string[][] = [];
  let cur: string[] = [];
  for (const line of text.split("\n")) {
    if (line === "--") {
      runs.push(cur);
      cur = [];
    } else if (line !== "") cur.push(line);
  }
  return runs;
}
