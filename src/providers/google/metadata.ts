// The metadata server (GCE, GKE, Cloud Run): where it is, and whether it is there. Link-local
// metadata is never reached through a proxy, so the probe is plain node:http, not gaxios.

import { request as httpRequest } from "node:http";
import type { Env } from "../../env.ts";
import { ConfigError } from "../../errors.ts";
import { reachable } from "../network.ts";
import { DETECTION_MODES, METADATA_PROBE_MS } from "./constants.ts";

type GoogleAuthLib = typeof import("google-auth-library");
/** The SDK, imported on first need: a machine with no Google identity at all never loads it. */
export type LoadLib = () => Promise<GoogleAuthLib>;

export const metadataBase = (env: Env): string => {
  const raw = env.GCE_METADATA_IP || env.GCE_METADATA_HOST || "169.254.169.254";
  return /^https?:\/\//.test(raw) ? raw.replace(/\/+$/, "") : `http://${raw}`;
};

/** True when something that identifies as a Google metadata server answers at `base` in time. */
export const probeMetadata = (base: string, timeoutMs: number): Promise<boolean> =>
  new Promise((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const done = (v: boolean) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        resolve(v);
      }
    };
    let req: ReturnType<typeof httpRequest>;
    try {
      // Link-local metadata is never reached through a proxy, so plain node:http, not gaxios.
      req = httpRequest(`${base}/computeMetadata/v1/instance/`, {
        headers: { "Metadata-Flavor": "Google" },
      });
    } catch {
      done(false);
      return;
    }
    timer = setTimeout(() => {
      req.destroy();
      done(false);
    }, timeoutMs);
    req.on("response", (res) => {
      const ok = (res.statusCode ?? 0) < 400 && res.headers["metadata-flavor"] === "Google";
      res.resume();
      req.destroy();
      done(ok);
    });
    req.on("error", () => done(false));
    req.end();
  });

/** METADATA_SERVER_DETECTION as google-auth-library reads it, with a short probe by default. */
export const metadataPresent = async (env: Env, lib: LoadLib, timeoutMs: number): Promise<boolean> => {
  const mode = (env.METADATA_SERVER_DETECTION ?? "").trim().toLowerCase();
  if (mode !== "" && !(DETECTION_MODES as readonly string[]).includes(mode)) {
    throw new ConfigError(
      `METADATA_SERVER_DETECTION: must be one of ${DETECTION_MODES.join(", ")} or unset, got "${mode}"`,
    );
  }
  switch (mode) {
    case "assume-present":
      return true;
    case "none":
      return false;
    case "bios-only":
      return (await lib()).gcpMetadata.getGCPResidency();
    case "ping-only":
      return probeMetadata(metadataBase(env), timeoutMs);
    default: {
      // First whether anything accepts a connection there at all (a laptop drops link-local
      // packets: this is what it pays, once per negative-cache period, and it loads no SDK).
      const u = new URL(metadataBase(env));
      if (!(await reachable(u.hostname, Number(u.port) || 80))) return false;
      return (await probeMetadata(metadataBase(env), METADATA_PROBE_MS)) || (await lib()).gcpMetadata.getGCPResidency();
    }
  }
};
