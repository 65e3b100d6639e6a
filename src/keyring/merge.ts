// The merge: the kubelet's union of keyrings (image_manager.go), first to last —
//   1. each tier of pull secrets passed to lookup() (a pod's imagePullSecrets);
//   2. the node's Docker configuration (helpers, then `auths`), a keyring of its own;
//   3. the plugin keyring: the kubelet's credential provider plugins in config order, then our
//      built-in cloud fetchers (which stand in for a plugin).
// Within one keyring the kubelet's BasicDockerKeyring order applies (match.ts): the most specific
// key first, "*" last, the Docker Hub fallback only when nothing else in that keyring matched.
// Identical credentials are returned once, at their first place.

import { DOCKER_HUB_DOMAIN, DOCKER_HUB_REGISTRY_HOST } from "../registry/dockerhub.ts";
import type { ImageRef } from "../registry/image.ts";
import type { Credential, Found, KeyIndex } from "./match.ts";
import type { AuthConfig } from "./types.ts";

export { DOCKER_HUB_REGISTRY_HOST };

/** The image's registry as an https:// URL whose host is the one containerd will compare. */
export const serverAddressFor = (ref: ImageRef): string =>
  `https://${ref.registry === DOCKER_HUB_DOMAIN ? DOCKER_HUB_REGISTRY_HOST : ref.registry}`;

const credentialId = (c: Credential): string =>
  JSON.stringify([c.username ?? "", c.password ?? "", c.auth ?? "", c.identityToken ?? "", c.registryToken ?? ""]);

/** Found credentials → CRI AuthConfigs, the first of identical ones kept. */
export const toAuthConfigs = (found: readonly Found[], serverAddress: string): AuthConfig[] => {
  const seen = new Set<string>();
  const out: AuthConfig[] = [];
  for (const { credential: c } of found) {
    const id = credentialId(c);
    if (seen.has(id)) continue;
    seen.add(id);
    const a: AuthConfig = { serverAddress };
    if (c.username !== undefined) a.username = c.username;
    if (c.password !== undefined) a.password = c.password;
    if (c.auth !== undefined) a.auth = c.auth;
    if (c.identityToken !== undefined) a.identityToken = c.identityToken;
    if (c.registryToken !== undefined) a.registryToken = c.registryToken;
    out.push(a);
  }
  return out;
};

/** The union of keyrings, in order: every match of the first, then of the second, … */
export const unionLookup = (keyrings: readonly KeyIndex[], repository: string): Found[] =>
  keyrings.flatMap((k) => k.lookup(repository));
