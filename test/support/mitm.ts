// A man-in-the-middle HTTP(S) proxy for fakes that must keep real host names.
//
// Clients that honour HTTPS_PROXY (gaxios/google-auth-library, @azure/core-rest-pipeline, curl,
// Node >= 24.5 with NODE_USE_ENV_PROXY=1) send `CONNECT host:443`; the proxy answers 200, terminates
// TLS with a leaf issued for `host` by the test CA, and hands each decrypted request to `handler`.
// The client must trust the CA (NODE_EXTRA_CA_CERTS=<ca.certFile>, see tls.ts) and must not
// exclude the host via NO_PROXY — clear NO_PROXY/no_proxy in the child env.

import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { createSecureContext, TLSSocket } from "node:tls";
import type { Ca } from "./tls.ts";
import { issueCert } from "./tls.ts";

/** Answers one decrypted request; `host` is the target host name (no port); req.url is path+query. */
export type MitmHandler = (req: IncomingMessage, res: ServerResponse, host: string) => void | Promise<void>;

/** A running proxy; `url` is for HTTPS_PROXY/HTTP_PROXY, `connects` lists CONNECT targets ("host:port") in order. */
export type MitmProxy = {
  url: string;
  port: number;
  connects: string[];
  close(): Promise<void>;
};

/** Starts the proxy on 127.0.0.1:<random port>. Handler errors become HTTP 500 (message in body). */
export async function startMitmProxy(opts: { ca: Ca; handler: MitmHandler }): Promise<MitmProxy> {
  const { ca, handler } = opts;
  const connects: string[] = [];
  const sockets = new Set<Socket>();
  const hostOf = new WeakMap<Socket, string>();

  const dispatch = (req: IncomingMessage, res: ServerResponse, host: string) => {
    Promise.resolve()
      .then(() => handler(req, res, host))
      .catch((e: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end(`mitm handler error: ${e instanceof Error ? e.message : String(e)}`);
      });
  };

  // Decrypted traffic from CONNECT tunnels (never listens itself).
  const inner = createServer((req, res) => dispatch(req, res, hostOf.get(req.socket) ?? ""));
  inner.on("clientError", (_e, socket) => socket.destroy());

  // The proxy itself: absolute-URI requests (plain http://) go straight to the handler.
  const outer = createServer((req, res) => {
    let target: URL;
    try {
      target = new URL(req.url ?? "");
    } catch {
      res.writeHead(400).end("mitm proxy: expected an absolute URI or CONNECT");
      return;
    }
    req.url = `${target.pathname}${target.search}`;
    dispatch(req, res, target.hostname);
  });
  outer.on("clientError", (_e, socket) => socket.destroy());
  const track = (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  };
  outer.on("connection", track);

  outer.on("connect", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    const target = req.url ?? "";
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(target);
    if (!m?.[1]) {
      socket.end("HTTP/1.1 400 Bad Request\r\n\r\n");
      return;
    }
    const host = m[1].toLowerCase();
    connects.push(`${host}:${m[2]}`);
    socket.pause();
    issueCert(ca, [host]).then(
      (leaf) => {
        if (socket.destroyed) return;
        socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        if (head.length > 0) socket.unshift(head);
        const tlsSocket = new TLSSocket(socket, {
          isServer: true,
          secureContext: createSecureContext({
            cert: leaf.certPem,
            key: leaf.keyPem,
          }),
          ALPNProtocols: ["http/1.1"],
        });
        tlsSocket.on("error", () => tlsSocket.destroy()); // e.g. client rejects our certificate
        track(tlsSocket);
        hostOf.set(tlsSocket, host);
        inner.emit("connection", tlsSocket);
        socket.resume();
      },
      () => socket.destroy(),
    );
  });

  await new Promise<void>((resolve, reject) => {
    outer.once("error", reject);
    outer.listen(0, "127.0.0.1", () => {
      outer.off("error", reject);
      resolve();
    });
  });
  const port = (outer.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    connects,
    close() {
      closed ??= new Promise<void>((resolve) => {
        outer.close(() => resolve());
        for (const s of sockets) s.destroy();
        outer.closeAllConnections();
      });
      return closed;
    },
  };
}
