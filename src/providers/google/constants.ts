// Google names shared by the identity plan, the client builder and the entry.

export const GOOGLE_USERNAME = "oauth2accesstoken";
export const CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform";
/** GKE's convention for "this Kubernetes service account acts as that Google service account". */
export const GKE_SERVICE_ACCOUNT_ANNOTATION = "iam.gke.io/gcp-service-account";
/** Per service account override of google.workloadIdentityProvider (opt-in via kubelet tokenAttributes). */
export const WORKLOAD_PROVIDER_ANNOTATION = "docker-credential-cloud/gcp-workload-identity-provider";
export const JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt";
/**
 * Off Google Cloud (no BIOS/serverless residency) the metadata server is only probed for this long.
 * A real one answers from the host in a few ms, and a miss is then remembered by the negative
 * cache, so a laptop pays this at most once per negative TTL instead of the library's 3 s.
 */
export const METADATA_PROBE_MS = 500;
/** Used only when a client reports no expiry (Google access tokens live one hour). */
export const FALLBACK_LIFETIME_MS = 5 * 60_000;
export const DETECTION_MODES = ["assume-present", "none", "bios-only", "ping-only"] as const;
