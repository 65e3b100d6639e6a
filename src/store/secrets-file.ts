// The file backend: secrets in <dataDir>/credentials.json (0600 in a 0700 directory), for
// machines without a reachable OS keyring (headless servers, kubelet nodes, CI) or when forced
// with DOCKER_CREDENTIAL_CLOUD_STORE=file. Same protection as ~/.docker/config.json's "auths", the
// place these credentials would otherwise have gone. Writers hold the store lock (see store.ts).

import { stat } from "node:fs/promises";
import { join } from "node:path";
import type { SecretBackend } from "./backend.ts";
import { writeStoreFile } from "./files.ts";
import { readStoreFile } from "./format.ts";

export const SECRETS_FILE = "credentials.json";

interface SecretEntry {
  secret: string;
}

const isSecretEntry = (v: unknown): v is SecretEntry =>
  typeof v === "object" && v !== null && typeof (v as { secret?: unknown }).secret === "string";

export const fileBackend = (dir: string, warn: (msg: string) => void): SecretBackend => {
  const file = join(dir, SECRETS_FILE);
  const read = () => readStoreFile(file, isSecretEntry);
  return {
    name: "file",
    where: `file ${file}`,
    get: async (account) => {
      const entries = await read();
      const e = entries[account];
      if (e) {
        // Someone loosened the mode by hand: say so, but still serve (refusing would break pulls).
        const mode = await stat(file).then(
          (s) => s.mode & 0o777,
          () => 0o600,
        );
        if (mode & 0o077) warn(`${file} is readable by other users (mode ${mode.toString(8)}); run chmod 600 on it`);
      }
      return e ? e.secret : null;
    },
    set: async (account, secret) => {
      const entries = await read();
      entries[account] = { secret };
      await writeStoreFile(file, entries);
    },
    delete: async (account) => {
      const entries = await read();
      if (!(account in entries)) return false;
      delete entries[account];
      await writeStoreFile(file, entries);
      return true;
    },
  };
};
