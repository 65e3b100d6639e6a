// The package's library entry: `import { createKeyring } from "docker-credential-cloud"`.
// Importing it loads no cloud SDK; each is loaded by the first lookup that needs it.

export { createKeyring } from "./keyring/keyring.ts";
export type { AuthConfig, Keyring, KeyringLogger, KeyringOptions, LookupOptions, PullSecret } from "./keyring/types.ts";
export { type ImageRef, InvalidImageError, normalizeImage } from "./registry/image.ts";
