import { createHash } from "node:crypto";

/** A short, stable digest for cache keys and labels; never reversible to the input. */
export const digest = (...parts: readonly (string | undefined)[]): string =>
  createHash("sha256")
    .update(parts.map((p) => p ?? "").join("\u0000"))
    .digest("hex")
    .slice(0, 16);
