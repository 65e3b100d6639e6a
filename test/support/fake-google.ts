// A fake Google that checks what it receives, for the real google-auth-library in the built CLI.
//
// Two listeners on 127.0.0.1:
//   - `http`: the GCE metadata server (requires `Metadata-Flavor: Google` and sends it back), a
//     subject-token URL for url-sourced external accounts, and the AWS EC2 metadata routes an
//     aws-sourced external account calls;
//   - a CONNECT MITM proxy (support/mitm.ts) so the library keeps its real, hard-coded host names:
//       oauth2.googleapis.com        POST /token   jwt-bearer (RS256 assertion verified against the
//                                                  test key's public key) and refresh_token grants
//       sts.googleapis.com           POST /v1/token token exchange (file/url/executable subject
//                                                  tokens compared, AWS GetCallerIdentity SigV4 verified)
//       iamcredentials.googleapis.com POST /v1/projects/-/serviceAccounts/<e>:generateAccessToken
//                                                  (Bearer must be a token this fake issued to a
//                                                  principal allowed to impersonate <e>)
//       oauth2.googleapis.com        POST /tokeninfo  "who am I" for an access token (Bearer header or
//                                                  form field, never the URL): like Google, the
//                                                  e-mail only for user tokens (their grant carries
//                                                  the userinfo.email scope), azp/aud for others
//       <location>-docker.pkg.dev, gcr.io… the registry (when `registry` is set): GET /v2/ (a Bearer
//                                                  challenge), GET /v2/token (Basic oauth2accesstoken:<access
//                                                  token> for a registry token), manifests; the denial is
//                                                  Artifact Registry's 403 DENIED "Permission … denied on resource"
// Children reach the proxy with `env()`: HTTPS_PROXY, NO_PROXY=127.0.0.1,localhost and
// NODE_EXTRA_CA_CERTS=<test CA>. Every issued access token is recorded with the principal it
// stands for, so a test can tell which identity the CLI actually used.
import { createHash, createHmac, generateKeyPairSync, randomBytes, verify as verifySignature } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type MitmProxy, startMitmProxy } from "./mitm.ts";
import { type Ca, makeCa } from "./tls.ts";

export const SCOPE = "https://www.googleapis.com/auth/cloud-platform";
export const OAUTH_TOKEN_AUD = "https://oauth2.googleapis.com/token";
const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
export const JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt";
export const AWS_TOKEN_TYPE = "urn:ietf:params:aws:token-type:aws4_request";

export interface Seen {
  host: string;
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
}

export interface Issued {
  /** "serviceAccount:<email>", "user:<client_id>", "federated:<audience>#<subject>", "metadata:default". */
  principal: string;
  via: "jwt-bearer" | "refresh_token" | "sts" | "impersonation" | "metadata";
  expiresAt: number;
}

export interface StsTrust {
  audience: string;
  /** For jwt/id_token subject tokens: the exact token the provider accepts. */
  subjectToken?: string;
  /** For AWS: the key pair whose SigV4 signature over GetCallerIdentity must verify. */
  aws?: { accessKeyId: string; secretAccessKey: string; region: string; sessionToken?: string };
  subject: string;
}

/** An Artifact Registry repository (projects/<project>/locations/<location>/repositories/<name>). */
export interface FakeGarRepo {
  /** Images in it (path below the repository) with their tags. */
  images: Record<string, string[]>;
  /** Principals with roles/artifactregistry.reader on it ("serviceAccount:<email>", "user:<e-mail>"). */
  readers: string[];
}

export interface FakeGarRegistry {
  /** Repositories by "<project>/<repository>"; the location is the host's. */
  repos: Record<string, FakeGarRepo>;
  /** Where a principal without the reader role is refused: the manifest (default) or the token endpoint. */
  denyAt?: "manifest" | "token";
}

/** Artifact Registry's words for a principal without roles/artifactregistry.reader. */
export const garDenied = (project: string, location: string, repo: string) =>
  `Permission "artifactregistry.repositories.downloadArtifacts" denied on resource "projects/${project}/locations/${location}/repositories/${repo}" (or it may not exist)`;

