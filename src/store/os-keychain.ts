// The OS keyring backend, through @napi-rs/keyring (Rust keyring-rs; its native parts are npm
// packages, so `npm ci` works offline from a registry mirror — see docs/keyring.md for why not
// keytar). Each secret is one item: service "docker-credential-cloud", account = the registry's
// store key (the normalised server URL), password = the Secret exactly as `store` received it.
//
// This module and the native module are loaded only by store/erase and by `get` for a registry
// that the index says is in the keyring: never on the path that serves a cloud token.

import { stat } from "node:fs/promises";
import { join } from "node:path";
import type { Env } from "../env.ts";
import type { Opened, SecretBackend } from "./backend.ts";
import { StoreError } from "./format.ts";

export const KEYRING_SERVICE = "docker-credential-cloud";
/** Never written: `auto` reads it to learn whether a keyring answers at all. */
const PROBE_ACCOUNT = "docker-credential-cloud reachability probe";
/** A keyring that does not answer a read of a missing item this fast is treated as absent. */
const PROBE_TIMEOUT_MS = 5_000;
/** Real operations may wait for a person to unlock the keyring in a desktop prompt. */
const OP_TIMEOUT_MS = 60_000;

export const keyringName = (platform: NodeJS.Platform): string =>
  platform === "darwin" ? "macOS Keychain" : platform === "win32" ? "Windows Credential Manager" : "Secret Service";

/**
 * Without loading native code: can a keyring exist here at all? On Linux and the BSDs the Secret
 * Service is reached over the D-Bus session bus, which libdbus finds through
 * DBUS_SESSION_BUS_ADDRESS or $XDG_RUNTIME_DIR/bus (it never autolaunches one). Returns why not,
 * or null when it is worth trying.
 */
export const keyringPrecheck = async (env: Env, platform: NodeJS.Platform): Promise<string | null> => {
  if (platform === "darwin" || platform === "win32") return null;
  if (env.DBUS_SESSION_BUS_ADDRESS) return null;
  if (env.XDG_RUNTIME_DIR) {
    const isSocket = await stat(join(env.XDG_RUNTIME_DIR, "bus")).then(
      (s) => s.isSocket(),
      () => false,
    );
    if (isSocket) return null;
  }
  return "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset and there is no $XDG_RUNTIME_DIR/bus)";
};

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, " ");

/** Rejects after `ms` even if the native call never returns (a keyring stuck behind a prompt). */
const bounded = <T>(what: string, ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> => {
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ac.abort();
      reject(new StoreError(`${what}: no answer within ${ms / 1000} s (is the keyring locked?)`));
    }, ms);
    timer.unref();
  });
  return Promise.race([Promise.resolve().then(() => fn(ac.signal)), timeout]).finally(() => clearTimeout(timer));
};

export interface KeyringOptions {
  env: Env;
  platform: NodeJS.Platform;
  /** Read a never-written item first, so that "no keyring here" is known before anything is written. */
  probe: boolean;
}

export const openKeyring = async ({ env, platform, probe }: KeyringOptions): Promise<Opened> => {
  const why = await keyringPrecheck(env, platform);
  if (why) return { ok: false, reason: why };
  let mod: typeof import("@napi-rs/keyring");
  try {
    mod = await import("@napi-rs/keyring");
  } catch (e) {
    return { ok: false, reason: `the keyring module does not load on this platform: ${message(e)}` };
  }
  const name = keyringName(platform);
  // Pinned to the Secret Service on Linux: unpinned, keyring-rs silently falls back to the kernel
  // keyutils keyring, which forgets everything at reboot.
  const entry = (account: string) =>
    new mod.AsyncEntry(KEYRING_SERVICE, account, { linux: { store: "secret-service" } });
  const call = async <T>(what: string, ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    try {
      return await bounded(`${name}: ${what}`, ms, fn);
    } catch (e) {
      if (e instanceof StoreError) throw e;
      throw new StoreError(`${name}: ${what} failed: ${message(e)}`);
    }
  };
  if (probe) {
    try {
      await call("probe", PROBE_TIMEOUT_MS, (signal) => entry(PROBE_ACCOUNT).getPassword(signal));
    } catch (e) {
      return { ok: false, reason: message(e) };
    }
  }
  const backend: SecretBackend = {
    name: "keyring",
    where: `the OS keyring (${name}, service ${KEYRING_SERVICE})`,
    get: (account) => call(`reading ${account}`, OP_TIMEOUT_MS, (signal) => entry(account).getPassword(signal)),
    set: (account, secret) =>
      call(`storing ${account}`, OP_TIMEOUT_MS, (signal) => entry(account).setPassword(secret, signal)),
    delete: (account) =>
      call(`deleting ${account}`, OP_TIMEOUT_MS, (signal) => entry(account).deleteCredential(signal)),
  };
  return { ok: true, backend };
};
