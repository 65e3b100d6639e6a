// Our own cloud fetchers as a source: genuine cloud hosts only (resolver + hosts.ts), answered by
// the credential core in process (a host no cloud serves is a NoRouteError: nothing, quietly). Part of the plugin keyring: the kubelet would get these
// credentials from a plugin, after every Docker-config credential.

import { NoIdentityError, NotFoundError, oneLine } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { parseServerUrl } from "../../registry/hosts.ts";
import type { ImageRef } from "../../registry/image.ts";
import { bounded, type Core } from "../core.ts";
import type { SingleFlight } from "../exec.ts";
import type { Found } from "../match.ts";

export interface BuiltinSourceDeps {
  log: Logger;
  core: Core;
  flight: SingleFlight<Found>;
  timeoutMs: number;
}

export const builtinCredentials = async (d: BuiltinSourceDeps, ref: ImageRef): Promise<Found[]> => {
  const host = parseServerUrl(ref.registry)?.host;
  if (host === undefined) return [];
  const settings = await d.core.settings();
  if (!settings) return [];
  try {
    const found = await d.flight.do(host, async () => {
      const a = await bounded(d.core.credentials(host, settings), d.timeoutMs);
      return {
        credential: { username: a.username, password: a.secret },
        source: `built-in ${a.route.provider} (${a.route.identity.label})`,
      };
    });
    return [found];
  } catch (e) {
    if (e instanceof NotFoundError) d.log.debug(`built-in fetcher for ${host}: ${oneLine(e)}`);
    else if (e instanceof NoIdentityError) d.log.info(`built-in fetcher for ${host}: ${oneLine(e)}`);
    else d.log.warn(`built-in fetcher for ${host}: ${oneLine(e)}; skipped`);
    return [];
  }
};
