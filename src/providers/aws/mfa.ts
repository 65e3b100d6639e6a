// AWS profiles with `mfa_serial` (a role assumed with MFA, `role_arn` + `source_profile` or
// `credential_source`, as the AWS CLI reads them). Imported on a cache miss only.
//
// The code is asked for on the terminal (/dev/tty: stdin and stdout carry the helper protocol),
// without echo (the terminal in raw mode, restored on every path, as getpass does), before the
// fetch's deadline starts, only when no usable session is cached, and only when the caller allows
// it (the Docker helper's `get`; never the kubelet plugin, `pull-secrets` or the library). One
// process at a time asks for a given session (a lock next to its cache file): a concurrent one
// waits, then reads the session the first one cached instead of asking again. Sessions are
// cached exactly as the AWS CLI caches them, so one `aws` command and this helper share them both
// ways: ~/.aws/cli/cache/<sha1>.json, the SHA-1 of the AssumeRole arguments that define the
// session (RoleArn, SerialNumber, ExternalId, a configured RoleSessionName and DurationSeconds)
// as Python's json.dumps(sort_keys=True) writes them; the AssumeRole answer's "Credentials" inside;
// a session within 15 minutes of its expiry is not used (botocore CachedCredentialFetcher).
// The code itself is never logged, cached or put in a message.

import { createHash } from "node:crypto";
import type { AwsCredentialIdentity } from "@aws-sdk/types";
import { fs, path } from "../../builtins.ts";
import type { Env } from "../../env.ts";
import { ProviderError } from "../../errors.ts";
import { ensurePrivateDir, readOwnFile, writeOwnFile } from "../../fsafe.ts";
import type { Logger } from "../../log.ts";
import type { Interaction } from "../types.ts";

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

/** Ctrl-C, Ctrl-D or a signal at the prompt: the fetch ends with this one line. */
export class PromptCancelled extends Error {
  override name = "PromptCancelled";
}

/** The longest line read at the prompt (a code is 6 digits; anything longer is refused anyway). */
const MAX_LINE = 256;

/**
 * The controlling terminal, as getpass uses it: the prompt written to /dev/tty, the line read
 * from it in raw mode without echo (Backspace and Ctrl-U edit; Enter ends; Ctrl-C and Ctrl-D
 * cancel). The terminal's mode is restored however it ends, a signal included.
 */
