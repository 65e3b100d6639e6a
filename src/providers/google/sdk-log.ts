// google-auth-library and gaxios log through google-logging-utils when GOOGLE_SDK_NODE_LOGGING is
// set, and their default backend prints request and response bodies (access tokens, signed
// assertions) to stderr. Installed before the library is first used, this backend sends those
// lines through our logger at debug level instead: the message with every object argument
// (bodies, headers, configs) left out, then scrubbed.

import { format } from "node:util";
import type { Env } from "../../env.ts";
import type { Logger } from "../../log.ts";
import { scrub } from "../../log.ts";

export const routeSdkLogs = async (env: Env, log: Logger): Promise<void> => {
  if (!env.GOOGLE_SDK_NODE_LOGGING) return;
  const utils = await import("google-logging-utils");
  utils.setBackend({
    log(namespace: string, _fields: unknown, ...args: unknown[]) {
      const safe = args.map((a) => (typeof a === "object" && a !== null ? "[…]" : a));
      log.debug(`google sdk ${namespace}: ${scrub(format(...safe))}`);
    },
    setFilters() {},
  });
};
