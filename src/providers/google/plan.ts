// The Google identity plan: which source a route's token comes from, in google-auth-library's
// application default credentials (ADC) order with the config rule on top, from configuration,
// environment and one fact about the file system (whether the gcloud ADC file exists). Pure and
// exported so that the operator verbs (`doctor`, `explain`) show the order the provider walks;
// credentials.ts builds the clients in the same order.
//
//   kubelet   kubelet service-account token → Google STS (workload identity federation) with the
//             pool provider of the annotation or google.workloadIdentityProvider (kubelet mode only)
//   file      the rule's google.credentialsFile, else GOOGLE_APPLICATION_CREDENTIALS (any ADC type)
//   adc       the gcloud well-known file ($CLOUDSDK_CONFIG/application_default_credentials.json)
//   metadata  the metadata server (GCE, GKE, Cloud Run), after a short presence probe
// then, if the rule (or the GKE annotation in kubelet mode) names one, impersonation.

import type { AuthClient } from "google-auth-library";
import type { GoogleIdentity } from "../../config.ts";
import type { Env } from "../../env.ts";
import { adcFile, explicitCredentialsFile } from "../../identity/google.ts";
import type { Workload } from "../../resolver.ts";
import type { IdentityPlan, IdentitySource } from "../types.ts";
import { GKE_SERVICE_ACCOUNT_ANNOTATION, WORKLOAD_PROVIDER_ANNOTATION } from "./constants.ts";

/** How the token is obtained once the plan is carried out, for logs and error hints. */
export interface TokenSource {
  /** e.g. "service account key /k.json (puller@p.iam.gserviceaccount.com)". */
  describe: string;
  /** The ADC type or our own source kind; selects the "next step" of an error. */
  kind: string;
  impersonate: string | undefined;
  client: AuthClient;
}

/** "//iam.googleapis.com/projects/…/providers/X"; the "projects/…" short form is accepted too. */
export const normalizeAudience = (raw: string): string =>
  raw.startsWith("projects/") ? `//iam.googleapis.com/${raw}` : raw;

export const POOL_PROVIDER_RE =
  /^\/\/iam\.googleapis\.com\/projects\/\d+\/locations\/[a-z0-9-]+\/workloadIdentityPools\/[^/]+\/providers\/[^/]+$/;

export const validEmail = (s: string): boolean => /^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+$/.test(s) && s.length <= 254;

/**
 * @param facts.adcFileExists whether the gcloud ADC file exists (the caller stats it; the plan
 *        itself reads nothing).
 */
export const googleIdentityPlan = (
  env: Env,
  home: string,
  rule: GoogleIdentity = {},
  workload: Workload | undefined,
  facts: { adcFileExists: boolean },
): IdentityPlan => {
  if (workload) {
    const audience = workload.annotations[WORKLOAD_PROVIDER_ANNOTATION] ?? rule.workloadIdentityProvider;
    const target = workload.annotations[GKE_SERVICE_ACCOUNT_ANNOTATION] ?? rule.impersonateServiceAccount;
    return {
      cloud: "google",
      origin: "kubelet service-account token",
      sources: [
        audience
          ? { kind: "kubelet", label: `service-account token → STS ${normalizeAudience(audience)}`, status: "selected" }
          : {
              kind: "kubelet",
              label: "service-account token → STS",
              status: "unavailable",
              reason: `no workload identity provider: neither ${WORKLOAD_PROVIDER_ANNOTATION} nor google.workloadIdentityProvider`,
            },
      ],
      ...(target ? { afterwards: `impersonate ${target}` } : {}),
    };
  }
  const explicit = explicitCredentialsFile(env, rule);
  const adc = adcFile(env, home);
  const mode = (env.METADATA_SERVER_DETECTION ?? "").trim().toLowerCase();
  const sources: IdentitySource[] = [
    explicit
      ? { kind: "file", label: `credentials file ${explicit.file} (${explicit.from})`, status: "selected" }
      : {
          kind: "file",
          label: "credentials file",
          status: "unavailable",
          reason: "GOOGLE_APPLICATION_CREDENTIALS and google.credentialsFile unset",
        },
    facts.adcFileExists
      ? { kind: "adc", label: `gcloud ADC file ${adc}`, status: explicit ? "available" : "selected" }
      : { kind: "adc", label: `gcloud ADC file ${adc}`, status: "unavailable", reason: "no such file" },
    mode === "none"
      ? { kind: "metadata", label: "metadata server", status: "unavailable", reason: "METADATA_SERVER_DETECTION=none" }
      : {
          kind: "metadata",
          label: `metadata server ${env.GCE_METADATA_IP || env.GCE_METADATA_HOST || "169.254.169.254"}`,
          status: explicit || facts.adcFileExists ? "available" : mode === "assume-present" ? "selected" : "probe",
        },
  ];
  return {
    cloud: "google",
    origin: "application default credentials",
    sources,
    ...(rule.impersonateServiceAccount ? { afterwards: `impersonate ${rule.impersonateServiceAccount}` } : {}),
  };
};
