// A fake of the AWS endpoints the ECR flow touches, on 127.0.0.1 (plain http): ECR and ECR Public
// GetAuthorizationToken (awsJson1_1), STS AssumeRole / AssumeRoleWithWebIdentity / GetCallerIdentity
// (awsQuery XML), IMDSv2 and the container credentials endpoint. It VERIFIES every SigV4 signature against the
// secret keys it knows, so a test passes only when the real SDK signed with the expected identity.
//
// The ECR password it issues names the signing identity and region, so tests can assert which
// credentials were used: `pw-<region>-<accessKeyId>`.
// Use: AWS_ENDPOINT_URL=<fake.url> (covers ECR, ECR Public and STS), plus the IMDS/container vars.

import { createHash, createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";

export type Mode = "ok" | "deny" | "throttle" | "hang" | "empty";

export interface Recorded {
  target: string;
  region: string;
  service: string;
  accessKeyId: string;
  sessionToken: string | undefined;
  body: string;
  form: URLSearchParams | undefined;
}

export interface FakeAws {
  url: string;
  /** Number of calls per operation: "ecr", "ecr-public", "sts:AssumeRole", "sts:AssumeRoleWithWebIdentity", "imds", "container". */
  calls: Record<string, number>;
  requests: Recorded[];
  /** Signature failures (each also answered with a 403 SignatureDoesNotMatch). */
  badSignatures: string[];
  mode: Mode;
  /** Lifetime of issued ECR tokens, in seconds (default 12 h). */
  tokenTtlSeconds: number;
  /**
   * The principal ARN behind an access key id, as GetCallerIdentity answers it: the configured
   * `principals`, else the role last assumed with that (session) key, else an IAM user named after it.
   */
  principalOf(accessKeyId: string): string;
  /** Forgets calls and requests and restores mode "ok" and the 12 h token lifetime. */
  reset(): void;
  close(): Promise<void>;
}

export interface FakeAwsOptions {
  /** accessKeyId → secretAccessKey the fake accepts. */
  keys?: Record<string, string>;
  /** Bearer token the container credentials endpoint requires. */
  containerToken?: string;
  /** accessKeyId → principal ARN for GetCallerIdentity (the IMDS key defaults to DEFAULT_NODE_PRINCIPAL). */
  principals?: Record<string, string>;
  /**
   * A role whose trust policy requires MFA: AssumeRole for `roleArn` must carry SerialNumber
   * `serial` and TokenCode `code` (else AccessDenied, as STS answers a wrong or missing code).
   */
  mfa?: { roleArn: string; serial: string; code: string };
}

/** Who the fake instance role is: an EC2 node role session, as ECR names it in a denial. */
export const DEFAULT_NODE_PRINCIPAL = "arn:aws:sts::111122223333:assumed-role/node-role/i-0abc";

export const STS_CREDS = {
  AssumeRole: { id: "ASIAFAKEASSUMEDROLE1", secret: "fake-assumed-secret", session: "fake-session-assumed" },
  AssumeRoleWithWebIdentity: { id: "ASIAFAKEWEBIDENTITY1", secret: "fake-webid-secret", session: "fake-session-webid" },
  imds: { id: "ASIAFAKEIMDSROLE0001", secret: "fake-imds-secret", session: "fake-session-imds" },
  container: { id: "ASIAFAKECONTAINER001", secret: "fake-container-secret", session: "fake-session-container" },
} as const;

const sha256 = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");
const hmac = (k: string | Buffer, s: string) => createHmac("sha256", k).update(s).digest();

const AUTH_RE =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/;

/** Verifies a SigV4 header signature; returns the parsed credential scope or an error text. */
const verifySigV4 = (
  req: IncomingMessage,
  body: string,
  secrets: Record<string, string>,
): { accessKeyId: string; region: string; service: string } | string => {
  const m = AUTH_RE.exec(String(req.headers.authorization ?? ""));
  if (!m) return "no SigV4 Authorization header";
  const [, accessKeyId = "", date = "", region = "", service = "", signedHeaders = "", signature = ""] = m;
  const secret = secrets[accessKeyId];
  if (secret === undefined) return `unknown access key ${accessKeyId}`;
  const amzDate = String(req.headers["x-amz-date"] ?? "");
  if (!amzDate.startsWith(date)) return "x-amz-date does not match the credential scope";
  const url = new URL(req.url ?? "/", "http://x");
  const query = [...url.searchParams.entries()]
    .map(([k, v]) => [encodeURIComponent(k), encodeURIComponent(v)])
    .sort(([a = ""], [b = ""]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const headers = signedHeaders
    .split(";")
    .map(
      (h) =>
        `${h}:${String(req.headers[h] ?? "")
          .trim()
          .replace(/\s+/g, " ")}\n`,
    )
    .join("");
  const payloadHash = String(req.headers["x-amz-content-sha256"] ?? sha256(body));
  if (payloadHash !== "UNSIGNED-PAYLOAD" && payloadHash !== sha256(body)) return "payload hash mismatch";
  const canonical = [req.method, url.pathname, query, headers, signedHeaders, payloadHash].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(canonical)].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), "aws4_request");
  const expected = createHmac("sha256", key).update(toSign).digest("hex");
  if (expected !== signature) return `signature mismatch for ${accessKeyId}`;
  if (!signedHeaders.split(";").includes("host")) return "host header not signed";
  return { accessKeyId, region, service };
};

