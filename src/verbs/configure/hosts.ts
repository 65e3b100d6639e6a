// Registry names as the clients key their configs: an exact host[:port], no scheme, no path.

import { UsageError } from "../../errors.ts";
import { parseServerUrl } from "../../registry/hosts.ts";

/** "https://Host:443/" → "host"; a wildcard or a path is refused (the clients match exact keys). */
export const exactHost = (input: string): string => {
  if (input.includes("*")) {
    throw new UsageError(
      `--registry ${input}: Docker and containers/image match exact host names, not wildcards; name each registry (or use --creds-store / configure podman's drop-in for all)`,
    );
  }
  const ref = parseServerUrl(input);
  if (!ref || ref.host === "") throw new UsageError(`--registry ${JSON.stringify(input)}: not a registry host name`);
  if (ref.path !== "" && ref.path !== "/") {
    throw new UsageError(
      `--registry ${input}: name the host only (credHelpers are keyed by registry host, not by repository)`,
    );
  }
  return ref.host;
};