/** The Artifact Registry location a registry host stands for (gcr.io hosts are multi-regions). */
export const garLocation = (host: string): string => {
  const m = /^(.+)-docker\.pkg\.dev$/.exec(host);
  if (m?.[1]) return m[1];
  return host === "eu.gcr.io" ? "europe" : host === "asia.gcr.io" ? "asia" : "us";
};

export interface FakeGoogle {
  ca: Ca;
  proxy: MitmProxy;
  /** host:port of the plain-http listener (GCE_METADATA_HOST). */
  metadataHost: string;
  /** http://127.0.0.1:P, the plain listener's URL. */
  httpUrl: string;
  /** Everything received, in order. */
  seen: Seen[];
  /** Access tokens issued by any endpoint. */
  issued: Map<string, Issued>;
  /** Failures of the checks (bad signatures, wrong forms); a passing test expects none. */
  rejections: string[];
  /** The env a child needs to reach the proxied endpoints. */
  env(): Record<string, string>;
  /** Registers a service account and returns its key file JSON (a fresh RSA key per call). */
  serviceAccountKey(email: string, opts?: { register?: boolean }): Record<string, string>;
  /** Registers an authorized_user refresh token; returns the ADC JSON gcloud would write. */
  userCredentials(account: string): Record<string, string>;
  trustSts(t: StsTrust): void;
  /** Lets `principal` impersonate `target` via generateAccessToken. */
  allowImpersonation(principal: string, target: string): void;
  /** Requests on oauth2/sts/iamcredentials hang without an answer while true. */
  hang: boolean;
  /**
   * While true, requests on oauth2/sts/iamcredentials get a 200 status and headers and the start
   * of a JSON body, then nothing more (a client's timeout must fire while it reads the body).
   */
  stallBody: boolean;
  /** Whether the metadata server answers at all (false: 404 without the flavor header, like a non-GCE host). */
  metadataEnabled: boolean;
  /** False: the token route 404s (an instance without a service account). */
  metadataHasServiceAccount: boolean;
  /** Lifetime of issued tokens. */
  ttlSeconds: number;
  /** Tokens to hand out next, in order, before random ones (e2e: a registry password known up front). */
  nextTokens: string[];
  /** AWS instance credentials served by the EC2 metadata routes (aws-sourced external accounts). */
  awsInstance: NonNullable<StsTrust["aws"]> | undefined;
  /** The subject token served at /subject-token as {"id_token": …} (url-sourced external accounts). */
  urlSubjectToken: string;
  /** The registry served on Google registry hosts (explain's probe); unset: those hosts are not served. */
  registry: FakeGarRegistry | undefined;
  /** Registry tokens /v2/token issued: the principal and the repository they are for. */
  registryTokens: Map<string, { host: string; principal: string; scope: string; pull: boolean }>;
  /** The principal of each token tokeninfo was asked about, in order. */
  tokenInfoCalls: string[];
  /** Principal of a token the CLI printed; throws when the fake never issued it. */
  principalOf(token: string): string;
  reset(): void;
  count(host: string, path?: string): number;
  /** A directory holding a `gcloud` that records its invocation; put it first on PATH. */
  gcloudTrapDir: string;
  gcloudCalls(): Promise<string>;
  close(): Promise<void>;
}

const b64urlJson = (s: string): Record<string, unknown> => JSON.parse(Buffer.from(s, "base64url").toString("utf8"));

const readBody = async (req: IncomingMessage): Promise<string> => {
  let body = "";
  for await (const chunk of req) body += chunk;
  return body;
};

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
};

const oauthError = (res: ServerResponse, status: number, error: string, description: string) =>
  json(res, status, { error, error_description: description });

const googleApiError = (res: ServerResponse, status: number, statusText: string, message: string) =>
  json(res, status, { error: { code: status, message, status: statusText } });

const sha256hex = (s: string) => createHash("sha256").update(s).digest("hex");
const hmac = (key: Buffer | string, s: string) => createHmac("sha256", key).update(s).digest();

