// Logs go to stderr only (stdout is protocol). The level comes from DOCKER_CREDENTIAL_CLOUD_LOG.
// Callers never pass secrets; scrub() is a second line of defence for values that came from
// elsewhere (SDK error messages may echo request bodies).

export const LEVELS = ["silent", "error", "warn", "info", "debug"] as const;
export type Level = (typeof LEVELS)[number];

export interface Logger {
  readonly level: Level;
  error(msg: string): void;
  warn(msg: string): void;
  info(msg: string): void;
  debug(msg: string): void;
}

export const parseLevel = (raw: string | undefined): Level => {
  const v = (raw ?? "").trim().toLowerCase();
  return (LEVELS as readonly string[]).includes(v) ? (v as Level) : "warn";
};

// JWTs, long base64 runs and AWS secret-shaped strings are replaced before anything is written.
// A long run is token-like only if it mixes upper case, lower case and digits (base64 of random
// bytes always does); a run with several "/" is a path or resource name (e.g. a workload identity
// pool audience) and an all-capitals run is a variable name: both are kept.
const SECRETISH = /eyJ[\w-]{8,}\.[\w-]*\.?[\w-]*|[A-Za-z0-9+/_-]{40,}={0,2}/g;
const tokenLike = (m: string): boolean =>
  m.startsWith("eyJ") || (m.split("/").length <= 3 && /[a-z]/.test(m) && /[A-Z]/.test(m) && /[0-9]/.test(m));
// The user and password of a URL (a proxy's, as HTTPS_PROXY=http://user:pass@host carries them);
// the placeholder "user:pass" of our own hints is kept.
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@'"]+)@/gi;
export const scrub = (s: string): string =>
  s
    .replace(URL_CREDENTIALS, (m, scheme: string, info: string) => (info === "user:pass" ? m : `${scheme}[redacted]@`))
    .replace(SECRETISH, (m) => (tokenLike(m) ? "[redacted]" : m));

export const createLogger = (level: Level, write: (line: string) => void): Logger => {
  const rank = LEVELS.indexOf(level);
  const at =
    (l: Level) =>
    (msg: string): void => {
      if (LEVELS.indexOf(l) <= rank) write(`docker-credential-cloud: ${l}: ${scrub(msg)}\n`);
    };
  return { level, error: at("error"), warn: at("warn"), info: at("info"), debug: at("debug") };
};

export const silentLogger: Logger = createLogger("silent", () => {});

/**
 * How error lines quote input: JSON-quoted, scrubbed, at most `max` characters of it (a 1 MB
 * request must not produce a 1 MB error line).
 */
export const excerpt = (s: string, max = 64): string =>
  s.length <= max ? JSON.stringify(scrub(s)) : `${JSON.stringify(scrub(s.slice(0, max)))}… (${s.length} characters)`;
