// The token cache shared by every process of a user: one versioned JSON file in a 0700
// directory, written atomically (temp file + rename) with mode 0600 under a short file lock, plus
// a per-key lock held while one process fetches, so N concurrent misses make one upstream call.
//
// The cache-hit path is `read()`: one open, fstat and read (fsafe.ts: the file must be ours and
// not a symlink) and one JSON.parse. The locking and atomic-write libraries are imported only on
// the miss path.
//
// A directory or file that fails fsafe.ts's checks (another user's, group/world-writable, a
// symlink) never makes a pull fail: the token is fetched as if the cache were off, nothing is
// written there, and one warning says which path and how to fix it.

import { fs, path } from "../builtins.ts";
import { ensurePrivateDir, readOwnFile, UnsafePathError, writeOwnFile } from "../fsafe.ts";
import { digest } from "../hash.ts";
import { withFileLock } from "../lock.ts";
import { type Entry, isLive, validEntry } from "./entry.ts";

// Entry kinds (entry.ts): cloud tokens, "no identity here", and kubelet plugin answers (added
// without a version change: a reader that does not know a kind drops those entries, nothing else).
export const CACHE_VERSION = 1;
const FILE = "tokens.json";

export interface TokenCache {
  read(key: string): Promise<Entry | undefined>;
  readAll(): Promise<Record<string, Entry>>;
  /** Runs `fn` while holding the cross-process lock for `key`. */
  withLock<T>(key: string, fn: () => Promise<T>): Promise<T>;
  put(key: string, entry: Entry): Promise<void>;
  /** Removes every entry for which `drop(key, entry)` is true. */
  remove(drop: (key: string, entry: Entry) => boolean): Promise<number>;
}

export interface CacheOptions {
  now: () => number;
  /** How long a process waits for another one's fetch before giving up. */
  lockWaitMs: number;
  onWarning?: (msg: string) => void;
}

const parse = (text: string): Record<string, Entry> => {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return {};
  }
  if (typeof raw !== "object" || raw === null) return {};
  const { version, entries } = raw as { version?: unknown; entries?: unknown };
  if (version !== CACHE_VERSION || typeof entries !== "object" || entries === null) return {};
  const out: Record<string, Entry> = {};
  for (const [k, v] of Object.entries(entries)) {
    const e = validEntry(v);
    if (e) out[k] = e;
  }
  return out;
};

/** The cross-process lock could not be taken (unwritable directory, or waited too long). */
export class LockUnavailableError extends Error {
  override name = "LockUnavailableError";
}

const lockName = (key: string): string => digest(key);

export const fileCache = (dir: string, opts: CacheOptions): TokenCache => {
  const file = path.join(dir, FILE);
  const warn = opts.onWarning ?? (() => {});
  const warned = new Set<string>();
  const warnOnce = (msg: string) => {
    if (warned.has(msg)) return;
    warned.add(msg);
    warn(msg);
  };
  /** Set once the directory failed its check: the cache is off for the rest of this run. */
  let disabled = false;
  const unsafeFile = (e: UnsafePathError) => warnOnce(`token cache file not used: ${e.message}`);

  /** The entries; throws UnsafePathError for a file that is not ours. */
  const load = (): Record<string, Entry> => {
    if (disabled) return {};
    let text: string | undefined;
    try {
      text = readOwnFile(file)?.text;
    } catch (e) {
      if (e instanceof UnsafePathError) throw e;
      return {}; // unreadable: treated as empty and rewritten on the next put
    }
    return text === undefined ? {} : parse(text);
  };

  const readAll = async (): Promise<Record<string, Entry>> => {
    try {
      return load();
    } catch (e) {
      unsafeFile(e as UnsafePathError);
      return {};
    }
  };

  /**
   * Creates and checks the directory. False when it is not safe to use (the cache is then off for
   * this run, with one warning); a directory that cannot be created is a LockUnavailableError.
   */
  const ready = (): boolean => {
    if (disabled) return false;
    let why: string | null;
    try {
      why = ensurePrivateDir(dir);
      if (!why) fs.mkdirSync(path.join(dir, "locks"), { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new LockUnavailableError(`${dir}: ${(e as Error).message}`);
    }
    if (why) {
      disabled = true;
      warnOnce(`token cache disabled for this run: ${why}`);
    }
    return !why;
  };

  // proper-lockfile tracks held locks by its first argument, so each lock is named by its own
  // path (one shared name would let the nested file lock's release orphan the key lock).
  const locked = <T>(lockPath: string, waitMs: number, fn: () => Promise<T>): Promise<T> =>
    withFileLock(
      lockPath,
      {
        lockfilePath: lockPath,
        waitMs,
        interval: 25,
        maxInterval: 50,
        onCompromised: (e) => warn(`cache lock ${lockPath} was compromised: ${e.message}`),
        unavailable: (e) => new LockUnavailableError(`${lockPath}: ${e.message}`),
        onReleaseError: (e) => warn(`could not release cache lock ${lockPath}: ${e.message}`),
      },
      fn,
    );

  const rewrite = async (change: (entries: Record<string, Entry>) => number): Promise<number> => {
    if (!ready()) return 0;
    return locked(path.join(dir, `${FILE}.lock`), 10_000, async () => {
      try {
        const entries = load();
        const now = opts.now();
        for (const [k, e] of Object.entries(entries)) if (!isLive(e, now)) delete entries[k];
        const changed = change(entries);
        await writeOwnFile(file, `${JSON.stringify({ version: CACHE_VERSION, entries })}\n`);
        return changed;
      } catch (e) {
        if (!(e instanceof UnsafePathError)) throw e;
        unsafeFile(e);
        return 0;
      }
    });
  };

  return {
    readAll,
    read: async (key) => (await readAll())[key],
    withLock: async (key, fn) => (ready() ? locked(path.join(dir, "locks", lockName(key)), opts.lockWaitMs, fn) : fn()),
    put: async (key, entry) => {
      await rewrite((entries) => {
        entries[key] = entry;
        return 1;
      });
    },
    remove: (drop) =>
      rewrite((entries) => {
        let n = 0;
        for (const [k, e] of Object.entries(entries)) {
          if (drop(k, e)) {
            delete entries[k];
            n++;
          }
        }
        return n;
      }),
  };
};

/** The cache when disabled: every lookup misses, nothing is written. */
export const noCache: TokenCache = {
  read: async () => undefined,
  readAll: async () => ({}),
  withLock: (_key, fn) => fn(),
  put: async () => {},
  remove: async () => 0,
};
