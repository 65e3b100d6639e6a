// The library's public types. AuthConfig is the CRI's (k8s.io/cri-api runtime/v1 AuthConfig) in the
// camelCase a JavaScript CRI client uses (@grpc/proto-loader with keepCase: false):
//   username ↔ username, password ↔ password, auth ↔ auth, serverAddress ↔ server_address,
//   identityToken ↔ identity_token, registryToken ↔ registry_token.

import type { Level } from "../log.ts";

export interface AuthConfig {
  username?: string;
  password?: string;
  /** base64("username:password"); the keyring decodes Docker's `auth` fields into username and password instead. */
  auth?: string;
  /**
   * The registry these credentials are for, as an https:// URL: containerd parses it and sends the
   * credentials only to that host. Docker Hub images get https://registry-1.docker.io (the host
   * containerd contacts for docker.io). "" with `serverAddress: "none"`.
   */
  serverAddress: string;
  identityToken?: string;
  registryToken?: string;
}

/** Any object with some of these methods: `console`, pino, winston, or your own. */
export interface KeyringLogger {
  error?(msg: string): void;
  warn?(msg: string): void;
  info?(msg: string): void;
  debug?(msg: string): void;
}

export interface KeyringOptions {
  /** The environment: read once (our settings, cloud SDK variables, PATH for helpers, helpers' and plugins' environment). Default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Default env.HOME, else os.homedir(). */
  home?: string;
  /**
   * Docker config files, read in this order; `false` or [] reads none. Default
   * /var/lib/kubelet/config.json (the kubelet's), $DOCKER_CONFIG/config.json (else
   * ~/.docker/config.json), then the legacy ~/.dockercfg.
   */
  dockerConfig?: string | readonly string[] | false;
  /** A kubelet CredentialProviderConfig file or directory (--image-credential-provider-config). */
  kubeletConfig?: string;
  /** Where its providers' binaries are (--image-credential-provider-bin-dir); required with kubeletConfig. */
  kubeletBinDir?: string;
  /**
   * Our own ECR, Google and ACR fetchers in process (default true). Also answers a kubelet provider
   * or Docker helper that is this program, without spawning it. false: neither.
   */
  builtins?: boolean;
  /** Bound on each helper or plugin run (and each in-process answer), in ms. Default 60 000, as the kubelet. */
  timeoutMs?: number;
  /** Where log lines go. Default: stderr. Messages never contain a secret. */
  logger?: KeyringLogger;
  /** Default $DOCKER_CREDENTIAL_CLOUD_LOG, else "warn". */
  logLevel?: Level;
  /** "registry" (default): serverAddress names the image's registry. "none": "" (what the kubelet sends). */
  serverAddress?: "registry" | "none";
}

/**
 * One pull secret: a Secret's .dockerconfigjson or .dockercfg content (text or parsed), or the
 * whole Kubernetes Secret object (its `data` or `stringData` is decoded).
 */
export type PullSecret = string | object;

export interface LookupOptions {
  /**
   * Pull secrets, ahead of every other source, as the kubelet puts a pod's imagePullSecrets ahead
   * of the node's credentials. A flat list is one keyring; a list of lists is tiers, each tried
   * in full before the next (e.g. a CSI volume's secrets, then the service account's).
   */
  pullSecrets?: readonly PullSecret[] | readonly (readonly PullSecret[])[];
  /**
   * The pod's service-account token, for kubelet providers with tokenAttributes (KEP-4412). Without
   * it such a provider is skipped when it requires a service account.
   */
  serviceAccountToken?: string;
  /** The service account's annotations; each provider gets its required and optional keys. */
  serviceAccountAnnotations?: Readonly<Record<string, string>>;
}

export interface Keyring {
  /**
   * Every credential that applies to `image`, best first; [] when none. Throws only when `image`
   * is not a valid image reference (InvalidImageError).
   */
  lookup(image: string, options?: LookupOptions): Promise<AuthConfig[]>;
  /** Kills running helpers and plugins and drops cached answers; later lookups throw. */
  close(): Promise<void>;
}