const readBody = async (req: IncomingMessage): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
};

const json = (res: ServerResponse, status: number, body: unknown, type = "application/x-amz-json-1.1") => {
  res.writeHead(status, { "content-type": type });
  res.end(JSON.stringify(body));
};

/** arn:aws:iam::A:role/path/N + session → arn:aws:sts::A:assumed-role/N/session (what STS reports). */
export const assumedRoleArn = (roleArn: string, session: string): string => {
  const m = /^arn:([^:]+):iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(roleArn);
  return m
    ? `arn:${m[1]}:sts::${m[2]}:assumed-role/${m[3]}/${session}`
    : `arn:aws:sts::123456789012:assumed-role/r/${session}`;
};

const stsXml = (action: string, c: { id: string; secret: string; session: string }, arn: string) =>
  `<${action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><${action}Result><Credentials>` +
  `<AccessKeyId>${c.id}</AccessKeyId><SecretAccessKey>${c.secret}</SecretAccessKey><SessionToken>${c.session}</SessionToken>` +
  `<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser><Arn>${arn}</Arn>` +
  `<AssumedRoleId>AROAFAKE:s</AssumedRoleId></AssumedRoleUser></${action}Result></${action}Response>`;

const callerXml = (arn: string) => {
  const account = /^arn:[^:]+:[^:]+::(\d{12}):/.exec(arn)?.[1] ?? "000000000000";
  return (
    `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>` +
    `<Arn>${arn}</Arn><UserId>AIDAFAKE:${arn.split("/").pop()}</UserId><Account>${account}</Account>` +
    `</GetCallerIdentityResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></GetCallerIdentityResponse>`
  );
};

