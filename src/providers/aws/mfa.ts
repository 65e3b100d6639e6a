// AWS profiles with `mfa_serial` (a role assumed with MFA, `role_arn` + `source_profile` or
// `credential_source`, as the AWS CLI reads them). Imported on a cache miss only.
//
// The code is asked for on the terminal (/dev/tty: stdin and stdout carry the helper protocol),
// before the fetch's deadline starts, and only when no usable session is cached. Sessions are
// cached exactly as the AWS CLI caches them, so one `aws` command and this helper share them both
// ways: ~/.aws/cli/cache/<sha1>.json, the SHA-1 of the AssumeRole arguments that define the
// session (RoleArn, SerialNumber, ExternalId, a configured RoleSessionName and DurationSeconds)
// as Python's json.dumps(sort_keys=True) writes them; the AssumeRole answer's "Credentials" inside;
// a session within 15 minutes of its expiry is not used (botocore CachedCredentialFetcher).
// The code itself is never logged, cached or put in a message.

import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import type { AwsCredentialIdentity } from "@aws-sdk/types";
import { path } from "../../builtins.ts";
import type { Env } from "../../env.ts";
import { ProviderError } from "../../errors.ts";
import { ensurePrivateDir, readOwnFile, writeOwnFile } from "../../fsafe.ts";
import type { Logger } from "../../log.ts";

/** The AWS CLI does not use a cached session that expires within this window. */
export const EXPIRY_WINDOW_MS = 15 * 60_000;

type Profile = Record<string, string | undefined>;

export interface SessionCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
  accountId?: string;
}

/** One profile of the chain that assumes its role with MFA. */
export interface MfaRole {
  profile: string;
  roleArn: string;
  serial: string;
  externalId: string | undefined;
  /** ~/.aws/cli/cache/<key>.json */
  cacheFile: string;
  /** A session from that file, valid for longer than the expiry window. */
  cached: SessionCredentials | undefined;
}

export interface MfaSetup {
  /** The named profile's own MFA session, from the cache: used as is (no SDK chain, no prompt). */
  cached: SessionCredentials | undefined;
  roles: MfaRole[];
  /** For fromIni: the code typed for a serial ("" for a role whose session is cached). */
  codeFor: (serial: string) => Promise<string>;
}

/** Reads one line from the terminal after writing `prompt` to it; throws NoTerminal without one. */
export type TerminalPrompt = (prompt: string) => Promise<string>;

export class NoTerminalError extends Error {
  override name = "NoTerminalError";
}

/** The controlling terminal, as getpass uses it: the line typed (echoed, as aws-vault's prompt). */
export const ttyPrompt: TerminalPrompt = async (prompt) => {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open("/dev/tty", "r+");
  } catch (e) {
    throw new NoTerminalError((e as NodeJS.ErrnoException).code ?? "no terminal");
  }
  try {
    await fh.write(prompt);
    const buf = Buffer.alloc(1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, null);
    return buf.subarray(0, bytesRead).toString("utf8");
  } finally {
    await fh.close();
  }
};

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

