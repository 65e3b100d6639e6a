// The identity digest (cache keys, labels) must keep its values across releases: a change would
// orphan every cached token. Checked against the 64-bit FNV-1a reference written with BigInt.
import assert from "node:assert/strict";
import { test } from "node:test";
import { digest } from "../../src/hash.ts";

const reference = (...parts: (string | undefined)[]): string => {
  let h = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(parts.map((p) => p ?? "").join("\u0000"))) {
    h = ((h ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, "0");
};

test("digest is 64-bit FNV-1a over the UTF-8 of the parts joined by NUL", () => {
  assert.equal(digest(), "cbf29ce484222325");
  assert.equal(digest("a"), "af63dc4c8601ec8c"); // published FNV-1a 64 test vector
  assert.equal(digest("foobar"), "85944171f73967e8"); // published FNV-1a 64 test vector
  const cases: (string | undefined)[][] = [
    [""],
    ["AWS_PROFILE=", "AWS_CONFIG_FILE=/home/u/.aws/config", undefined, "key="],
    ["ünïcødé ☃", "\u0000", "日本語"],
    [String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i))],
    ["x".repeat(5000)],
  ];
  let seed = 1;
  for (let n = 0; n < 200; n++) {
    const len = n % 50;
    let s = "";
    for (let i = 0; i < len; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      s += String.fromCharCode(seed % 0x3000);
    }
    cases.push([s, String(n)]);
  }
  for (const c of cases) assert.equal(digest(...c), reference(...c), JSON.stringify(c).slice(0, 80));
});
