// Which Azure identity a route uses, from config and environment only (no SDK, no network): the
// ordered identity sources the ACR provider will walk, the cache key and a label that names the
// identity in logs. The provider builds its credentials from the same plan, so the label and what
// actually runs cannot drift apart.
//
// Order (the first four links of DefaultAzureCredential, in its order):
//   1. environment  service principal: AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_CLIENT_SECRET
//                   (or AZURE_CLIENT_CERTIFICATE_PATH)
//   2. workload     workload identity: AZURE_FEDERATED_TOKEN_FILE + AZURE_CLIENT_ID + AZURE_TENANT_ID
//   3. managed      managed identity: App Service, Service Fabric, Azure ML, Cloud Shell, Azure Arc
//                   (from their environment variables), else IMDS; AZURE_CLIENT_ID picks a
//                   user-assigned identity
//   4. cli          Azure CLI: `az account get-access-token`
// A config rule's `credential` (or AZURE_TOKEN_CREDENTIALS, as DefaultAzureCredential reads it)
// narrows the chain; `tenantId`/`clientId` in the rule override AZURE_TENANT_ID/AZURE_CLIENT_ID.

import { path } from "../builtins.ts";
import type { AzureCredentialKind, AzureIdentity } from "../config.ts";
import type { Env } from "../env.ts";
import { digest } from "../hash.ts";
import type { IdentityInfo } from "./aws.ts";

export type AzureSourceKind = Exclude<AzureCredentialKind, "default">;
export const AZURE_SOURCE_ORDER: readonly AzureSourceKind[] = ["environment", "workload", "managed", "cli"];

export interface AzureSource {
  kind: AzureSourceKind;
  /** Names the identity for logs and messages; never a secret. */
  label: string;
  /** Set when configuration alone rules the source out here: the chain skips it without a call. */
  unavailable?: string;
}

export interface AzurePlan {
  /** The sources to try, in order. */
  sources: AzureSource[];
  tenantId: string | undefined;
  clientId: string | undefined;
  /** Where the chain came from, for messages ("default chain", "config credential: cli", …). */
  origin: string;
  /** Set when AZURE_TOKEN_CREDENTIALS holds a value this program cannot honour. */
  invalid?: string;
}

const AZURE_KEY_VARS = [
  "AZURE_TENANT_ID",
  "AZURE_CLIENT_ID",
  "AZURE_CLIENT_CERTIFICATE_PATH",
  "AZURE_FEDERATED_TOKEN_FILE",
  "AZURE_AUTHORITY_HOST",
  "AZURE_TOKEN_CREDENTIALS",
  "AZURE_POD_IDENTITY_AUTHORITY_HOST",
  "IDENTITY_ENDPOINT",
  "IMDS_ENDPOINT",
  "MSI_ENDPOINT",
  "AZURE_CONFIG_DIR",
] as const;

// Secret-bearing variables: which of them are present decides which source authenticates (a
// service principal's secret, App Service's or Azure ML's managed-identity header), so a token
// fetched with one must not be served to a run that would use another with the same client id.
// Only set/unset enters the key: never the value, nor a digest of it (digest() is not one-way,
// and a rotated secret is the same identity whose cached token stays valid).
const AZURE_SECRET_VARS = ["AZURE_CLIENT_SECRET", "IDENTITY_HEADER", "MSI_SECRET"] as const;

// AZURE_TOKEN_CREDENTIALS values (case-insensitive) that map onto our sources.
const TOKEN_CREDENTIALS: Readonly<Record<string, readonly AzureSourceKind[]>> = {
  prod: ["environment", "workload", "managed"],
  dev: ["cli"],
  environmentcredential: ["environment"],
  workloadidentitycredential: ["workload"],
  managedidentitycredential: ["managed"],
  azureclicredential: ["cli"],
};

/** Which managed-identity host MSAL will use, by the same environment checks, in its order. */
export const managedIdentityHost = (env: Env): string => {
  if (env.IDENTITY_ENDPOINT && env.IDENTITY_HEADER && env.IDENTITY_SERVER_THUMBPRINT) return "Service Fabric";
  if (env.IDENTITY_ENDPOINT && env.IDENTITY_HEADER) return "App Service";
  if (env.MSI_ENDPOINT && env.MSI_SECRET) return "Azure Machine Learning";
  if (env.MSI_ENDPOINT) return "Cloud Shell";
  if (env.IDENTITY_ENDPOINT && env.IMDS_ENDPOINT) return "Azure Arc";
  return "IMDS";
};

const forTenant = (tenantId: string | undefined) => (tenantId ? ` in tenant ${tenantId}` : "");

