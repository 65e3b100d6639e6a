// Which Azure identity a route uses, from config and environment only.

import { join } from "node:path";
import type { AzureIdentity } from "../config.ts";
import type { Env } from "../settings.ts";
import type { IdentityInfo } from "./aws.ts";
import { digest } from "./hash.ts";

const AZURE_KEY_VARS = [
  "AZURE_TENANT_ID",
  "AZURE_CLIENT_ID",
  "AZURE_CLIENT_CERTIFICATE_PATH",
  "AZURE_FEDERATED_TOKEN_FILE",
  "AZURE_AUTHORITY_HOST",
  "AZURE_TOKEN_CREDENTIALS",
  "AZURE_POD_IDENTITY_AUTHORITY_HOST",
  "IDENTITY_ENDPOINT",
  "MSI_ENDPOINT",
  "AZURE_CONFIG_DIR",
] as const;

export const azureIdentity = (env: Env, home: string, rule: AzureIdentity = {}): IdentityInfo => {
  const clientId = rule.clientId ?? env.AZURE_CLIENT_ID;
  const kind = rule.credential ?? "default";
  const label = `${kind} credential${clientId ? ` client ${clientId}` : ""}${rule.tenantId ? ` tenant ${rule.tenantId}` : ""}`;
  const key = digest(
    ...AZURE_KEY_VARS.map((v) => `${v}=${env[v] ?? ""}`),
    `secret=${env.AZURE_CLIENT_SECRET ? digest(env.AZURE_CLIENT_SECRET) : ""}`,
    JSON.stringify(rule),
  );
  const watch = [env.AZURE_CONFIG_DIR || join(home, ".azure")];
  if (env.AZURE_FEDERATED_TOKEN_FILE) watch.push(env.AZURE_FEDERATED_TOKEN_FILE);
  return { key, label, watch };
};
