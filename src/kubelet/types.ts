// The kubelet image credential provider API (k8s.io/kubelet/pkg/apis/credentialprovider):
// CredentialProviderRequest on the plugin's stdin, CredentialProviderResponse on its stdout.
// The three versions carry the same fields, except that v1 adds the KEP-4412 service-account
// token and annotations to the request.

export const REQUEST_KIND = "CredentialProviderRequest";
export const RESPONSE_KIND = "CredentialProviderResponse";
export const PLUGIN_GROUP = "credentialprovider.kubelet.k8s.io";

export const PLUGIN_API_VERSIONS = [
  "credentialprovider.kubelet.k8s.io/v1",
  "credentialprovider.kubelet.k8s.io/v1alpha1",
  "credentialprovider.kubelet.k8s.io/v1beta1",
] as const;
export type PluginApiVersion = (typeof PLUGIN_API_VERSIONS)[number];
export const PLUGIN_API_V1: PluginApiVersion = "credentialprovider.kubelet.k8s.io/v1";

export const isPluginApiVersion = (v: unknown): v is PluginApiVersion =>
  typeof v === "string" && (PLUGIN_API_VERSIONS as readonly string[]).includes(v);

export const CACHE_KEY_TYPES = ["Image", "Registry", "Global"] as const;
export type CacheKeyType = (typeof CACHE_KEY_TYPES)[number];

export interface CredentialProviderRequest {
  apiVersion: PluginApiVersion;
  /** The repository being pulled, without tag or digest, e.g. "123456789012.dkr.ecr.us-east-1.amazonaws.com/app". */
  image: string;
  /** v1 only, and only when the provider's config has tokenAttributes and the pod has a service account. */
  serviceAccountToken?: string;
  serviceAccountAnnotations?: Readonly<Record<string, string>>;
}

/** One entry of a CredentialProviderResponse's auth map (the CRI-shaped AuthConfig is keyring/types.ts). */
export interface PluginAuth {
  username: string;
  password: string;
}

export interface CredentialProviderResponse {
  apiVersion: PluginApiVersion;
  cacheKeyType: CacheKeyType;
  /** A Go duration string ("5h59m59s"); omitted means the provider's defaultCacheDuration. */
  cacheDuration?: string;
  auth?: Readonly<Record<string, PluginAuth>>;
}

/** The registry part of an image, as the kubelet computes it for the Registry cache key: text before the first "/". */
export const imageRegistry = (image: string): string => image.split("/")[0] ?? "";
