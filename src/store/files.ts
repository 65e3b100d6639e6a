// Writers of the store's files (see readStoreFile in store.ts for the format and the rules):
// atomic replacement with mode 0600 in a 0700 directory, under one cross-process lock. Loaded only
// by store/erase, never on the `get` path. The directory and the files must pass fsafe.ts's checks
// (ours, not a symlink, the directory not writable by others); otherwise nothing is written and
// the error names the path and the fix.

import { join } from "node:path";
import { ensurePrivateDir, UnsafePathError, writeOwnFile } from "../fsafe.ts";
import { withFileLock } from "../lock.ts";
import { STORE_FORMAT, StoreError } from "./format.ts";

export const writeStoreFile = async (file: string, entries: Record<string, unknown>): Promise<void> => {
  try {
    await writeOwnFile(file, `${JSON.stringify({ version: STORE_FORMAT, entries }, null, 1)}\n`);
  } catch (e) {
    if (e instanceof UnsafePathError) throw new StoreError(`refusing to write: ${e.message}`);
    throw e;
  }
};

/** Creates the store directory (0700) when missing; a StoreError when it is not safe to use. */
const privateDir = (dir: string): void => {
  let why: string | null;
  try {
    why = ensurePrivateDir(dir);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new StoreError(`${dir}: cannot create the credential store directory: ${err.code ?? err.message}`);
  }
  if (why) throw new StoreError(`refusing to use the credential store directory: ${why}`);
};

/**
 * Runs `fn` holding the store's cross-process lock (every store/erase of every process of this
 * user serialises here, so concurrent `docker login`s never lose each other's entries).
 */
export const withStoreLock = async <T>(
  dir: string,
  waitMs: number,
  warn: (msg: string) => void,
  fn: () => Promise<T>,
): Promise<T> => {
  privateDir(dir);
  const lockfilePath = join(dir, "store.lock");
  return withFileLock(
    dir,
    {
      lockfilePath,
      waitMs,
      interval: 20,
      maxInterval: 60,
      onCompromised: (e) => warn(`${lockfilePath}: the store lock was compromised: ${e.message}`),
      unavailable: (e) =>
        e.code === "ELOCKED"
          ? new StoreError(`${lockfilePath}: another docker-credential-cloud held the store lock for over ${waitMs} ms`)
          : e,
    },
    fn,
  );
};
