// The three clouds' fakes as the proxy tests reach them through tinyproxy: Google (its MITM proxy),
// Azure (a service principal, one ACR, IMDS; its MITM proxy) and AWS (one static key).
import { type FakeAws, startFakeAws } from "./fake-aws.ts";
import { type FakeAzure, startFakeAzure } from "./fake-azure.ts";
import { type FakeGoogle, startFakeGoogle } from "./fake-google.ts";

export const PROXIED_ACR = "myregistry.azurecr.io";

export type ProxiedFakes = {
  google: FakeGoogle;
  azure: FakeAzure;
  aws: FakeAws;
  /**
   * tinyproxy Upstream rules sending the clouds' hosts to the fakes (through their MITM proxies).
   * Never the real AWS: whatever reaches tinyproxy for it ends at a closed port.
   */
  upstreams: [string, string][];
};

/** Starts the fakes: Azure knows client `sp-app` (secret `sp-secret-value`), AWS key `AKIAPROXYTEST` (`proxy-secret`). */
export async function startProxiedFakes(): Promise<ProxiedFakes> {
  const google = await startFakeGoogle();
  const azure = await startFakeAzure({
    clients: { "sp-app": { secret: "sp-secret-value" } },
    registries: { [PROXIED_ACR]: {} },
    imds: { systemAssigned: true, clientIds: [] },
  });
  const aws = await startFakeAws({ keys: { AKIAPROXYTEST: "proxy-secret" } });
  const g = new URL(google.env().HTTPS_PROXY ?? "").host;
  const a = azure.proxy.url.replace(/^http:\/\//, "");
  const upstreams: [string, string][] = [
    [g, ".googleapis.com"],
    [a, "login.microsoftonline.com"],
    [a, PROXIED_ACR],
    ["127.0.0.1:9", ".amazonaws.com"],
  ];
  return { google, azure, aws, upstreams };
}
