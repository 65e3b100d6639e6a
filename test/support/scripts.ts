// Small helpers for tests that drive shell scripts (fake helpers and plugins) and watch the files
// they write.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";

/** Single-quotes a value for a generated shell script. */
export const sq = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;

/** Polls `cond` every 20 ms for at most `ms`; fails the test when it never holds. */
export const waitFor = async (cond: () => boolean, what: string, ms = 10_000): Promise<void> => {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`timed out waiting for ${what}`);
};

/** The non-empty lines of `file`, or none when it does not exist (yet). */
export const lines = (file: string): string[] =>
  existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l !== "")
    : [];
