// Our own cloud fetchers as a source: genuine cloud hosts only (resolver + hosts.ts), answered by
// the credential core in process. Part of the plugin keyring: the kubelet would get these
// credentials from a plugin, after every Docker-config credential.

import { NoIdentityError, NotFoundError, oneLine } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { parseServerUrl } from "../../registry/hosts.ts";
import type { ImageRef } from "../../registry/image.ts";
import { bounded, type Core } from "../core.ts";
import type { SingleFlight } from "../exec.ts";
import type { Credential, Found } from "../match.ts";

export interface BuiltinSourceDeps {
  log: Logger;
  core: Core;
  flight: SingleFlight<Credential | null>;
  timeoutMs: number;
}

export const builtinCredentials = async (d: BuiltinSourceDeps, ref: ImageRef): Promise<Found[]> => {
  const host = parseServerUrl(ref.registry)?.host;
  if (host === undefined) return [];
  const settings = await d.core.settings();
  if (!settings) return [];
  try {
    const route = d.core.route(host, settings);
    if (!route) return [];
    const c = await d.flight.do(route.cacheKey, async () => {
      const creds = await bounded(d.core.token(route, settings), d.timeoutMs);
      return { username: creds.username, password: creds.secret };
    });
    return c ? [{ credential: c, source: `built-in ${route.provider} (${route.identity.label})` }] : [];
  } catch (e) {
    if (e instanceof NotFoundError) d.log.debug(`built-in fetcher for ${host}: ${oneLine(e)}`);
    else if (e instanceof NoIdentityError) d.log.info(`built-in fetcher for ${host}: ${oneLine(e)}`);
    else d.log.warn(`built-in fetcher for ${host}: ${oneLine(e)}; skipped`);
    return [];
  }
};