export const ttyPrompt: TerminalPrompt = async (prompt) => {
  let fd: number;
  let out: number;
  try {
    fd = fs.openSync("/dev/tty", "r");
  } catch (e) {
    throw new NoTerminalError((e as NodeJS.ErrnoException).code ?? "no terminal");
  }
  try {
    out = fs.openSync("/dev/tty", "w");
  } catch (e) {
    fs.closeSync(fd);
    throw new NoTerminalError((e as NodeJS.ErrnoException).code ?? "no terminal");
  }
  const tty = await import("node:tty");
  if (!tty.isatty(fd)) {
    fs.closeSync(fd);
    fs.closeSync(out);
    throw new NoTerminalError("/dev/tty is not a terminal");
  }
  // The stream owns fd from here (destroy closes it); `out` stays a plain blocking descriptor.
  const input = new tty.ReadStream(fd);
  let raw = false;
  const restore = () => {
    if (raw) {
      raw = false;
      try {
        input.setRawMode(false);
      } catch {}
    }
  };
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  let onSignal: (sig: NodeJS.Signals) => void = () => {};
  try {
    input.setRawMode(true);
    raw = true;
    // Echo is off before the prompt shows, so nothing typed after it appears on the screen.
    fs.writeSync(out, prompt);
    return await new Promise<string>((resolve, reject) => {
      let line = "";
      onSignal = (sig) => reject(new PromptCancelled(`the MFA prompt was interrupted (${sig})`));
      for (const sig of signals) process.on(sig, onSignal);
      input.on("error", (e) => reject(new NoTerminalError(e.message)));
      input.on("end", () => resolve(line));
      input.on("data", (chunk: Buffer | string) => {
        for (const ch of chunk.toString("utf8")) {
          if (ch === "\r" || ch === "\n") return resolve(line);
          if (ch === "\u0003") return reject(new PromptCancelled("the MFA prompt was interrupted (Ctrl-C)"));
          if (ch === "\u0004") {
            if (line === "") return reject(new PromptCancelled("the MFA prompt was closed (Ctrl-D)"));
            return resolve(line);
          }
          if (ch === "\u007f" || ch === "\b") line = line.slice(0, -1);
          else if (ch === "\u0015") line = "";
          else if (ch >= " " && line.length < MAX_LINE) line += ch;
        }
      });
    });
  } finally {
    for (const sig of signals) process.off(sig, onSignal);
    restore();
    input.destroy();
    try {
      // The Enter was not echoed: end the prompt's line.
      fs.writeSync(out, "\n");
    } catch {}
    fs.closeSync(out);
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

/** What finding a profile's MFA roles and their cached sessions reads. */
export interface MfaLookup {
  env: Env;
  home: string;
  log: Logger;
  now: () => number;
}

export interface MfaOptions extends MfaLookup {
  /** Whether a code may be asked for (see Interaction). */
  interaction: Interaction;
  /** The terminal prompt (ttyPrompt unless a test gives another). */
  prompt?: TerminalPrompt;
  /** How long to wait for another process asking for the same session's code. */
  lockWaitMs?: number;
}

/** Another process may be waiting for a person to type; wait about as long as a person may take. */
const LOCK_WAIT_MS = 10 * 60_000;

/**
 * The MFA roles on `profile`'s chain (itself, then its source_profile, …) with their cached
 * sessions; undefined when the chain has no mfa_serial or the files cannot be read (then the SDK
 * reports them).
 */
const mfaRoles = async (profile: string, o: MfaLookup): Promise<MfaRole[] | undefined> => {
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
        cached: readSession(cacheFile, o.now(), o.log),
      });
    }
    name = p.source_profile;
  }
  return roles.length > 0 ? roles : undefined;
};

/** The named profile's own cached session, when it has one: nothing below it is needed. */
const ownSession = (roles: MfaRole[], profile: string): SessionCredentials | undefined =>
  roles[0]?.profile === profile ? roles[0]?.cached : undefined;

/**
 * For the reports (doctor, explain), which never ask: `profile`'s MFA setup from cached sessions
 * alone (`setup`), or the first role on its chain that has no usable cached session (`missing`);
 * undefined when the chain has no mfa_serial.
 */
export const cachedMfa = async (
  profile: string,
  o: MfaLookup,
): Promise<{ setup: MfaSetup; missing?: undefined } | { missing: MfaRole } | undefined> => {
  const roles = await mfaRoles(profile, o);
  if (!roles) return undefined;
  const cached = ownSession(roles, profile);
  const missing = cached ? undefined : roles.find((r) => !r.cached);
  if (missing) return { missing };
  return { setup: { cached, roles, codeFor: async () => "" } };
};

/** The report's line for a role whose session is not cached (cachedMfa's `missing`). */
export const noCachedSession = (r: MfaRole): string =>
  `profile ${r.profile} needs an MFA code (mfa_serial ${r.serial}): no cached session; run \`docker-credential-cloud get\` or \`aws sts get-caller-identity --profile ${r.profile}\` in a terminal`;

/**
 * Runs `fn` with the MFA roles on `profile`'s chain and their cached sessions (mfaRoles); `fn`
 * gets undefined when there are none. A code is asked for (once per serial) for each role that
 * needs a fresh session, holding that session's lock until `fn` has assumed the role and cached
 * it; a process that had to wait for the lock reads the session again and asks only if it is
 * still missing.
 */