/** Verifies the SigV4 signature of a serialized GetCallerIdentity request (GCP's AWS subject token). */
export const verifyAwsSubjectToken = (
  subjectToken: string,
  trust: NonNullable<StsTrust["aws"]>,
  audience: string,
): string | null => {
  let req: { url: string; method: string; headers: { key: string; value: string }[] };
  try {
    req = JSON.parse(decodeURIComponent(subjectToken));
  } catch {
    return "subject token is not URL-encoded JSON";
  }
  const headers = new Map(req.headers.map((h) => [h.key.toLowerCase(), h.value]));
  const url = new URL(req.url);
  if (url.host !== `sts.${trust.region}.amazonaws.com`) return `unexpected STS host ${url.host}`;
  if (url.search !== "?Action=GetCallerIdentity&Version=2011-06-15") return `unexpected query ${url.search}`;
  if (req.method !== "POST") return `unexpected method ${req.method}`;
  if (headers.get("x-goog-cloud-target-resource") !== audience)
    return "x-goog-cloud-target-resource is not the audience";
  if (trust.sessionToken !== undefined && headers.get("x-amz-security-token") !== trust.sessionToken) {
    return "x-amz-security-token missing or wrong";
  }
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/sts\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
      headers.get("authorization") ?? "",
    );
  if (!m) return "malformed Authorization header";
  const [, akid, date, region, signed = "", signature] = m;
  if (akid !== trust.accessKeyId) return `unknown access key ${akid}`;
  if (region !== trust.region) return `credential scope region ${region}`;
  const amzDate = headers.get("x-amz-date") ?? "";
  if (!amzDate.startsWith(date ?? "-")) return "x-amz-date does not match the credential scope";
  const names = signed.split(";");
  if (!names.includes("host") || !names.includes("x-amz-date")) return "host and x-amz-date must be signed";
  const canonical = [
    "POST",
    url.pathname,
    url.search.slice(1),
    `${names.map((n) => `${n}:${headers.get(n) ?? ""}`).join("\n")}\n`,
    signed,
    sha256hex(""),
  ].join("\n");
  const scope = `${date}/${region}/sts/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256hex(canonical)].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${trust.secretAccessKey}`, date ?? ""), region ?? ""), "sts"), "aws4_request");
  return hmac(key, toSign).toString("hex") === signature ? null : "SigV4 signature does not verify";
};

