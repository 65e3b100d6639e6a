// A tiny HTTPS registry that answers like ECR: GET /v2/ (401 with ECR's Basic challenge without
// credentials), manifest HEAD/GET, and ECR's 403 DENIED text when the principal behind the token is
// not allowed by the repository's policy. It CHECKS what it receives: Basic credentials it can map
// to a principal (the fake AWS issues `pw-<region>-<accessKeyId>`), manifest Accept headers.
// Listens on 127.0.0.1 with a certificate from the test CA (set NODE_EXTRA_CA_CERTS for the CLI).

import { createServer, type Server } from "node:https";
import type { Duplex } from "node:stream";
import { type Ca, issueCert } from "./tls.ts";

export interface FakeRepo {
  tags: string[];
  /** Principals allowed by the repository policy: role ARNs (arn:aws:iam::A:role/N) or account roots. */
  allow: string[];
}

export interface RegistryRequest {
  method: string;
  path: string;
  /** The principal the credentials belong to; null without credentials; "invalid" for unknown ones. */
  principal: string | null;
  accept: string | undefined;
}

export interface FakeEcrRegistry {
  host: string;
  requests: RegistryRequest[];
  close(): Promise<void>;
}

/** arn:aws:sts::A:assumed-role/N/S is allowed by arn:aws:iam::A:role/N and by arn:aws:iam::A:root. */
const allowed = (principal: string, allow: readonly string[]): boolean => {
  const m = /^arn:aws:sts::(\d{12}):assumed-role\/([^/]+)\//.exec(principal);
  const account = m?.[1] ?? /^arn:aws:iam::(\d{12}):/.exec(principal)?.[1];
  return allow.some(
    (a) => a === principal || (m && a === `arn:aws:iam::${m[1]}:role/${m[2]}`) || a === `arn:aws:iam::${account}:root`,
  );
};

export const startFakeEcrRegistry = async (opts: {
  ca: Ca;
  /** The account and region in the repository ARNs. */
  account: string;
  region: string;
  repos: Record<string, FakeRepo>;
  /** The principal behind a password, or undefined if the password is not a valid token. */
  principalFor: (password: string) => string | undefined;
}): Promise<FakeEcrRegistry> => {
  const leaf = await issueCert(opts.ca, ["127.0.0.1"]);
  const requests: RegistryRequest[] = [];
  const sockets = new Set<Duplex>();
  const server: Server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const auth = String(req.headers.authorization ?? "");
    let principal: string | null = null;
    if (auth.startsWith("Basic ")) {
      const [user, ...rest] = Buffer.from(auth.slice(6), "base64").toString("utf8").split(":");
      principal = (user === "AWS" && opts.principalFor(rest.join(":"))) || "invalid";
    } else if (auth) principal = "invalid";
    requests.push({ method: req.method ?? "", path, principal, accept: req.headers.accept });
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, {
        "content-type": "application/json; charset=utf-8",
        "docker-distribution-api-version": "registry/2.0",
        ...headers,
      });
      res.end(req.method === "HEAD" ? undefined : JSON.stringify(body));
    };
    if (principal === null || principal === "invalid") {
      send(
        401,
        { errors: [{ code: "UNAUTHORIZED", message: "Not Authorized" }] },
        { "www-authenticate": `Basic realm="https://${host}/",service="ecr.amazonaws.com"` },
      );
      return;
    }
    if (path === "/v2/" && req.method === "GET") return send(200, {});
    const m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
    if (!m || (req.method !== "GET" && req.method !== "HEAD")) {
      return send(404, { errors: [{ code: "NOT_FOUND", message: "not found" }] });
    }
    if (!String(req.headers.accept ?? "").includes("application/vnd.")) {
      return send(400, { errors: [{ code: "UNSUPPORTED", message: "no manifest media type accepted" }] });
    }
    const [, repoName = "", ref = ""] = m;
    const repo = opts.repos[repoName];
    const arn = `arn:aws:ecr:${opts.region}:${opts.account}:repository/${repoName}`;
    if (!repo) {
      return send(404, {
        errors: [
          {
            code: "NAME_UNKNOWN",
            message: `The repository with name '${repoName}' does not exist in the registry with id '${opts.account}'`,
          },
        ],
      });
    }
    if (!allowed(principal, repo.allow)) {
      return send(403, {
        errors: [
          {
            code: "DENIED",
            message: `User: ${principal} is not authorized to perform: ecr:BatchGetImage on resource: ${arn} because no resource-based policy allows the ecr:BatchGetImage action`,
          },
        ],
      });
    }
    if (!repo.tags.includes(ref)) {
      return send(404, {
        errors: [{ code: "MANIFEST_UNKNOWN", message: `Requested image not found` }],
      });
    }
    send(
      200,
      { schemaVersion: 2 },
      {
        "content-type": "application/vnd.oci.image.manifest.v1+json",
        "docker-content-digest": `sha256:${"0".repeat(64)}`,
      },
    );
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  if (addr === null || typeof addr === "string") throw new Error("no address");
  const host = `127.0.0.1:${addr.port}`;
  return {
    host,
    requests,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
};

/** For the fake AWS's ECR passwords `pw-<region>-<accessKeyId>`: the access key id. */
export const accessKeyOfPassword = (password: string): string | undefined =>
  /^pw-[a-z0-9-]+-([A-Z0-9]{16,})$/.exec(password)?.[1];