export const startFakeAws = async (opts: FakeAwsOptions = {}): Promise<FakeAws> => {
  const secrets: Record<string, string> = {
    ...opts.keys,
    [STS_CREDS.AssumeRole.id]: STS_CREDS.AssumeRole.secret,
    [STS_CREDS.AssumeRoleWithWebIdentity.id]: STS_CREDS.AssumeRoleWithWebIdentity.secret,
    [STS_CREDS.imds.id]: STS_CREDS.imds.secret,
    [STS_CREDS.container.id]: STS_CREDS.container.secret,
  };
  const sockets = new Set<Socket>();
  const assumed: Record<string, string> = {};
  const fake: FakeAws = {
    url: "",
    calls: {},
    requests: [],
    badSignatures: [],
    mode: "ok",
    tokenTtlSeconds: 12 * 3600,
    principalOf: (id) =>
      opts.principals?.[id] ??
      assumed[id] ??
      (id === STS_CREDS.imds.id ? DEFAULT_NODE_PRINCIPAL : `arn:aws:iam::000000000000:user/${id}`),
    reset: () => {
      fake.calls = {};
      fake.requests = [];
      fake.badSignatures = [];
      fake.mode = "ok";
      fake.tokenTtlSeconds = 12 * 3600;
    },
    close: async () => {},
  };
  const count = (k: string) => {
    fake.calls[k] = (fake.calls[k] ?? 0) + 1;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req);
    const path = (req.url ?? "/").split("?")[0];
    // IMDSv2
    if (path === "/latest/api/token" && req.method === "PUT") {
      res.end("fake-imds-session-token");
      return;
    }
    if (path?.startsWith("/latest/meta-data/iam/security-credentials/")) {
      if (req.headers["x-aws-ec2-metadata-token"] !== "fake-imds-session-token") {
        res.writeHead(401).end();
        return;
      }
      const role = path.slice("/latest/meta-data/iam/security-credentials/".length);
      if (role === "") {
        res.end("fake-node-role");
        return;
      }
      count("imds");
      const c = STS_CREDS.imds;
      json(res, 200, {
        Code: "Success",
        Type: "AWS-HMAC",
        AccessKeyId: c.id,
        SecretAccessKey: c.secret,
        Token: c.session,
        Expiration: "2099-01-01T00:00:00Z",
        LastUpdated: "2026-01-01T00:00:00Z",
      });
      return;
    }
    if (path === "/container-credentials") {
      if (req.headers.authorization !== opts.containerToken) {
        res.writeHead(401).end();
        return;
      }
      count("container");
      const c = STS_CREDS.container;
      json(
        res,
        200,
        { AccessKeyId: c.id, SecretAccessKey: c.secret, Token: c.session, Expiration: "2099-01-01T00:00:00Z" },
        "application/json",
      );
      return;
    }
    const target = String(req.headers["x-amz-target"] ?? "");
    const contentType = String(req.headers["content-type"] ?? "");
    const form = contentType.startsWith("application/x-www-form-urlencoded") ? new URLSearchParams(body) : undefined;
    const action = form?.get("Action") ?? "";
    // AssumeRoleWithWebIdentity is unsigned: the web identity token is the credential.
    if (action === "AssumeRoleWithWebIdentity") {
      count(`sts:${action}`);
      fake.requests.push({
        target: action,
        region: "",
        service: "sts",
        accessKeyId: "",
        sessionToken: undefined,
        body,
        form,
      });
      if (!form?.get("WebIdentityToken") || !form.get("RoleArn")) {
        res
          .writeHead(400, { "content-type": "text/xml" })
          .end("<ErrorResponse><Error><Code>ValidationError</Code></Error></ErrorResponse>");
        return;
      }
      const c = STS_CREDS.AssumeRoleWithWebIdentity;
      const arn = assumedRoleArn(form.get("RoleArn") ?? "", form.get("RoleSessionName") ?? "web-identity");
      assumed[c.id] = arn;
      res.writeHead(200, { "content-type": "text/xml" }).end(stsXml(action, c, arn));
      return;
    }
    const sig = verifySigV4(req, body, secrets);
    if (typeof sig === "string") {
      fake.badSignatures.push(sig);
      json(res, 403, { __type: "InvalidSignatureException", message: sig });
      return;
    }
    const rec: Recorded = {
      target: target || action,
      region: sig.region,
      service: sig.service,
      accessKeyId: sig.accessKeyId,
      sessionToken: req.headers["x-amz-security-token"] as string | undefined,
      body,
      form,
    };
    fake.requests.push(rec);
    if (action === "AssumeRole") {
      count("sts:AssumeRole");
      if (sig.service !== "sts") return json(res, 400, { message: "wrong service in scope" });
      const mfa = opts.mfa;
      if (mfa && form?.get("RoleArn") === mfa.roleArn) {
        if (form.get("SerialNumber") !== mfa.serial || form.get("TokenCode") !== mfa.code) {
          const why = form.get("TokenCode")
            ? "MultiFactorAuthentication failed with invalid MFA one time pass code."
            : "User is not authorized to perform: sts:AssumeRole (MFA required)";
          res
            .writeHead(403, { "content-type": "text/xml" })
            .end(
              `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>${why}</Message></Error></ErrorResponse>`,
            );
          return;
        }
      }
      const c = STS_CREDS.AssumeRole;
      const arn = assumedRoleArn(form?.get("RoleArn") ?? "", form?.get("RoleSessionName") ?? "session");
      assumed[c.id] = arn;
      res.writeHead(200, { "content-type": "text/xml" }).end(stsXml(action, c, arn));
      return;
    }
    if (action === "GetCallerIdentity") {
      count("sts:GetCallerIdentity");
      if (sig.service !== "sts") return json(res, 400, { message: "wrong service in scope" });
      // Session credentials are valid only with their session token.
      const session = Object.values(STS_CREDS).find((c) => c.id === sig.accessKeyId)?.session;
      if (session !== undefined && rec.sessionToken !== session) {
        res
          .writeHead(403, { "content-type": "text/xml" })
          .end("<ErrorResponse><Error><Code>InvalidClientTokenId</Code></Error></ErrorResponse>");
        return;
      }
      res.writeHead(200, { "content-type": "text/xml" }).end(callerXml(fake.principalOf(sig.accessKeyId)));
      return;
    }
    const isPrivate = target === "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken";
    const isPublic = target === "SpencerFrontendService.GetAuthorizationToken";
    if (!isPrivate && !isPublic) return json(res, 400, { __type: "UnknownOperationException", message: target });
    count(isPrivate ? "ecr" : "ecr-public");
    if (contentType !== "application/x-amz-json-1.1")
      return json(res, 400, { message: `bad content-type ${contentType}` });
    if (sig.service !== (isPrivate ? "ecr" : "ecr-public"))
      return json(res, 400, { message: `bad service ${sig.service}` });
    switch (fake.mode) {
      case "deny":
        return json(res, 400, {
          __type: "AccessDeniedException",
          message: "User is not authorized to perform: ecr:GetAuthorizationToken",
        });
      case "throttle":
        return json(res, 400, { __type: "ThrottlingException", message: "Rate exceeded" });
      case "hang":
        return; // never answer: the client's timeout must fire
      default:
    }
    const password = `pw-${sig.region}-${sig.accessKeyId}`;
    const data = {
      authorizationToken: Buffer.from(`AWS:${password}`).toString("base64"),
      expiresAt: Date.now() / 1000 + fake.tokenTtlSeconds,
    };
    if (fake.mode === "empty") return json(res, 200, { authorizationData: [] });
    if (isPublic) return json(res, 200, { authorizationData: data });
    const ids = (JSON.parse(body || "{}") as { registryIds?: string[] }).registryIds ?? ["000000000000"];
    json(res, 200, {
      authorizationData: ids.map((id) => ({
        ...data,
        proxyEndpoint: `https://${id}.dkr.ecr.${sig.region}.amazonaws.com`,
      })),
    });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      res.writeHead(500).end(String(e));
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  if (addr === null || typeof addr === "string") throw new Error("no address");
  fake.url = `http://127.0.0.1:${addr.port}`;
  fake.close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  return fake;
};

/** Environment for the CLI to use static keys against the fake. */
export const awsEnv = (fake: FakeAws, accessKeyId: string, secret: string): Record<string, string> => ({
  AWS_ENDPOINT_URL: fake.url,
  AWS_ACCESS_KEY_ID: accessKeyId,
  AWS_SECRET_ACCESS_KEY: secret,
});
