import assert from "node:assert/strict";
import { test } from "node:test";
import { fromBunTunnelError, ProxyRefusedError, proxyRefusal } from "../../src/providers/net-errors.ts";

test("a refused tunnel names the proxy without its credentials, the target and the next step", () => {
  const e = new ProxyRefusedError(
    "http://bob:hunter2@proxy.corp:3128",
    "oauth2.googleapis.com:443",
    407,
    "Proxy Authentication Required",
  );
  assert.equal(
    e.message,
    "the proxy http://proxy.corp:3128 refused the tunnel to oauth2.googleapis.com:443: 407 Proxy Authentication Required — the proxy did not accept the credentials in HTTPS_PROXY: correct them (http://user:pass@…) or bypass the proxy with NO_PROXY",
  );
  assert.ok(!e.message.includes("hunter2") && !e.message.includes("bob"));
  const anon = new ProxyRefusedError(
    "http://proxy.corp:3128",
    "login.microsoftonline.com:443",
    407,
    "Proxy Authentication Required",
  );
  assert.match(anon.message, /— set credentials in HTTPS_PROXY \(http:\/\/user:pass@…\) or NO_PROXY$/);
  const down = new ProxyRefusedError(
    "http://proxy.corp:3128",
    "api.ecr.eu-west-1.amazonaws.com:443",
    502,
    "Bad\r\nGateway",
  );
  assert.match(down.message, /: 502 BadGateway — the proxy could not reach api\.ecr/);
  assert.match(new ProxyRefusedError("http://p:1", "h:443", 403, "Forbidden").message, /policy does not allow h:443/);
});

test("found inside wrappers: a cause, an aggregate, or a wrapper that kept only the code (node-fetch)", () => {
  const e = new ProxyRefusedError("http://p:1", "h:443", 407, "Proxy Authentication Required");
  assert.equal(proxyRefusal(new Error("gaxios", { cause: e })), e);
  assert.equal(proxyRefusal(Object.assign(new Error("agg"), { errors: [new Error("x"), e] })), e);
  const fetchError = Object.assign(new Error(`request failed, reason: ${e.message}`), { code: "ERR_PROXY_TUNNEL" });
  assert.equal(proxyRefusal(new Error("gaxios", { cause: fetchError })), e);
  assert.equal(proxyRefusal(new Error("ECONNREFUSED")), undefined);
});

test("Bun's ERR_PROXY_TUNNEL becomes a ProxyRefusedError", () => {
  const bun = Object.assign(new Error("Proxy refused to open a tunnel: 407 Proxy Authentication Required"), {
    code: "ERR_PROXY_TUNNEL",
  });
  const e = fromBunTunnelError(bun, "http://u:p@proxy:8080", "oauth2.googleapis.com:443");
  assert.equal(e?.status, 407);
  assert.equal(e?.proxy, "http://proxy:8080");
  assert.equal(fromBunTunnelError(new Error("x"), "http://proxy:8080", "h:443"), undefined);
});
