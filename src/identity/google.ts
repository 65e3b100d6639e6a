// Which Google identity a route uses, from config and environment only (no file reads, no SDK):
// the application default credentials order of google-auth-library, with the config rule's
// overrides on top. The provider walks the same order at fetch time and logs what it found.

import { path } from "../builtins.ts";
import type { GoogleIdentity } from "../config.ts";
import type { Env } from "../env.ts";
import { digest } from "../hash.ts";
import type { IdentityInfo } from "./aws.ts";

// Variables that select the identity or the endpoints it talks to.
const GOOGLE_KEY_VARS = [
  "GOOGLE_APPLICATION_CREDENTIALS",
  "CLOUDSDK_CONFIG",
  "GCE_METADATA_HOST",
  "GCE_METADATA_IP",
  "METADATA_SERVER_DETECTION",
  "GOOGLE_CLOUD_UNIVERSE_DOMAIN",
] as const;

/** The gcloud well-known ADC file (`gcloud auth application-default login` writes it). */
export const adcFile = (env: Env, home: string): string =>
  path.join(env.CLOUDSDK_CONFIG || path.join(home, ".config", "gcloud"), "application_default_credentials.json");

/** An explicitly named credentials file: the config rule's, else GOOGLE_APPLICATION_CREDENTIALS. */
export const explicitCredentialsFile = (
  env: Env,
  rule: GoogleIdentity = {},
): { file: string; from: "config" | "GOOGLE_APPLICATION_CREDENTIALS" } | undefined => {
  if (rule.credentialsFile) return { file: rule.credentialsFile, from: "config" };
  if (env.GOOGLE_APPLICATION_CREDENTIALS)
    return { file: env.GOOGLE_APPLICATION_CREDENTIALS, from: "GOOGLE_APPLICATION_CREDENTIALS" };
  return undefined;
};

export const googleIdentity = (env: Env, home: string, rule: GoogleIdentity = {}): IdentityInfo => {
  const explicit = explicitCredentialsFile(env, rule);
  const adc = adcFile(env, home);
  const base = explicit
    ? `credentials file ${explicit.file}${explicit.from === "config" ? " (config)" : " (GOOGLE_APPLICATION_CREDENTIALS)"}`
    : `application default credentials (${adc}, else the metadata server)`;
  const label = rule.impersonateServiceAccount ? `${base} → impersonate ${rule.impersonateServiceAccount}` : base;
  const key = digest(...GOOGLE_KEY_VARS.map((v) => `${v}=${env[v] ?? ""}`), `adc=${adc}`, JSON.stringify(rule));
  const watch = [adc];
  if (explicit) watch.push(explicit.file);
  return { key, label, watch };
};
