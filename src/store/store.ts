// Static credentials (`docker login` → store, `docker logout` → erase, `list`), kept in the OS
// keyring or, where none is reachable, in a 0600 file.
//
// Every `docker pull` runs `get` in a fresh process, and `get` must look here before any cloud
// route. So the store keeps a small index without secrets (<dataDir>/index.json: store key →
// server URL, username, backend) and `get` reads only that file unless the registry is in it:
// a cloud host never loads the keyring's native module, the lock or the atomic writer. The index
// also answers `list` without touching the keyring. Writers (store, erase) hold one lock across
// the index and the secret, so concurrent logins never lose each other's entries.

import { path } from "../builtins.ts";
import type { Env } from "../env.ts";
import type { Logger } from "../log.ts";
import { type ServerRef, storeKey } from "../registry/hosts.ts";
import type { StoreBackend } from "../settings.ts";
import type { BackendName, Opened, SecretBackend } from "./backend.ts";
import { readStoreFile, StoreError } from "./format.ts";

export { readStoreFile, STORE_FORMAT, StoreError } from "./format.ts";

export const INDEX_FILE = "index.json";
const DEFAULT_LOCK_WAIT_MS = 30_000;

export interface StoredCredentials {
  /** The server URL exactly as `store` received it; returned by `get` and `list`. */
  serverURL: string;
  username: string;
  secret: string;
}

/** One registry in the index. No secret: the index is read on every `get`. */
export interface IndexEntry {
  serverURL: string;
  username: string;
  backend: BackendName;
  /** ISO time of the `store`, for diagnosis. */
  storedAt: string;
}

export interface CredentialStore {
  /** The stored credentials for this registry, or null (after reading only the index). */
  get(ref: ServerRef): Promise<StoredCredentials | null>;
  put(ref: ServerRef, creds: StoredCredentials): Promise<void>;
  /** True when something was stored for this registry (and is now gone). */
  erase(ref: ServerRef): Promise<boolean>;
  /** Store key → entry, from the index only: no keyring, no network. */
  list(): Promise<Record<string, IndexEntry>>;
}

export interface StoreOptions {
  dataDir: string;
  /** Where `store` puts new secrets: auto (keyring when reachable, else file), keyring or file. */
  mode: StoreBackend;
  env: Env;
  platform: NodeJS.Platform;
  log: Logger;
  now: () => number;
  lockWaitMs?: number;
  /** The OS keyring; tests pass a plain object. `probe` asks for a reachability check first. */
  openKeyring?: (probe: boolean) => Promise<Opened>;
}

const isIndexEntry = (v: unknown): v is IndexEntry => {
  if (typeof v !== "object" || v === null) return false;
  const e = v as Record<string, unknown>;
  return (
    typeof e.serverURL === "string" &&
    typeof e.username === "string" &&
    (e.backend === "keyring" || e.backend === "file") &&
    typeof e.storedAt === "string"
  );
};