const readSession = (file: string, now: number, log: Logger): SessionCredentials | undefined => {
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
    const why = ensurePrivateDir(path.dirname(file));
    if (why) throw new Error(why);
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

const loadProfiles = async (env: Env, home: string): Promise<Record<string, Profile>> => {
  const { parseKnownFiles } = await import("@smithy/core/config");
  return (await parseKnownFiles({
    filepath: env.AWS_SHARED_CREDENTIALS_FILE || path.join(home, ".aws", "credentials"),
    configFilepath: env.AWS_CONFIG_FILE || path.join(home, ".aws", "config"),
    ignoreCache: true,
  })) as Record<string, Profile>;
};

/**
 * The MFA roles on `profile`'s chain (itself, then its source_profile, …), with their cached
 * sessions; codes are asked for (once per serial) for those without one. Undefined when the chain
 * has no mfa_serial, or the files cannot be read (then the SDK reports them).
 */
export const prepareMfa = async (
  profile: string,
  o: { env: Env; home: string; log: Logger; now: number; prompt?: TerminalPrompt },
): Promise<MfaSetup | undefined> => {
  let profiles: Record<string, Profile>;
  try {
    profiles = await loadProfiles(o.env, o.home);
  } catch {
    return undefined;
  }
  const cacheDir = path.join(o.home, ".aws", "cli", "cache");
  const roles: MfaRole[] = [];
  const seen = new Set<string>();
  for (let name: string | undefined = profile; name && !seen.has(name); ) {
    seen.add(name);
    const p: Profile | undefined = profiles[name];
    if (!p?.role_arn) break;
    if (p.mfa_serial) {
      const cacheFile = path.join(cacheDir, `${cliCacheKey(p)}.json`);
      roles.push({
        profile: name,
        roleArn: p.role_arn,
        serial: p.mfa_serial,
        externalId: p.external_id,
        cacheFile,
        cached: readSession(cacheFile, o.now, o.log),
      });
    }
    name = p.source_profile;
  }
  if (roles.length === 0) return undefined;
  const top = roles[0]?.profile === profile ? roles[0]?.cached : undefined;
  const codes = new Map<string, string>();
  if (!top) {
    for (const r of roles) {
      if (r.cached || codes.has(r.serial)) continue;
      o.log.debug(`aws: profile ${r.profile} assumes ${r.roleArn} with MFA ${r.serial}; no cached session: asking`);
      codes.set(r.serial, await askCode(r, o.prompt ?? ttyPrompt));
    }
  } else {
    o.log.debug(`aws: profile ${profile}: using the cached MFA session ${path.basename(roles[0]?.cacheFile ?? "")}`);
  }
  return { cached: top, roles, codeFor: async (serial) => codes.get(serial) ?? "" };
};

const askCode = async (r: MfaRole, prompt: TerminalPrompt): Promise<string> => {
  let line: string;
  try {
    line = await prompt(`Enter MFA code for ${r.serial}: `);
  } catch (e) {
    if (!(e instanceof NoTerminalError)) throw e;
    throw new ProviderError(
      `AWS profile ${r.profile} needs an MFA code (${r.serial}) and there is no terminal to ask on: run \`aws sts get-caller-identity --profile ${r.profile}\` in a terminal, which caches a session in ~/.aws/cli/cache that is used here until it expires`,
    );
  }
  const code = line.trim();
  if (code === "") throw new ProviderError(`no MFA code entered for ${r.serial} (profile ${r.profile})`);
  if (!/^\d{6}$/.test(code)) {
    throw new ProviderError(`the MFA code for ${r.serial} must be 6 digits (profile ${r.profile})`);
  }
  return code;
};

interface AssumeParams {
  RoleArn?: string;
  SerialNumber?: string;
  ExternalId?: string;
}
type RoleAssumer<S, P extends AssumeParams> = (source: S, params: P) => Promise<AwsCredentialIdentity>;

/**
 * Wraps the SDK's role assumer: an MFA role with a cached session gets that session (the code is
 * not sent), a fresh MFA session is written to the cache; other roles pass through.
 */
export const cachingRoleAssumer =
  <S, P extends AssumeParams>(base: RoleAssumer<S, P>, setup: MfaSetup, log: Logger): RoleAssumer<S, P> =>
  async (source, params) => {
    const role = setup.roles.find(
      (r) => r.roleArn === params.RoleArn && r.serial === params.SerialNumber && r.externalId === params.ExternalId,
    );
    if (role?.cached) return role.cached;
    const creds = await base(source, params);
    const { accessKeyId, secretAccessKey, sessionToken, expiration } = creds;
    if (role && sessionToken && expiration) {
      await writeSession(
        role.cacheFile,
        {
          accessKeyId,
          secretAccessKey,
          sessionToken,
          expiration,
          ...(creds.accountId ? { accountId: creds.accountId } : {}),
        },
        log,
      );
    }
    return creds;
  };