export const planAzure = (env: Env, rule: AzureIdentity = {}): AzurePlan => {
  const tenantId = rule.tenantId ?? (env.AZURE_TENANT_ID || undefined);
  const clientId = rule.clientId ?? (env.AZURE_CLIENT_ID || undefined);
  let kinds: readonly AzureSourceKind[] = AZURE_SOURCE_ORDER;
  let origin = "default chain";
  let invalid: string | undefined;
  if (rule.credential && rule.credential !== "default") {
    kinds = [rule.credential];
    origin = `config credential: ${rule.credential}`;
  } else if (env.AZURE_TOKEN_CREDENTIALS?.trim()) {
    const raw = env.AZURE_TOKEN_CREDENTIALS.trim();
    // Own keys only: "constructor" must not find Object.prototype's.
    const name = raw.toLowerCase();
    const picked = Object.hasOwn(TOKEN_CREDENTIALS, name) ? TOKEN_CREDENTIALS[name] : undefined;
    if (picked) {
      kinds = picked;
      origin = `AZURE_TOKEN_CREDENTIALS=${raw}`;
    } else {
      invalid = `AZURE_TOKEN_CREDENTIALS=${raw} is not supported here; use prod, dev, EnvironmentCredential, WorkloadIdentityCredential, ManagedIdentityCredential or AzureCliCredential`;
    }
  }
  const source = (kind: AzureSourceKind): AzureSource => {
    switch (kind) {
      case "environment": {
        const secret = Boolean(env.AZURE_CLIENT_SECRET);
        const cert = env.AZURE_CLIENT_CERTIFICATE_PATH;
        const what = secret ? "client secret" : cert ? "client certificate" : "";
        const label = `environment service principal ${clientId ?? "(no client id)"}${what ? ` (${what})` : ""}${forTenant(tenantId)}`;
        const missing = [
          tenantId ? "" : "AZURE_TENANT_ID",
          clientId ? "" : "AZURE_CLIENT_ID",
          secret || cert ? "" : "AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH",
        ].filter(Boolean);
        return missing.length ? { kind, label, unavailable: `${missing.join(", ")} not set` } : { kind, label };
      }
      case "workload": {
        const label = `workload identity ${clientId ?? "(no client id)"}${forTenant(tenantId)}`;
        const missing = [
          env.AZURE_FEDERATED_TOKEN_FILE ? "" : "AZURE_FEDERATED_TOKEN_FILE",
          clientId ? "" : "AZURE_CLIENT_ID",
          tenantId ? "" : "AZURE_TENANT_ID",
        ].filter(Boolean);
        return missing.length ? { kind, label, unavailable: `${missing.join(", ")} not set` } : { kind, label };
      }
      case "managed":
        return {
          kind,
          label: `managed identity (${managedIdentityHost(env)}${clientId ? `, client ${clientId}` : ", system-assigned"})`,
        };
      case "cli":
        return { kind, label: `Azure CLI${forTenant(rule.tenantId)}` };
    }
  };
  const sources = kinds.map(source);
  return { sources, tenantId, clientId, origin, ...(invalid ? { invalid } : {}) };
};

/** The identity a chain will most likely use: the first source configuration does not rule out. */
const labelOf = (plan: AzurePlan): string => {
  if (plan.invalid) return "invalid AZURE_TOKEN_CREDENTIALS";
  const usable = plan.sources.filter((s) => !s.unavailable);
  const first = usable[0];
  if (!first) return `${plan.origin}: nothing configured`;
  // Service principals and workload identity either work or fail: nothing after them is tried.
  if (first.kind === "environment" || first.kind === "workload" || usable.length === 1) return first.label;
  return usable.map((s) => s.label).join(" or ");
};

export const azureIdentity = (env: Env, home: string, rule: AzureIdentity = {}): IdentityInfo => {
  const plan = planAzure(env, rule);
  const key = digest(
    ...AZURE_KEY_VARS.map((v) => `${v}=${env[v] ?? ""}`),
    ...AZURE_SECRET_VARS.map((v) => `${v}${env[v] ? " set" : " unset"}`),
    JSON.stringify(rule),
  );
  const configDir = env.AZURE_CONFIG_DIR || path.join(home, ".azure");
  // `az login` rewrites these; the directory's own mtime only changes when files are added.
  const watch = [configDir, path.join(configDir, "azureProfile.json"), path.join(configDir, "msal_token_cache.json")];
  if (env.AZURE_FEDERATED_TOKEN_FILE) watch.push(env.AZURE_FEDERATED_TOKEN_FILE);
  if (env.AZURE_CLIENT_CERTIFICATE_PATH) watch.push(env.AZURE_CLIENT_CERTIFICATE_PATH);
  return { key, label: labelOf(plan), watch };
};
