// MFA sessions cached exactly as the AWS CLI caches them (mfa.ts), so one `aws` command and this
// helper share them both ways: ~/.aws/cli/cache/<sha1>.json, the SHA-1 of the AssumeRole arguments
// that define the session (RoleArn, SerialNumber, ExternalId, a configured RoleSessionName and
// DurationSeconds) as Python's json.dumps(sort_keys=True) writes them; the AssumeRole answer's
// "Credentials" inside; a session within 15 minutes of its expiry is not used (botocore
// CachedCredentialFetcher).

import { createHash } from "node:crypto";
import { path } from "../../builtins.ts";
import { ensurePrivateDir, readOwnFile, writeOwnFile } from "../../fsafe.ts";
import type { Logger } from "../../log.ts";

/** The AWS CLI does not use a cached session that expires within this window. */
const EXPIRY_WINDOW_MS = 15 * 60_000;

/** One section of the shared config/credentials files. */
export type Profile = Record<string, string | undefined>;

export interface SessionCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
  accountId?: string;
}

/** Python's json.dumps(obj, sort_keys=True) for string and integer values (ensure_ascii). */
const pythonJson = (args: Record<string, string | number>): string =>
  `{${Object.keys(args)
    .sort()
    .map((k) => `${JSON.stringify(k)}: ${JSON.stringify(args[k])}`)
    .join(", ")
    .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)}}`;

/**
 * The AWS CLI's cache key for a profile's AssumeRole (botocore _create_cache_key): the arguments
 * it would send before the code is typed, the generated session name left out.
 */
export const cliCacheKey = (p: Profile): string => {
  const args: Record<string, string | number> = { RoleArn: p.role_arn ?? "" };
  if (p.role_session_name) args.RoleSessionName = p.role_session_name;
  if (p.external_id !== undefined) args.ExternalId = p.external_id;
  if (p.mfa_serial !== undefined) args.SerialNumber = p.mfa_serial;
  if (p.duration_seconds !== undefined && /^\s*[+-]?\d+\s*$/.test(p.duration_seconds)) {
    args.DurationSeconds = Number.parseInt(p.duration_seconds, 10);
  }
  return createHash("sha1").update(pythonJson(args), "utf8").digest("hex");
};

/** ~/.aws/cli/cache/<key>.json: where the AWS CLI caches the session of profile `p`'s role. */
export const sessionFile = (home: string, p: Profile): string =>
  path.join(home, ".aws", "cli", "cache", `${cliCacheKey(p)}.json`);

/** Creates the (private) directory of a session file; throws why it cannot. */
export const ensureSessionDir = (file: string): void => {
  const why = ensurePrivateDir(path.dirname(file));
  if (why) throw new Error(why);
};

/** "2026-07-07T12:00:00UTC" (what the CLI writes), "…Z", "…+00:00", with optional fractions. */
const parseExpiration = (raw: unknown): number | undefined => {
  if (typeof raw !== "string") return undefined;
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)(Z|UTC|[+-]\d\d:?\d\d)$/.exec(raw.trim());
  if (!m) return undefined;
  const zone = m[2] === "UTC" ? "Z" : (m[2] ?? "");
  const t = Date.parse(`${m[1]}${zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone}`);
  return Number.isNaN(t) ? undefined : t;
};

/** The CLI's Expiration format: strftime('%Y-%m-%dT%H:%M:%S%Z') of a UTC time. */
const formatExpiration = (d: Date): string => `${d.toISOString().slice(0, 19)}UTC`;

/** The session cached in `file`, when it is valid for longer than the expiry window. */
export const readSession = (file: string, now: number, log: Logger): SessionCredentials | undefined => {
  let text: string;
  try {
    const f = readOwnFile(file);
    if (!f) return undefined;
    text = f.text;
  } catch (e) {
    log.warn(`aws: not using the cached MFA session ${file}: ${(e as Error).message}`);
    return undefined;
  }
  try {
    const c = (JSON.parse(text) as { Credentials?: Record<string, unknown> }).Credentials ?? {};
    const expires = parseExpiration(c.Expiration);
    const { AccessKeyId: id, SecretAccessKey: secret, SessionToken: session } = c;
    if (typeof id !== "string" || typeof secret !== "string" || typeof session !== "string" || !expires) {
      return undefined;
    }
    if (expires - now < EXPIRY_WINDOW_MS) {
      log.debug(`aws: the cached MFA session ${path.basename(file)} expires within 15 minutes; not used`);
      return undefined;
    }
    return {
      accessKeyId: id,
      secretAccessKey: secret,
      sessionToken: session,
      expiration: new Date(expires),
      ...(typeof c.AccountId === "string" ? { accountId: c.AccountId } : {}),
    };
  } catch {
    log.debug(`aws: the cached MFA session ${path.basename(file)} is not JSON; not used`);
    return undefined;
  }
};

/** Writes a session as the AWS CLI would (best effort: a failure is a warning, not an error). */
export const writeSession = async (file: string, c: SessionCredentials, log: Logger): Promise<void> => {
  try {
    ensureSessionDir(file);
    const body = {
      Credentials: {
        AccessKeyId: c.accessKeyId,
        SecretAccessKey: c.secretAccessKey,
        SessionToken: c.sessionToken,
        Expiration: formatExpiration(c.expiration),
        ...(c.accountId ? { AccountId: c.accountId } : {}),
      },
    };
    await writeOwnFile(file, JSON.stringify(body));
    log.debug(`aws: MFA session cached in ${file}`);
  } catch (e) {
    log.warn(`aws: could not cache the MFA session in ${file}: ${(e as Error).message}`);
  }
};