export const withMfa = async <T>(
  profile: string,
  o: MfaOptions,
  fn: (setup: MfaSetup | undefined) => Promise<T>,
): Promise<T> => {
  const roles = await mfaRoles(profile, o);
  if (!roles) return fn(undefined);
  const codes = new Map<string, string>();
  const setup: MfaSetup = { cached: undefined, roles, codeFor: async (serial) => codes.get(serial) ?? "" };
  const step = async (i: number): Promise<T> => {
    setup.cached = ownSession(roles, profile);
    const r = roles[i];
    if (setup.cached || !r) {
      if (setup.cached) o.log.debug(`aws: profile ${profile}: using the cached MFA session`);
      return fn(setup);
    }
    if (r.cached || codes.has(r.serial)) return step(i + 1);
    if (o.interaction !== "terminal") throw noCode(r, o.interaction.never);
    return lockedFor(r, o, async () => {
      // Another process may have asked and cached the session while this one waited.
      r.cached = readSession(r.cacheFile, o.now(), o.log);
      if (!r.cached) {
        o.log.debug(`aws: profile ${r.profile} assumes ${r.roleArn} with MFA ${r.serial}; no cached session: asking`);
        codes.set(r.serial, await askCode(r, o.prompt ?? ttyPrompt));
      } else o.log.debug(`aws: profile ${r.profile}: another process cached the MFA session meanwhile`);
      return step(i + 1);
    });
  };
  return step(0);
};

/**
 * Runs `fn` holding the lock of `r`'s session (`<cache file>.lock`, beside the file the AWS CLI
 * reads). A lock that cannot be taken for another reason than another holder (an unwritable
 * directory) is a warning: then `fn` runs without it.
 */
const lockedFor = async <T>(r: MfaRole, o: MfaOptions, fn: () => Promise<T>): Promise<T> => {
  const lockPath = `${r.cacheFile}.lock`;
  try {
    const why = ensurePrivateDir(path.dirname(r.cacheFile));
    if (why) throw new Error(why);
  } catch (e) {
    o.log.warn(`aws: asking for the MFA code without a lock: ${(e as Error).message}`);
    return fn();
  }
  const { withFileLock } = await import("../../lock.ts");
  let ran = false;
  try {
    return await withFileLock(
      lockPath,
      {
        lockfilePath: lockPath,
        waitMs: o.lockWaitMs ?? LOCK_WAIT_MS,
        interval: 200,
        maxInterval: 1000,
        onCompromised: (e) => o.log.warn(`aws: the MFA lock ${lockPath} was compromised: ${e.message}`),
        unavailable: (e) => new MfaLockError(e.code === "ELOCKED", e.message),
        onReleaseError: (e) => o.log.debug(`aws: could not release the MFA lock ${lockPath}: ${e.message}`),
      },
      () => {
        ran = true;
        return fn();
      },
    );
  } catch (e) {
    if (ran || !(e instanceof MfaLockError)) throw e;
    if (e.held) {
      throw new ProviderError(
        `another docker-credential-cloud process has been asking for the MFA code for ${r.serial} (profile ${r.profile}) for ${Math.round((o.lockWaitMs ?? LOCK_WAIT_MS) / 60_000)} minutes; answer it, or remove ${lockPath} if no such process is left`,
      );
    }
    o.log.warn(`aws: asking for the MFA code without a lock: ${e.message}`);
    return fn();
  }
};

/** The lock could not be taken: `held` when another process kept it for the whole wait. */
class MfaLockError extends Error {
  readonly held: boolean;
  constructor(held: boolean, message: string) {
    super(message);
    this.held = held;
  }
}

const noCode = (r: MfaRole, why: string): ProviderError =>
  new ProviderError(
    `AWS profile ${r.profile} needs an MFA code (${r.serial}) and ${why}: use a profile or role without MFA here, or cache a session with \`aws sts get-caller-identity --profile ${r.profile}\` in a terminal as this user (kept in ~/.aws/cli/cache and used here until it expires)`,
  );

const askCode = async (r: MfaRole, prompt: TerminalPrompt): Promise<string> => {
  let line: string;
  try {
    line = await prompt(`Enter MFA code for ${r.serial}: `);
  } catch (e) {
    if (e instanceof PromptCancelled) throw new ProviderError(`${e.message}; no MFA code sent for ${r.serial}`);
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
