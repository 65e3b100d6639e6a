// Google who-am-i for the operator verbs: the route's identity plan (providers/google/plan.ts), the
// provider's own discovery (providers/google/credentials.ts: the same walk a token fetch does),
// then who the token stands for — the impersonated service account or the key file's client_email
// (confirmed by the token exchange that just worked), the metadata server's e-mail for its default
// service account, or Google's tokeninfo for users and anything else.

import { request as httpRequest } from "node:http";
import { fs } from "../../builtins.ts";
import { withDeadline } from "../../deadline.ts";
import { NoIdentityError, oneLine } from "../../errors.ts";
import { adcFile } from "../../identity/google.ts";
import { createLogger, type Logger, scrub } from "../../log.ts";
import { discoverDefault, discoverWorkload, transporterOptionsFor } from "../../providers/google/credentials.ts";
import { metadataBase } from "../../providers/google/metadata.ts";
import { googleIdentityPlan, type TokenSource } from "../../providers/google/plan.ts";
import { routeSdkLogs } from "../../providers/google/sdk-log.ts";
import { network } from "../../providers/network.ts";
import type { FetchContext } from "../../providers/types.ts";
import type { GoogleRoute } from "../../resolver.ts";
import type { ChainStep, WhoAmI } from "./types.ts";

export interface GoogleWhoOptions {
  env: FetchContext["env"];
  home: string;
  timeoutMs: number;
  now: () => number;
  log?: Logger;
  /** An access token already obtained for this route (explain's, from the core entry): not fetched again. */
  token?: string;
}

const SOURCE_NAME: Record<string, string> = {
  kubelet: "kubelet service-account token",
  file: "credentials file",
  adc: "gcloud ADC file",
  metadata: "metadata server",
};

const isFile = (file: string): boolean => {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
};

/** The metadata server's e-mail for the default service account (plain http, never proxied). */
const metadataEmail = (base: string, timeoutMs: number): Promise<string | undefined> =>
  new Promise((resolve) => {
    const req = httpRequest(`${base}/computeMetadata/v1/instance/service-accounts/default/email`, {
      headers: { "Metadata-Flavor": "Google" },
      timeout: timeoutMs,
    });
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d) => {
        body += d;
      });
      res.on("end", () =>
        resolve(res.statusCode === 200 && res.headers["metadata-flavor"] === "Google" ? body.trim() : undefined),
      );
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
    req.end();
  });

/** Which plan source the provider's discovery took (its order is the plan's). */
const usedKind = (source: TokenSource): string =>
  source.kind === "workload" ? "kubelet" : source.kind === "metadata" ? "metadata" : "file-or-adc";

export const whoGoogle = async (route: GoogleRoute, o: GoogleWhoOptions): Promise<WhoAmI> => {
  const log = o.log ?? createLogger("silent", () => {});
  const plan = googleIdentityPlan(o.env, o.home, route.google, route.workload, {
    adcFileExists: isFile(adcFile(o.env, o.home)),
  });
  const steps: ChainStep[] = [];
  const stepsFor = (used: string | undefined, usedDetail: string, failed?: string) => {
    let reached = false;
    for (const s of plan.sources) {
      const name = SOURCE_NAME[s.kind] ?? s.label;
      const isUsed =
        !reached &&
        s.status !== "unavailable" &&
        (used === s.kind || (used === "file-or-adc" && (s.kind === "file" || s.kind === "adc")));
      if (isUsed) {
        reached = true;
        steps.push({ source: name, state: failed ? "failed" : "used", detail: failed ?? usedDetail });
      } else if (s.status === "unavailable") steps.push({ source: name, state: "absent", detail: s.reason ?? s.label });
      else if (reached)
        steps.push({ source: name, state: "skipped", detail: `${s.label}: a source before it answered` });
      else steps.push({ source: name, state: "absent", detail: `${s.label}: not present here` });
    }
  };
  const ctx: FetchContext = { env: o.env, home: o.home, requestTimeoutMs: o.timeoutMs, log, now: o.now };
  let lib: Promise<typeof import("google-auth-library")> | undefined;
  const loadLib = (): Promise<typeof import("google-auth-library")> => {
    // The SDK's own debug logging goes through our scrubbing logger, as in the provider.
    lib ??= routeSdkLogs(o.env, log).then(() => import("google-auth-library"));
    return lib;
  };
  let source: TokenSource;
  try {
    const net = await network(o.env, log);
    source = route.workload
      ? discoverWorkload(route, ctx, await loadLib(), net)
      : await discoverDefault(route, ctx, loadLib, net);
  } catch (e) {
    const why = scrub(oneLine(e));
    if (e instanceof NoIdentityError) {
      stepsFor(undefined, "");
      return { plan, steps, none: true, error: why };
    }
    const first = plan.sources.find((s) => s.status === "selected");
    stepsFor(first?.kind, "", why);
    return { plan, steps, error: why };
  }
  stepsFor(usedKind(source), source.describe);
  const out: WhoAmI = { plan, steps };
  let token = o.token;
  try {
    if (!token) {
      const got = await withDeadline(
        source.client.getAccessToken(),
        o.timeoutMs * 3,
        () => new Error(`no answer within ${(o.timeoutMs * 3) / 1000} s`),
      );
      token = got.token ?? undefined;
      if (!token) throw new Error("no access token returned");
    }
  } catch (e) {
    out.error = `${source.describe}: the token exchange failed: ${scrub(oneLine(e))}`;
    return out;
  }
  const email = (source.client as { email?: string }).email;
  if (source.impersonate) {
    out.principal = `serviceAccount:${source.impersonate}`;
    out.via = "impersonation (the token exchange succeeded)";
    if (email) out.basePrincipal = `serviceAccount:${email}`;
    return out;
  }
  if (email) {
    out.principal = `serviceAccount:${email}`;
    out.via = "the key file's client_email, confirmed by the token exchange";
    return out;
  }
  if (source.kind === "metadata") {
    const m = await metadataEmail(metadataBase(o.env), o.timeoutMs);
    if (m) {
      out.principal = `serviceAccount:${m}`;
      out.via = "the metadata server's e-mail for its default service account";
      return out;
    }
  }
  try {
    const net = await network(o.env, log);
    const L = await loadLib();
    const client = new L.OAuth2Client({ transporterOptions: transporterOptionsFor(ctx, net, L) });
    const info = await withDeadline(
      client.getTokenInfo(token),
      o.timeoutMs * 2,
      () => new Error(`tokeninfo did not answer within ${(o.timeoutMs * 2) / 1000} s`),
    );
    if (info.email) out.principal = `user:${info.email}`;
    else if (info.azp) out.principal = `client ${info.azp}`;
    out.via = "tokeninfo";
  } catch (e) {
    out.via = "tokeninfo";
    out.principal = source.kind === "workload" ? `federated (${source.describe})` : undefined;
    if (!out.principal) out.error = `tokeninfo failed: ${scrub(oneLine(e))}`;
  }
  return out;
};
