// Cache entries and their freshness rules: pure functions of `now`.

import { isObj } from "../json.ts";

export interface TokenEntry {
  kind: "token";
  username: string;
  secret: string;
  /** Epoch milliseconds. */
  fetchedAt: number;
  expiresAt: number;
  /** The registry host the token was fetched for (for `list` and `erase`). */
  host: string;
  /** A human description of the identity used; never a secret. */
  identity: string;
}

/** "No identity for this cloud here": remembered briefly so pulls don't pay a metadata timeout each time. */
export interface NegativeEntry {
  kind: "none";
  fetchedAt: number;
  expiresAt: number;
  /** Fingerprint of the identity files at the time (mtimes); a change invalidates the entry. */
  fingerprint: string;
  reason: string;
  /** The host the reason was written for: another host of the same identity reads its own name. */
  host?: string;
}

/**
 * A kubelet credential provider's answer (keyring/shared-plugin-cache.ts), kept until `expiresAt`
 * (its cacheDuration, else the provider's defaultCacheDuration) like the kubelet keeps it in
 * memory. The entry's key names the provider (binary, config, args, env), the service-account
 * scope and the cacheKeyType's key; the entry itself is the answer as the plugin gave it.
 */
export interface PluginEntry {
  kind: "plugin";
  fetchedAt: number;
  expiresAt: number;
  /** The provider's name, for logs; never a secret. */
  provider: string;
  cacheKeyType: string;
  /** The auth map in the plugin's order. */
  auth: [string, { username: string; password: string }][];
}

export type Entry = TokenEntry | NegativeEntry | PluginEntry;

/** A token is served from cache without a network call until half its life has passed. */
export const isFresh = (e: TokenEntry, now: number): boolean => now < e.fetchedAt + (e.expiresAt - e.fetchedAt) / 2;

/** Tokens are never served within this margin of their expiry (a pull takes time). */
export const EXPIRY_MARGIN_MS = 60_000;

/** A stale token may still be served when the cloud call fails, but only while unexpired. */
export const isUsable = (e: TokenEntry, now: number): boolean => now < e.expiresAt - EXPIRY_MARGIN_MS;

/** A plugin answer expires as the kubelet's cache entry does: once `now` is past `expiresAt`. */
export const isLive = (e: Entry, now: number): boolean =>
  e.kind === "token" ? isUsable(e, now) : e.kind === "plugin" ? now <= e.expiresAt : now < e.expiresAt;

const isAuthList = (v: unknown): boolean =>
  Array.isArray(v) &&
  v.every(
    (pair) =>
      Array.isArray(pair) &&
      pair.length === 2 &&
      typeof pair[0] === "string" &&
      isObj(pair[1]) &&
      typeof pair[1].username === "string" &&
      typeof pair[1].password === "string",
  );

/** Entries read from disk are checked field by field; anything malformed is dropped. */
export const validEntry = (v: unknown): Entry | null => {
  if (!isObj(v) || typeof v.fetchedAt !== "number" || typeof v.expiresAt !== "number") return null;
  if (v.kind === "token") {
    return typeof v.username === "string" &&
      typeof v.secret === "string" &&
      typeof v.host === "string" &&
      typeof v.identity === "string"
      ? (v as unknown as TokenEntry)
      : null;
  }
  if (v.kind === "none") {
    return typeof v.fingerprint === "string" && typeof v.reason === "string" ? (v as unknown as NegativeEntry) : null;
  }
  if (v.kind === "plugin") {
    return typeof v.provider === "string" && typeof v.cacheKeyType === "string" && isAuthList(v.auth)
      ? (v as unknown as PluginEntry)
      : null;
  }
  return null;
};
