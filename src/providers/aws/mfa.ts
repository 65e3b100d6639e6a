// AWS profiles with `mfa_serial` (a role assumed with MFA, `role_arn` + `source_profile` or
// `credential_source`, as the AWS CLI reads them). Imported on a cache miss only.
//
// The code is asked for on the terminal (mfa-prompt.ts) before the fetch's deadline starts, only
// when no usable session is cached, and only when the caller allows it (the Docker helper's `get`;
// never the kubelet plugin, `pull-secrets` or the library). One process at a time asks for a given
// session (a lock next to its cache file): a concurrent one waits, then reads the session the first
// one cached instead of asking again. Sessions are cached exactly as the AWS CLI caches them
// (mfa-cache.ts). The code itself is never logged, cached or put in a message.

import type { AwsCredentialIdentity } from "@aws-sdk/types";
import { path } from "../../builtins.ts";
import type { Env } from "../../env.ts";
import { ProviderError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import type { Interaction } from "../types.ts";
import {
  ensureSessionDir,
  type Profile,
  readSession,
  type SessionCredentials,
  sessionFile,
  writeSession,
} from "./mfa-cache.ts";
import { NoTerminalError, PromptCancelled, type TerminalPrompt, ttyPrompt } from "./mfa-prompt.ts";

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
  const roles: MfaRole[] = [];
  const seen = new Set<string>();
  for (let name: string | undefined = profile; name && !seen.has(name); ) {
    seen.add(name);
    const p: Profile | undefined = profiles[name];
    if (!p?.role_arn) break;
    if (p.mfa_serial) {
      const cacheFile = sessionFile(o.home, p);
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
    ensureSessionDir(r.cacheFile);
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
