// The one cross-process file lock (proper-lockfile, imported only when a lock is taken): used by
// the token cache (cache/cache.ts) and the credential store (store/files.ts).

export interface LockOptions {
  /** The lock file (a directory proper-lockfile creates). */
  lockfilePath: string;
  /** How long to wait for another holder, in ms. */
  waitMs: number;
  /** Poll interval in ms, and the longest backoff between polls. */
  interval: number;
  maxInterval: number;
  /** The default handler throws from a timer, which would kill the process mid-write. */
  onCompromised: (e: Error) => void;
  /** The error to throw when the lock cannot be taken (the acquisition error only, never fn's). */
  unavailable: (e: NodeJS.ErrnoException) => Error;
  /** Told when releasing fails; ignored when absent. */
  onReleaseError?: (e: Error) => void;
}

/** Runs `fn` holding the lock on `target`. */
export const withFileLock = async <T>(target: string, o: LockOptions, fn: () => Promise<T>): Promise<T> => {
  const { lock } = await import("proper-lockfile");
  let release: () => Promise<void>;
  try {
    release = await lock(target, {
      lockfilePath: o.lockfilePath,
      realpath: false,
      stale: 15_000,
      update: 5_000,
      retries: {
        retries: Math.ceil(o.waitMs / o.interval),
        factor: 1,
        minTimeout: o.interval,
        maxTimeout: o.maxInterval,
      },
      onCompromised: o.onCompromised,
    });
  } catch (e) {
    throw o.unavailable(e as NodeJS.ErrnoException);
  }
  try {
    return await fn();
  } finally {
    await release().catch((e: Error) => o.onReleaseError?.(e));
  }
};
