// Docker Hub's names, defined once. An image says "docker.io" (or the legacy "index.docker.io");
// the Docker CLI logs in and asks helpers for "https://index.docker.io/v1/"; containerd contacts
// "registry-1.docker.io"; "registry.hub.docker.com" is an old alias. All of them are one registry.

/** The domain image references use: "nginx" is "docker.io/library/nginx". */
export const DOCKER_HUB_DOMAIN = "docker.io";
/** The legacy domain image references may still spell; also the kubelet's fallback key. */
export const DOCKER_HUB_LEGACY_DOMAIN = "index.docker.io";
/** The server URL the Docker CLI stores and asks helpers for. */
export const DOCKER_HUB_SERVER = "https://index.docker.io/v1/";
/** The host containerd contacts for docker.io, and so the server_address it accepts for Hub credentials. */
export const DOCKER_HUB_REGISTRY_HOST = "registry-1.docker.io";
/** Every host that is Docker Hub. */
export const DOCKER_HUB_HOSTS: ReadonlySet<string> = new Set([
  DOCKER_HUB_DOMAIN,
  DOCKER_HUB_LEGACY_DOMAIN,
  DOCKER_HUB_REGISTRY_HOST,
  "registry.hub.docker.com",
]);