export const openStore = (opts: StoreOptions): CredentialStore => {
  const { dataDir, mode, log } = opts;
  const indexFile = path.join(dataDir, INDEX_FILE);
  const lockWaitMs = opts.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS;
  const warn = (m: string) => log.warn(m);
  const readIndex = () => readStoreFile(indexFile, isIndexEntry);

  const openKeyring =
    opts.openKeyring ??
    (async (probe: boolean) =>
      (await import("./os-keychain.ts")).openKeyring({ env: opts.env, platform: opts.platform, probe }));
  const openFile = async (): Promise<SecretBackend> => (await import("./secrets-file.ts")).fileBackend(dataDir, warn);

  /** The backend that holds an existing entry. */
  const holding = async (name: BackendName, key: string): Promise<SecretBackend> => {
    if (name === "file") return openFile();
    const k = await openKeyring(false);
    if (!k.ok)
      throw new StoreError(`the credentials for ${key} are in the OS keyring, which is not reachable: ${k.reason}`);
    return k.backend;
  };

  /** The backend for a new secret, by mode. */
  const forStore = async (): Promise<SecretBackend> => {
    if (mode === "file") {
      const b = await openFile();
      log.debug(`store backend: ${b.where} (DOCKER_CREDENTIAL_CLOUD_STORE=file)`);
      return b;
    }
    const k = await openKeyring(true);
    if (k.ok) {
      log.debug(`store backend: ${k.backend.where}`);
      return k.backend;
    }
    if (mode === "keyring") {
      throw new StoreError(
        `DOCKER_CREDENTIAL_CLOUD_STORE=keyring, but no OS keyring is reachable: ${k.reason}; use DOCKER_CREDENTIAL_CLOUD_STORE=file or auto on this machine`,
      );
    }
    const b = await openFile();
    log.debug(`store backend: ${b.where} (no OS keyring: ${k.reason})`);
    // Said once per store, as Docker does for plaintext `auths`; an explicit file mode is not told.
    warn(
      `no OS keyring is reachable, so the secret is stored unencrypted (mode 0600) in ${b.where}; set DOCKER_CREDENTIAL_CLOUD_STORE=file to make that the choice`,
    );
    return b;
  };

  /**
   * Best effort: removes a copy of `key` from a backend the index does not point to (after a
   * backend switch, or a lost index). The keyring is only looked at outside file mode, unless the
   * index said a copy is there.
   */
  const dropStray = async (name: BackendName, key: string, known: boolean): Promise<void> => {
    try {
      let b: SecretBackend | undefined;
      if (name === "file") b = await openFile();
      else if (known || mode !== "file") {
        const k = await openKeyring(true);
        if (k.ok) b = k.backend;
      }
      if (b && (await b.delete(key))) log.debug(`removed a stray copy of ${key} from ${b.where}`);
    } catch (e) {
      warn(`could not check the ${name} backend for a stray copy of ${key}: ${(e as Error).message}`);
    }
  };

  return {
    get: async (ref) => {
      const key = storeKey(ref);
      const entry = (await readIndex())[key];
      if (!entry) return null;
      const b = await holding(entry.backend, key);
      const secret = await b.get(key);
      if (secret === null) {
        warn(
          `${key} is listed in ${indexFile} but ${b.where} holds no secret for it; run docker login ${entry.serverURL} again`,
        );
        return null;
      }
      log.debug(`stored credentials for ${key} from ${b.where}`);
      return { serverURL: entry.serverURL, username: entry.username, secret };
    },

    put: async (ref, creds) => {
      const key = storeKey(ref);
      // Loading the native module and probing happen before the lock, so the lock is held briefly.
      const b = await forStore();
      const { withStoreLock, writeStoreFile } = await import("./files.ts");
      const old = await withStoreLock(dataDir, lockWaitMs, warn, async () => {
        // Read first: an unreadable index stops the store before any secret is written.
        const index = await readIndex();
        const previous = index[key];
        await b.set(key, creds.secret);
        index[key] = {
          serverURL: creds.serverURL,
          username: creds.username,
          backend: b.name,
          storedAt: new Date(opts.now()).toISOString(),
        };
        await writeStoreFile(indexFile, index);
        if (previous && previous.backend !== b.name) await dropStray(previous.backend, key, true);
        return previous;
      });
      log.debug(
        `stored credentials for ${key} (${creds.username}) in ${b.where}${old ? ", replacing the previous ones" : ""}`,
      );
    },

    erase: async (ref) => {
      const key = storeKey(ref);
      const { withStoreLock, writeStoreFile } = await import("./files.ts");
      return withStoreLock(dataDir, lockWaitMs, warn, async () => {
        const index = await readIndex();
        const entry = index[key];
        if (entry) {
          // The secret goes first: if the keyring refuses, the index still points at it.
          const b = await holding(entry.backend, key);
          await b.delete(key);
          delete index[key];
          await writeStoreFile(indexFile, index);
          log.debug(`erased the stored credentials for ${key} from ${b.where}`);
        }
        for (const name of ["keyring", "file"] as const) if (name !== entry?.backend) await dropStray(name, key, false);
        return entry !== undefined;
      });
    },

    list: () => readIndex(),
  };
};

/** The store when none is wired in (library use): nothing stored, store refuses. */
export const noStore: CredentialStore = {
  get: async () => null,
  put: async () => {
    throw new StoreError("this docker-credential-cloud instance has no credential store");
  },
  erase: async () => false,
  list: async () => ({}),
};
