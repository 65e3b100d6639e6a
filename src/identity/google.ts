// Which Google identity a route uses (application default credentials order), from config and
// environment only.

import { join } from "node:path";
import type { GoogleIdentity } from "../config.ts";
import type { Env } from "../settings.ts";
import type { IdentityInfo } from "./aws.ts";
import { digest } from "./hash.ts";

const GOOGLE_KEY_VARS = [
  "GOOGLE_APPLICATION_CREDENTIALS",
  "CLOUDSDK_CONFIG",
  "GCE_METADATA_HOST",
  "GCE_METADATA_IP",
  "METADATA_SERVER_DETECTION",
  "GOOGLE_CLOUD_UNIVERSE_DOMAIN",
] as const;

/** The gcloud well-known ADC file. */
export const adcFile = (env: Env, home: string): string =>
  join(env.CLOUDSDK_CONFIG || join(home, ".config", "gcloud"), "application_default_credentials.json");

export const googleIdentity = (env: Env, home: string, rule: GoogleIdentity = {}): IdentityInfo => {
  const file = rule.credentialsFile ?? env.GOOGLE_APPLICATION_CREDENTIALS;
  const base = file
    ? `credentials file ${file}`
    : "application default credentials (gcloud ADC file or metadata server)";
  const label = rule.impersonateServiceAccount ? `${base} → impersonate ${rule.impersonateServiceAccount}` : base;
  const key = digest(...GOOGLE_KEY_VARS.map((v) => `${v}=${env[v] ?? ""}`), JSON.stringify(rule));
  const watch = [adcFile(env, home)];
  if (file) watch.push(file);
  return { key, label, watch };
};
