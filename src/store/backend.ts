// Where a stored secret lives. The index (store.ts) records which backend holds each registry's
// secret, so `get` goes straight to it and hosts that were never stored touch no backend at all.

export type BackendName = "keyring" | "file";

export interface SecretBackend {
  readonly name: BackendName;
  /** For logs and errors: "the OS keyring (Secret Service)", "file /home/u/.local/share/…". */
  readonly where: string;
  get(account: string): Promise<string | null>;
  /** Callers hold the store lock. */
  set(account: string, secret: string): Promise<void>;
  /** True when something was deleted. Callers hold the store lock. */
  delete(account: string): Promise<boolean>;
}

/** A backend, or why it cannot be used here. */
export type Opened = { ok: true; backend: SecretBackend } | { ok: false; reason: string };
