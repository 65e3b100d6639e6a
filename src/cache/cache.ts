// The token cache shared by every process of a user: one versioned JSON file in a 0700
// directory, written atomically (temp file + rename) with mode 0600 under a short file lock, plus
// a per-key lock held while one process fetches, so N concurrent misses make one upstream call.
//
// The cache-hit path is `read()`: one readFile and one JSON.parse. The locking and atomic-write
// libraries are imported only on the miss path.

import { fs, path } from "../builtins.ts";
import { digest } from "../identity/hash.ts";
import { type Entry, isLive, validEntry } from "./entry.ts";

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

  const readAll = async (): Promise<Record<string, Entry>> => {
    try {
      return parse(fs.readFileSync(file, "utf8"));
    } catch {
      return {}; // missing or unreadable: treated as empty and rewritten on the next put
    }
  };

  const ensureDir = async (): Promise<void> => {
    fs.mkdirSync(path.join(dir, "locks"), { recursive: true, mode: 0o700 });
  };

  const locked = async <T>(lockPath: string, waitMs: number, fn: () => Promise<T>): Promise<T> => {
    const { lock } = await import("proper-lockfile");
    const interval = 25;
    // proper-lockfile tracks held locks by its first argument, so each lock is named by its own
    // path (one shared name would let the nested file lock's release orphan the key lock).
    let release: () => Promise<void>;
    try {
      await ensureDir();
      release = await lock(lockPath, {
        lockfilePath: lockPath,
        realpath: false,
        stale: 15_000,
        update: 5_000,
        retries: { retries: Math.ceil(waitMs / interval), factor: 1, minTimeout: interval, maxTimeout: interval * 2 },
        onCompromised: (e) => warn(`cache lock ${lockPath} was compromised: ${e.message}`),
      });
    } catch (e) {
      throw new LockUnavailableError(`${lockPath}: ${(e as Error).message}`);
    }
    try {
      return await fn();
    } finally {
      await release().catch((e: Error) => warn(`could not release cache lock ${lockPath}: ${e.message}`));
    }
  };

  const rewrite = async (change: (entries: Record<string, Entry>) => number): Promise<number> =>
    locked(path.join(dir, `${FILE}.lock`), 10_000, async () => {
      const entries = await readAll();
      const now = opts.now();
      for (const [k, e] of Object.entries(entries)) if (!isLive(e, now)) delete entries[k];
      const changed = change(entries);
      const { default: writeFileAtomic } = await import("write-file-atomic");
      await writeFileAtomic(file, `${JSON.stringify({ version: CACHE_VERSION, entries })}\n`, { mode: 0o600 });
      return changed;
    });

  return {
    readAll,
    read: async (key) => (await readAll())[key],
    withLock: (key, fn) => locked(path.join(dir, "locks", lockName(key)), opts.lockWaitMs, fn),
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
