// The error taxonomy is the control flow (see docs/architecture.md):
// - NotFoundError: we hold no credentials for this host; clients fall back to anonymous.
// - NoIdentityError: the host is ours but this machine has no identity for its cloud.
//   Treated like NotFound on the wire (public images keep pulling), plus a hint on stderr.
// - UsageError: the caller sent something we cannot read (bad JSON, missing server URL).
// - ConfigError: a configuration file is malformed; names the file.
// - ProviderError: an identity exists but the cloud refused or failed; one line naming cause and next step.
// Every message is a single line without secrets.

export class NotFoundError extends Error {
  override name = "NotFoundError";
}

/** No provider serves this host at all (no route): a NotFoundError the adapters may log apart. */
export class NoRouteError extends NotFoundError {
  override name = "NotFoundError";
}

export class NoIdentityError extends Error {
  override name = "NoIdentityError";
}

export class UsageError extends Error {
  override name = "UsageError";
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

export class ProviderError extends Error {
  override name = "ProviderError";
}

/** One line, no stack: what a user sees for any error we did not anticipate. */
export const oneLine = (e: unknown): string => {
  const text = e instanceof Error ? e.message || e.name : String(e);
  return text.replace(/\s*\n\s*/g, " ").trim();
};

/**
 * A message line that may quote what the user gave (an option, a host, a path, a reference): every
 * run of more than `max` non-space characters is shortened, so a huge input is never echoed back.
 */
export const clipLine = (text: string, max = 300): string =>
  text.replace(new RegExp(`\\S{${max + 1},}`, "g"), (w) => `${w.slice(0, max)}… (${w.length} characters)`);
