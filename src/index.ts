// The package's library entry: `import { createKeyring } from "docker-credential-cloud"`.
// Importing it loads no cloud SDK; each is loaded by the first lookup that needs it.

export { type ImageRef, InvalidImageError, normalizeImage } from "./keyring/image.ts";
export { createKeyring } from "./keyring/keyring.ts";
export type { AuthConfig, Keyring, KeyringLogger, KeyringOptions, LookupOptions } from "./keyring/types.ts";
