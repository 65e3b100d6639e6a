// FNV-1a, 64-bit: a short, stable fingerprint of NON-SECRET identity settings (variable names and
// values such as profile names, role ARNs, file paths, endpoints, an access key id) for cache keys
// and labels. It is not one-way: never feed it a secret. node:crypto is not used here because
// loading it costs more than the whole rest of a cache hit (see builtins.ts).
//
// Computed on four 16-bit limbs with small-integer arithmetic only (no BigInt, no doubles): the
// BigInt form allocated four BigInts per byte, which on the executable cost ≈ 4 M instructions per
// cache hit, a third of it (the AWS identity key digests ~800 bytes). Same values as
// `h = ((h ^ byte) * 0x100000001b3n) & (2n ** 64n - 1n)` from 0xcbf29ce484222325n
// (test/unit/hash.test.ts checks that), so cache keys did not change.
const ASCII = /^[\x00-\x7f]*$/;

export const digest = (...parts: readonly (string | undefined)[]): string => {
  const text = parts.map((p) => p ?? "").join("\u0000");
  // ASCII text is its own UTF-8; anything else is encoded first.
  const bytes = ASCII.test(text) ? null : Buffer.from(text);
  const n = bytes ? bytes.length : text.length;
  // h = h3:h2:h1:h0; × 0x100000001b3 is × 0x1b3 plus (h << 40), i.e. h0, h1 shifted into h2, h3.
  let h0 = 0x2325;
  let h1 = 0x8422;
  let h2 = 0x9ce4;
  let h3 = 0xcbf2;
  for (let i = 0; i < n; i++) {
    h0 ^= bytes ? (bytes[i] as number) : text.charCodeAt(i);
    const t0 = h0 * 0x1b3;
    const t1 = h1 * 0x1b3 + (t0 >>> 16);
    const t2 = h2 * 0x1b3 + (t1 >>> 16) + (h0 << 8);
    const t3 = h3 * 0x1b3 + (t2 >>> 16) + (h1 << 8);
    h0 = t0 & 0xffff;
    h1 = t1 & 0xffff;
    h2 = t2 & 0xffff;
    h3 = t3 & 0xffff;
  }
  return [h3, h2, h1, h0].map((x) => x.toString(16).padStart(4, "0")).join("");
};

/** SHA-256 (truncated) for secret material such as a service-account token; loads node:crypto. */
export const secretDigest = (secret: string): string =>
  process.getBuiltinModule("node:crypto").createHash("sha256").update(secret).digest("hex").slice(0, 32);