export const startFakeGoogle = async (): Promise<FakeGoogle> => {
  const dir = await mkdtemp(join(tmpdir(), "dcc-fake-google-"));
  const ca = await makeCa(dir);
  const seen: Seen[] = [];
  const issued = new Map<string, Issued>();
  const rejections: string[] = [];
  const keys = new Map<string, string>(); // client_email → public key PEM
  const users = new Map<string, { client_id: string; client_secret: string; account: string }>();
  const sts: StsTrust[] = [];
  const impersonation = new Map<string, Set<string>>(); // target → principals
  const gcloudTrapDir = join(dir, "trap-bin");
  const gcloudLog = join(dir, "gcloud-calls.log");
  await mkdir(gcloudTrapDir);
  await writeFile(join(gcloudTrapDir, "gcloud"), `#!/bin/sh\necho "gcloud $*" >> '${gcloudLog}'\nexit 1\n`);
  await chmod(join(gcloudTrapDir, "gcloud"), 0o755);

  const issue = (principal: string, via: Issued["via"]): { token: string; expiresIn: number } => {
    const token = fake.nextTokens.shift() ?? `ya29.fake-${randomBytes(18).toString("base64url")}`;
    issued.set(token, { principal, via, expiresAt: Date.now() + fake.ttlSeconds * 1000 });
    return { token, expiresIn: fake.ttlSeconds };
  };
  const reject = (why: string) => {
    rejections.push(why);
  };

  // -- oauth2.googleapis.com/token ------------------------------------------------------------
  const jwtBearer = (res: ServerResponse, form: URLSearchParams) => {
    const parts = (form.get("assertion") ?? "").split(".");
    if (parts.length !== 3) return oauthError(res, 400, "invalid_request", "assertion is not a JWS");
    const [h = "", p = "", s = ""] = parts;
    let header: Record<string, unknown>;
    let claims: Record<string, unknown>;
    try {
      header = b64urlJson(h);
      claims = b64urlJson(p);
    } catch {
      return oauthError(res, 400, "invalid_request", "assertion is not base64url JSON");
    }
    if (header.alg !== "RS256") {
      reject(`alg ${String(header.alg)}`);
      return oauthError(res, 400, "invalid_grant", "Invalid JWT: alg must be RS256");
    }
    const email = String(claims.iss ?? "");
    const pem = keys.get(email);
    if (!pem || !verifySignature("RSA-SHA256", Buffer.from(`${h}.${p}`), pem, Buffer.from(s, "base64url"))) {
      reject(`bad signature for ${email}`);
      return oauthError(res, 400, "invalid_grant", "Invalid JWT Signature.");
    }
    const now = Math.floor(Date.now() / 1000);
    const iat = Number(claims.iat);
    const exp = Number(claims.exp);
    const problems = [
      claims.aud !== OAUTH_TOKEN_AUD && `aud ${String(claims.aud)}`,
      claims.scope !== SCOPE && `scope ${String(claims.scope)}`,
      !(Math.abs(iat - now) < 300) && "iat is not now",
      !(exp > iat && exp - iat <= 3600) && "exp must be within an hour of iat",
    ].filter(Boolean);
    if (problems.length > 0) {
      reject(`jwt claims: ${problems.join(", ")}`);
      return oauthError(res, 400, "invalid_grant", `Invalid JWT: ${problems.join(", ")}`);
    }
    const { token, expiresIn } = issue(`serviceAccount:${email}`, "jwt-bearer");
    return json(res, 200, { access_token: token, expires_in: expiresIn, token_type: "Bearer" });
  };

  const refresh = (res: ServerResponse, form: URLSearchParams) => {
    const user = users.get(form.get("refresh_token") ?? "");
    if (!user) return oauthError(res, 400, "invalid_grant", "Token has been expired or revoked.");
    if (form.get("client_id") !== user.client_id || form.get("client_secret") !== user.client_secret) {
      reject("refresh with the wrong client");
      return oauthError(res, 401, "invalid_client", "Unauthorized");
    }
    const { token, expiresIn } = issue(`user:${user.account}`, "refresh_token");
    return json(res, 200, { access_token: token, expires_in: expiresIn, scope: SCOPE, token_type: "Bearer" });
  };

  // -- sts.googleapis.com/v1/token ------------------------------------------------------------
  const exchange = (res: ServerResponse, req: IncomingMessage, form: URLSearchParams) => {
    if (!String(req.headers["content-type"]).startsWith("application/x-www-form-urlencoded")) {
      reject(`sts content-type ${req.headers["content-type"]}`);
    }
    const want: Record<string, string> = {
      grant_type: TOKEN_EXCHANGE,
      requested_token_type: ACCESS_TOKEN_TYPE,
      scope: SCOPE,
    };
    for (const [k, v] of Object.entries(want)) {
      if (form.get(k) !== v) {
        reject(`sts ${k}=${form.get(k)}`);
        return oauthError(res, 400, "invalid_request", `${k} is invalid`);
      }
    }
    const audience = form.get("audience") ?? "";
    const subjectToken = form.get("subject_token") ?? "";
    const type = form.get("subject_token_type") ?? "";
    const trust = sts.filter((t) => t.audience === audience);
    if (trust.length === 0)
      return oauthError(
        res,
        400,
        "invalid_target",
        'The target service indicated by the "audience" parameters is invalid.',
      );
    for (const t of trust) {
      if (t.aws) {
        if (type !== AWS_TOKEN_TYPE) continue;
        const why = verifyAwsSubjectToken(subjectToken, t.aws, audience);
        if (why) {
          reject(`aws subject token: ${why}`);
          continue;
        }
      } else if (type !== JWT_TOKEN_TYPE && type !== "urn:ietf:params:oauth:token-type:id_token") {
        continue;
      } else if (subjectToken !== t.subjectToken) {
        continue;
      }
      const { token, expiresIn } = issue(`federated:${audience}#${t.subject}`, "sts");
      return json(res, 200, {
        access_token: token,
        issued_token_type: ACCESS_TOKEN_TYPE,
        token_type: "Bearer",
        expires_in: expiresIn,
      });
    }
    return oauthError(res, 400, "invalid_grant", "The audience in ID Token does not match the expected audience.");
  };

  // -- iamcredentials.googleapis.com ----------------------------------------------------------
  const generateAccessToken = (res: ServerResponse, req: IncomingMessage, path: string, body: string) => {
    const m = /^\/v1\/projects\/-\/serviceAccounts\/([^/:]+):generateAccessToken$/.exec(path);
    if (!m?.[1]) return googleApiError(res, 404, "NOT_FOUND", "unknown method");
    const target = decodeURIComponent(m[1]);
    const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ""))?.[1] ?? "";
    const caller = issued.get(bearer);
    if (!caller || caller.expiresAt < Date.now()) {
      return googleApiError(res, 401, "UNAUTHENTICATED", "Request had invalid authentication credentials.");
    }
    let parsed: { scope?: unknown; lifetime?: unknown };
    try {
      parsed = JSON.parse(body);
    } catch {
      return googleApiError(res, 400, "INVALID_ARGUMENT", "body is not JSON");
    }
    if (!Array.isArray(parsed.scope) || !parsed.scope.includes(SCOPE)) {
      reject(`generateAccessToken scope ${JSON.stringify(parsed.scope)}`);
      return googleApiError(res, 400, "INVALID_ARGUMENT", "scope must include cloud-platform");
    }
    if (parsed.lifetime !== undefined && !/^\d+s$/.test(String(parsed.lifetime))) {
      reject(`generateAccessToken lifetime ${String(parsed.lifetime)}`);
    }
    if (!impersonation.get(target)?.has(caller.principal)) {
      return googleApiError(
        res,
        403,
        "PERMISSION_DENIED",
        `Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).`,
      );
    }
    const { token } = issue(`serviceAccount:${target}`, "impersonation");
    const expireTime = new Date(Date.now() + fake.ttlSeconds * 1000).toISOString().replace(/\.\d+Z$/, "Z");
    return json(res, 200, { accessToken: token, expireTime });
  };

  // -- oauth2.googleapis.com/tokeninfo --------------------------------------------------------
  const tokenInfo = (res: ServerResponse, req: IncomingMessage, url: URL, body: string) => {
    if (url.searchParams.has("access_token")) reject("tokeninfo with the access token in the URL");
    const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ""))?.[1];
    const token = bearer ?? new URLSearchParams(body).get("access_token") ?? url.searchParams.get("access_token") ?? "";
    const info = issued.get(token);
    if (!info || info.expiresAt < Date.now()) {
      return oauthError(res, 400, "invalid_token", "Invalid Value");
    }
    fake.tokenInfoCalls.push(info.principal);
    const expiresIn = Math.max(0, Math.floor((info.expiresAt - Date.now()) / 1000));
    const [kind, who = ""] = info.principal.split(/:(.*)/s);
    if (kind === "federated") return oauthError(res, 400, "invalid_token", "Invalid Value");
    const user = kind === "user" ? [...users.values()].find((u) => u.account === who) : undefined;
    const azp = user?.client_id ?? "100000000000000000001";
    return json(res, 200, {
      azp,
      aud: azp,
      ...(user ? { sub: "110000000000000000001", email: who, email_verified: "true" } : {}),
      scope: user ? `openid https://www.googleapis.com/auth/userinfo.email ${SCOPE}` : SCOPE,
      exp: String(Math.floor(info.expiresAt / 1000)),
      expires_in: String(expiresIn),
      access_type: user ? "offline" : "online",
    });
  };

  // -- a Google registry (Artifact Registry; gcr.io behaves the same) ---------------------------
  const isRegistryHost = (host: string) => /^[a-z0-9-]+-docker\.pkg\.dev$|^([a-z]+\.)?gcr\.io$/.test(host);
  const registryError = (res: ServerResponse, status: number, code: string, message: string, headers = {}) =>
    json(res, status, { errors: [{ code, message }] }, headers);
  /** "<project>/<repository>/<image…>" → the repository, when it exists. */
  const repoOf = (path: string) => {
    const [project = "", repo = "", ...rest] = path.split("/");
    return { project, repo, image: rest.join("/"), def: fake.registry?.repos[`${project}/${repo}`] };
  };
  const handleRegistry = (req: IncomingMessage, res: ServerResponse, host: string, url: URL) => {
    const reg = fake.registry as FakeGarRegistry;
    const location = garLocation(host);
    const challenge = `Bearer realm="https://${host}/v2/token",service="${host}"`;
    const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ""))?.[1];
    const access = bearer ? fake.registryTokens.get(bearer) : undefined;
    if (req.method === "GET" && url.pathname === "/v2/") {
      if (access?.host === host) return json(res, 200, {});
      return registryError(
        res,
        401,
        "UNAUTHORIZED",
        'Unauthenticated request. Unauthenticated requests do not have permission "artifactregistry.repositories.downloadArtifacts" on resource',
        { "www-authenticate": challenge },
      );
    }
    if (req.method === "GET" && url.pathname === "/v2/token") {
      const basic = /^Basic (.+)$/.exec(String(req.headers.authorization ?? ""))?.[1];
      const [user, ...pw] = Buffer.from(basic ?? "", "base64")
        .toString("utf8")
        .split(":");
      if (user !== "oauth2accesstoken") {
        reject(`registry token request with user ${user}`);
        return registryError(res, 401, "UNAUTHORIZED", "Not Authorized.");
      }
      if (url.searchParams.get("service") !== host) reject(`registry token service=${url.searchParams.get("service")}`);
      const info = issued.get(pw.join(":"));
      if (!info || info.expiresAt < Date.now()) return registryError(res, 401, "UNAUTHORIZED", "Not Authorized.");
      const scope = url.searchParams.get("scope") ?? "";
      const m = /^repository:([^:]+):([a-z*,]+)$/.exec(scope);
      if (scope && !m) reject(`registry token scope=${scope}`);
      const r = m?.[1] ? repoOf(m[1]) : undefined;
      const pull = Boolean(r?.def?.readers.includes(info.principal));
      if (r && !pull && reg.denyAt === "token") {
        return registryError(res, 403, "DENIED", garDenied(r.project, location, r.repo));
      }
      const token = `gar-${randomBytes(18).toString("base64url")}`;
      fake.registryTokens.set(token, { host, principal: info.principal, scope, pull });
      return json(res, 200, { token, expires_in: 3600, issued_at: new Date().toISOString() });
    }
    const manifest = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
    if (manifest && (req.method === "GET" || req.method === "HEAD")) {
      const [, path = "", ref = ""] = manifest;
      if (!access || access.host !== host) {
        return registryError(res, 401, "UNAUTHORIZED", "Unauthenticated request.", { "www-authenticate": challenge });
      }
      const r = repoOf(path);
      if (access.scope !== `repository:${path}:pull` || !access.pull) {
        return registryError(res, 403, "DENIED", garDenied(r.project, location, r.repo));
      }
      if (!r.def?.images[r.image]?.includes(ref)) {
        return registryError(
          res,
          404,
          "MANIFEST_UNKNOWN",
          `Failed to fetch "${ref}" from request "/v2/${path}/manifests/${ref}".`,
        );
      }
      res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json" });
      res.end(req.method === "HEAD" ? undefined : JSON.stringify({ schemaVersion: 2 }));
      return;
    }
    reject(`unexpected registry request ${req.method} https://${host}${url.pathname}`);
    return registryError(res, 404, "NOT_FOUND", "not found");
  };

  const handleGoogle = async (req: IncomingMessage, res: ServerResponse, host: string) => {
    const url = new URL(req.url ?? "/", `https://${host}`);
    const body = await readBody(req);
    seen.push({ host, method: req.method ?? "", path: url.pathname, headers: req.headers, body });
    if (fake.registry && isRegistryHost(host)) return handleRegistry(req, res, host, url);
    if (fake.hang) return; // never answers; the client's timeout must fire
    if (fake.stallBody) {
      res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": "4096" });
      res.write('{"access_token": "ya29.');
      return; // the rest never comes
    }
    if (host === "oauth2.googleapis.com" && req.method === "POST" && url.pathname === "/token") {
      const form = new URLSearchParams(body);
      const grant = form.get("grant_type");
      if (grant === "urn:ietf:params:oauth:grant-type:jwt-bearer") return jwtBearer(res, form);
      if (grant === "refresh_token") return refresh(res, form);
      return oauthError(res, 400, "unsupported_grant_type", `grant_type ${grant}`);
    }
    if (host === "oauth2.googleapis.com" && req.method === "POST" && url.pathname === "/tokeninfo") {
      return tokenInfo(res, req, url, body);
    }
    if (host === "sts.googleapis.com" && req.method === "POST" && url.pathname === "/v1/token") {
      return exchange(res, req, new URLSearchParams(body));
    }
    if (host === "iamcredentials.googleapis.com" && req.method === "POST") {
      return generateAccessToken(res, req, url.pathname, body);
    }
    reject(`unexpected request ${req.method} https://${host}${url.pathname}`);
    return json(res, 404, { error: "not_found" });
  };

  // -- plain http: GCE metadata, url subject token, AWS EC2 metadata ----------------------------
  const metadata = (req: IncomingMessage, res: ServerResponse, url: URL) => {
    if (!fake.metadataEnabled) {
      res.writeHead(404).end("not a metadata server");
      return;
    }
    const flavor = { "Metadata-Flavor": "Google" };
    if (req.headers["metadata-flavor"] !== "Google") {
      reject("metadata request without Metadata-Flavor: Google");
      res.writeHead(403, { ...flavor, "content-type": "text/plain" }).end("Missing Metadata-Flavor:Google header.");
      return;
    }
    if (req.headers["x-forwarded-for"]) {
      reject("metadata request came through a proxy");
      res.writeHead(403, flavor).end();
      return;
    }
    const path = url.pathname.replace(/^\/computeMetadata\/v1\//, "");
    switch (path) {
      case "instance":
      case "instance/":
        res.writeHead(200, { ...flavor, "content-type": "application/text" }).end("attributes/\nservice-accounts/\n");
        return;
      case "instance/service-accounts/default/token": {
        if (!fake.metadataHasServiceAccount) {
          res.writeHead(404, { ...flavor, "content-type": "text/plain" }).end("service account not found");
          return;
        }
        const scopes = url.searchParams.get("scopes");
        if (scopes !== SCOPE) reject(`metadata token scopes=${scopes}`);
        const { token, expiresIn } = issue("metadata:default", "metadata");
        json(res, 200, { access_token: token, expires_in: expiresIn, token_type: "Bearer" }, flavor);
        return;
      }
      case "instance/service-accounts/default/email":
        res
          .writeHead(200, { ...flavor, "content-type": "application/text" })
          .end("vm@fake-project.iam.gserviceaccount.com");
        return;
      case "project/project-id":
        res.writeHead(200, { ...flavor, "content-type": "application/text" }).end("fake-project");
        return;
      case "universe/universe-domain":
        res.writeHead(200, { ...flavor, "content-type": "application/text" }).end("googleapis.com");
        return;
      default:
        res.writeHead(404, { ...flavor, "content-type": "text/plain" }).end("not found");
    }
  };

  const imdsToken = `imds-${randomBytes(8).toString("hex")}`;
  const aws = (req: IncomingMessage, res: ServerResponse, url: URL) => {
    if (url.pathname === "/latest/api/token" && req.method === "PUT") {
      if (!req.headers["x-aws-ec2-metadata-token-ttl-seconds"]) reject("IMDSv2 token PUT without a ttl header");
      res.writeHead(200, { "content-type": "text/plain" }).end(imdsToken);
      return;
    }
    if (req.headers["x-aws-ec2-metadata-token"] !== imdsToken) {
      reject(`IMDS ${url.pathname} without the IMDSv2 session token`);
      res.writeHead(401).end();
      return;
    }
    const creds = fake.awsInstance;
    if (url.pathname === "/latest/meta-data/placement/availability-zone") {
      res.writeHead(200, { "content-type": "text/plain" }).end(`${creds?.region ?? "us-east-1"}b`);
    } else if (url.pathname === "/latest/meta-data/iam/security-credentials") {
      res.writeHead(200, { "content-type": "text/plain" }).end("fake-role");
    } else if (url.pathname === "/latest/meta-data/iam/security-credentials/fake-role" && creds) {
      json(res, 200, {
        Code: "Success",
        AccessKeyId: creds.accessKeyId,
        SecretAccessKey: creds.secretAccessKey,
        Token: creds.sessionToken,
        Expiration: new Date(Date.now() + 3600_000).toISOString(),
      });
    } else {
      res.writeHead(404).end();
    }
  };

  const http: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const body = await readBody(req);
    seen.push({ host: "http", method: req.method ?? "", path: url.pathname, headers: req.headers, body });
    if (url.pathname.startsWith("/computeMetadata/")) return metadata(req, res, url);
    if (url.pathname.startsWith("/latest/")) return aws(req, res, url);
    if (url.pathname === "/subject-token") {
      if (req.headers["x-test-header"] !== "expected") {
        reject("url subject token request without the configured header");
        res.writeHead(403).end();
        return;
      }
      json(res, 200, { id_token: fake.urlSubjectToken });
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const port = (http.address() as AddressInfo).port;
  const proxy = await startMitmProxy({ ca, handler: handleGoogle });

  const fake: FakeGoogle = {
    ca,
    proxy,
    metadataHost: `127.0.0.1:${port}`,
    httpUrl: `http://127.0.0.1:${port}`,
    seen,
    issued,
    rejections,
    hang: false,
    stallBody: false,
    metadataEnabled: true,
    metadataHasServiceAccount: true,
    ttlSeconds: 3599,
    nextTokens: [],
    tokenInfoCalls: [],
    registry: undefined,
    registryTokens: new Map(),
    awsInstance: undefined,
    urlSubjectToken: `url-subject-${randomBytes(6).toString("hex")}`,
    gcloudTrapDir,
    env: () => ({
      HTTPS_PROXY: proxy.url,
      NO_PROXY: "127.0.0.1,localhost",
      NODE_EXTRA_CA_CERTS: ca.certFile,
    }),
    serviceAccountKey(email, opts = {}) {
      const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      if (opts.register !== false) keys.set(email, publicKey.export({ type: "spki", format: "pem" }).toString());
      const keyId = randomBytes(20).toString("hex");
      return {
        type: "service_account",
        project_id: "fake-project",
        private_key_id: keyId,
        private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
        client_email: email,
        client_id: "100000000000000000001",
        auth_uri: "https://accounts.google.com/o/oauth2/auth",
        // Deliberately somewhere else: the library must ignore it (spec §2.3).
        token_uri: "http://127.0.0.1:9/not-used",
        universe_domain: "googleapis.com",
      };
    },
    userCredentials(account) {
      const creds = {
        client_id: `${randomBytes(6).toString("hex")}.apps.googleusercontent.com`,
        client_secret: `secret-${randomBytes(8).toString("hex")}`,
        account,
      };
      const refreshToken = `1//refresh-${randomBytes(12).toString("hex")}`;
      users.set(refreshToken, creds);
      return {
        type: "authorized_user",
        client_id: creds.client_id,
        client_secret: creds.client_secret,
        refresh_token: refreshToken,
        quota_project_id: "fake-project",
        universe_domain: "googleapis.com",
      };
    },
    trustSts(t) {
      sts.push(t);
    },
    allowImpersonation(principal, target) {
      const set = impersonation.get(target) ?? new Set<string>();
      set.add(principal);
      impersonation.set(target, set);
    },
    principalOf(token) {
      const i = issued.get(token);
      if (!i) throw new Error("the fake never issued this token");
      return i.principal;
    },
    reset() {
      seen.length = 0;
      rejections.length = 0;
      proxy.connects.length = 0;
      fake.hang = false;
      fake.stallBody = false;
      fake.metadataEnabled = true;
      fake.metadataHasServiceAccount = true;
      fake.ttlSeconds = 3599;
      fake.nextTokens.length = 0;
      fake.tokenInfoCalls.length = 0;
    },
    count(host, path) {
      return seen.filter((s) => s.host === host && (path === undefined || s.path === path)).length;
    },
    async gcloudCalls() {
      try {
        return await readFile(gcloudLog, "utf8");
      } catch {
        return "";
      }
    },
    async close() {
      await proxy.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
  return fake;
};
