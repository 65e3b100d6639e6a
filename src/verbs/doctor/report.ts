// doctor's report: the `--json` schema (docker-credential-cloud.doctor/v1, documented in
// docs/troubleshooting.md; fields are only ever added) and the exit codes.

import type { ChainStep } from "../whoami/types.ts";

export const DOCTOR_SCHEMA = "docker-credential-cloud.doctor/v1";

/** Exit codes: 0 healthy; otherwise the area of the first problem found. */
export const EXIT = { ok: 0, usage: 1, config: 2, identity: 3, cacheOrStore: 4, clients: 5 } as const;

export type Area = "config" | "identity" | "cache" | "store" | "clients";

export interface Problem {
  area: Area;
  /** One line: what is wrong and where. */
  message: string;
  /** The next step to take. */
  next: string;
}

export interface FileCheck {
  /** What the file is: "docker-credential-cloud config", "AWS shared config", "Docker config", … */
  what: string;
  path: string;
  found: boolean;
  /** null when not found or not parsed; false with `error` when it does not parse. */
  parses: boolean | null;
  error?: string;
  /** A one-line summary of what it holds (never a secret). */
  summary?: string;
}

export interface IdentityCheck {
  cloud: "aws" | "google" | "azure";
  /** "default" (no config rule), or `config rule "<match>"`. */
  scope: string;
  /** The registry host the route was resolved for. */
  host: string;
  /** The route's identity label (what `list` and logs show). */
  label: string;
  /** Where the order of sources comes from (the plan's origin). */
  origin: string;
  sources: ChainStep[];
  afterwards?: string;
  /** "ok": the live check named a principal; "none": nothing set up for this cloud; "failed". */
  status: "ok" | "none" | "failed";
  principal?: string;
  basePrincipal?: string;
  via?: string;
  facts?: Record<string, string>;
  error?: string;
}

export interface CacheEntryView {
  /** A cloud token, a remembered "no identity here", or a kubelet plugin's answer (keyring library). */
  kind: "token" | "none" | "plugin";
  /** The registry host (plugin answers: the registries they cover). */
  host: string;
  /** The identity label (tokens), the reason (remembered "no identity"), or the plugin. */
  identity: string;
  /** ISO time until which a token is served without a network call (half its life). */
  freshUntil?: string;
  expiresAt: string;
  state: "fresh" | "stale" | "expired";
}

export interface CacheCheck {
  enabled: boolean;
  dir: string | null;
  exists: boolean;
  /** Octal permission bits, e.g. "700". */
  mode?: string;
  owner?: number;
  /** Why the helper will not use it (another user's, group/world-writable, a symlink). */
  problem?: string;
  entries: CacheEntryView[];
}

export interface StoreCheck {
  /** DOCKER_CREDENTIAL_CLOUD_STORE: auto, keyring or file. */
  mode: string;
  keyring: { name: string; reachable: boolean; reason?: string };
  file: { path: string; exists: boolean; mode?: string };
  /** Where a new `docker login` goes, said plainly. */
  newLogins: string;
  /** Stored registries per backend (from the index: no secret is read). */
  stored: { keyring: number; file: number };
}

export interface ClientConfig {
  client: "docker" | "docker (root: containerd, SOCI)" | "podman/skopeo/buildah";
  path: string;
  found: boolean;
  parses: boolean | null;
  error?: string;
  /** credsStore "cloud": every registry. */
  credsStore?: string;
  /** Hosts whose credHelpers entry is "cloud". */
  hosts: string[];
  /** registries.conf credential-helpers, when the file sets them. */
  credentialHelpers?: string[];
  /** A registries.conf file read later whose credential-helpers replace these (not wired then). */
  overriddenBy?: { path: string; credentialHelpers: string[] };
  wired: boolean;
}

export interface PathCheck {
  /** "this user's PATH" or "root's systemd PATH (containerd, SOCI)". */
  who: string;
  path: string;
  /** The executable found, first on PATH; absent when not found. */
  found?: string;
}

export interface DoctorReport {
  schema: typeof DOCTOR_SCHEMA;
  version: { version: string; detail: string; runtime: string; platform: string; executable: string };
  configFiles: FileCheck[];
  identities: IdentityCheck[];
  cache: CacheCheck;
  store: StoreCheck;
  clients: { configs: ClientConfig[]; path: PathCheck[] };
  warnings: string[];
  problems: Problem[];
  verdict: { ok: boolean; code: number; problem?: string; next: string };
}

export const codeFor = (area: Area): number =>
  area === "config"
    ? EXIT.config
    : area === "identity"
      ? EXIT.identity
      : area === "clients"
        ? EXIT.clients
        : EXIT.cacheOrStore;
