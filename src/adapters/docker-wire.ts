// Texts that clients match byte for byte (docker/docker-credential-helpers credentials/error.go
// and credentials.go). Only the adapters map errors to these.
export const WIRE = {
  notFound: "credentials not found in native keychain",
  missingServerURL: "no credentials server URL",
  missingUsername: "no credentials username",
  unknownAction: (action: string) => `Unknown credential action \`${action}\``,
} as const;
