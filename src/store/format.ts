// The store's file format, shared by the index (store.ts) and the file backend (secrets-file.ts),
// and the store's one error type. A leaf: backends import it; it imports no backend.

import { readOwnFile, UnsafePathError } from "../fsafe.ts";
import { isObj } from "../json.ts";

// The store's two files (the index and the file backend's secrets) share one format and one set
// of rules: a versioned JSON object in a 0700 directory, mode 0600, replaced atomically while
// holding the store lock (files.ts). Unlike the token cache, whose entries can always be fetched
// again, these files hold what a user typed into `docker login`: an unreadable file is an error
// that names it, and nothing ever overwrites it. Reading is one open, fstat and read + JSON.parse
// (no fs/promises on the hit path: see builtins.ts). A store file that is a symlink or another
// user's, or a directory others could write to, is refused with an error naming it (fsafe.ts).

export const STORE_FORMAT = 1;

/** A store file is unreadable, or the keyring failed: one line, naming the file or the keyring. */
export class StoreError extends Error {
  override name = "StoreError";
}

const untouched = "it was left untouched: repair it or move it away (then run docker login again)";

/**
 * The entries of a store file (a prototype-less object), or an empty one when the file does not exist. Any other
 * condition (unreadable, not JSON, unknown format, a malformed entry) throws a StoreError.
 */
export const readStoreFile = async <T>(file: string, validate: (v: unknown) => v is T): Promise<Record<string, T>> => {
  let text: string;
  try {
    const read = readOwnFile(file);
    if (read === null) return Object.create(null);
    text = read.text;
  } catch (e) {
    if (e instanceof UnsafePathError) throw new StoreError(`refusing to read: ${e.message}`);
    const code = (e as NodeJS.ErrnoException).code;
    throw new StoreError(`${file}: cannot read: ${code ?? (e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    // Only the position: the parser's message quotes the text, and the secrets file holds secrets.
    const at = /position \d+/.exec((e as Error).message)?.[0];
    throw new StoreError(`${file}: not valid JSON${at ? ` (at ${at})` : ""}; ${untouched}`);
  }
  if (!isObj(raw) || typeof raw.version !== "number" || !isObj(raw.entries)) {
    throw new StoreError(`${file}: not a docker-credential-cloud store file; ${untouched}`);
  }
  if (raw.version !== STORE_FORMAT) {
    throw new StoreError(
      `${file}: format version ${raw.version} is not known to this docker-credential-cloud (it reads ${STORE_FORMAT}); ${untouched}`,
    );
  }
  for (const [k, v] of Object.entries(raw.entries)) {
    if (!validate(v)) throw new StoreError(`${file}: the entry for "${k}" is malformed; ${untouched}`);
  }
  // No prototype: a registry named "constructor" must not find Object.prototype's.
  return Object.assign(Object.create(null), raw.entries);
};
