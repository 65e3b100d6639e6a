// FNV-1a, 64-bit: a short, stable fingerprint of NON-SECRET identity settings (variable names and
// values such as profile names, role ARNs, file paths, endpoints, an access key id) for cache keys
// and labels. It is not one-way: never feed it a secret. node:crypto is not used here because
// loading it costs more than the whole rest of a cache hit (see builtins.ts).
const OFFSET = 0xcbf29ce484222325n;
const PRIME = 0x100000001b3n;
const MASK = 0xffffffffffffffffn;

export const digest = (...parts: readonly (string | undefined)[]): string => {
  let h = OFFSET;
  for (const byte of Buffer.from(parts.map((p) => p ?? "").join("\u0000"))) {
    h = ((h ^ BigInt(byte)) * PRIME) & MASK;
  }
  return h.toString(16).padStart(16, "0");
};

/** SHA-256 (truncated) for secret material such as a service-account token; loads node:crypto. */
export const secretDigest = (secret: string): string =>
  process.getBuiltinModule("node:crypto").createHash("sha256").update(secret).digest("hex").slice(0, 32);
