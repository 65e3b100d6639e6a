// Go's time.ParseDuration and Duration.String(), checked against values and texts taken from Go's
// own time package tests (time_test.go parseDurationTests / durationTests).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  DurationError,
  formatGoDuration,
  formatSeconds,
  isGoDuration,
  parseGoDuration,
} from "../../src/kubelet/duration.ts";

const NS = 1n;
const US = 1000n;
const MS = 1000_000n;
const S = 1000_000_000n;
const M = 60n * S;
const H = 60n * M;

const PARSE: [string, bigint][] = [
  ["0", 0n],
  ["5s", 5n * S],
  ["30s", 30n * S],
  ["1478s", 1478n * S],
  ["-5s", -5n * S],
  ["+5s", 5n * S],
  ["-0", 0n],
  ["+0", 0n],
  ["5.0s", 5n * S],
  ["5.6s", 5n * S + 600n * MS],
  ["5.s", 5n * S],
  [".5s", 500n * MS],
  ["1.0s", S],
  ["1.00s", S],
  ["1.004s", S + 4n * MS],
  ["1.0040s", S + 4n * MS],
  ["100.00100s", 100n * S + MS],
  ["10ns", 10n * NS],
  ["11us", 11n * US],
  ["12µs", 12n * US],
  ["12μs", 12n * US],
  ["13ms", 13n * MS],
  ["14s", 14n * S],
  ["15m", 15n * M],
  ["16h", 16n * H],
  ["3h30m", 3n * H + 30n * M],
  ["10.5s4m", 4n * M + 10n * S + 500n * MS],
  ["-2m3.4s", -(2n * M + 3n * S + 400n * MS)],
  ["1h2m3s4ms5us6ns", H + 2n * M + 3n * S + 4n * MS + 5n * US + 6n * NS],
  ["39h9m14.425s", 39n * H + 9n * M + 14n * S + 425n * MS],
  ["52763797000ns", 52763797000n * NS],
  ["0.3333333333333333333h", 20n * M],
  ["9007199254740993ns", (1n << 53n) + 1n],
  ["9223372036854775807ns", (1n << 63n) - 1n],
  ["9223372036854775.807us", (1n << 63n) - 1n],
  ["9223372036s854ms775us807ns", (1n << 63n) - 1n],
  ["-9223372036854775808ns", -(1n << 63n)],
  ["-9223372036854775.808us", -(1n << 63n)],
  ["-2562047h47m16.854775808s", -(1n << 63n)],
  ["0.100000000000000000000h", 6n * M],
  ["0.830103483285477580700h", 49n * M + 48n * S + 372539827n * NS],
];

const PARSE_ERRORS: [string, string][] = [
  ["", 'time: invalid duration ""'],
  ["3", 'time: missing unit in duration "3"'],
  ["-", 'time: invalid duration "-"'],
  ["s", 'time: invalid duration "s"'],
  [".", 'time: invalid duration "."'],
  ["-.", 'time: invalid duration "-."'],
  [".s", 'time: invalid duration ".s"'],
  ["+.s", 'time: invalid duration "+.s"'],
  ["1d", 'time: unknown unit "d" in duration "1d"'],
  ["10", 'time: missing unit in duration "10"'],
  ["00", 'time: missing unit in duration "00"'],
  ["1hx", 'time: unknown unit "hx" in duration "1hx"'],
  ["9223372036854775808ns", 'time: invalid duration "9223372036854775808ns"'],
  ["9223372036854775.808us", 'time: invalid duration "9223372036854775.808us"'],
  ["9223372036854ms775us808ns", 'time: invalid duration "9223372036854ms775us808ns"'],
  ["-9223372036854775809ns", 'time: invalid duration "-9223372036854775809ns"'],
  ["3000000h", 'time: invalid duration "3000000h"'],
  [" 1s", 'time: invalid duration " 1s"'],
  ["1s ", 'time: unknown unit "s " in duration "1s "'],
  // Unit names are own keys only, never Object.prototype's properties.
  ["1constructor", 'time: unknown unit "constructor" in duration "1constructor"'],
  ["1__proto__", 'time: unknown unit "__proto__" in duration "1__proto__"'],
  ["2toString", 'time: unknown unit "toString" in duration "2toString"'],
  ["1s1hasOwnProperty", 'time: unknown unit "hasOwnProperty" in duration "1s1hasOwnProperty"'],
];

const STRING: [bigint, string][] = [
  [0n, "0s"],
  [1n * NS, "1ns"],
  [1100n * NS, "1.1µs"],
  [2200n * US, "2.2ms"],
  [3300n * MS, "3.3s"],
  [4n * M + 5n * S, "4m5s"],
  [4n * M + 5001n * MS, "4m5.001s"],
  [5n * H + 6n * M + 7001n * MS, "5h6m7.001s"],
  [8n * M + 1n * NS, "8m0.000000001s"],
  [(1n << 63n) - 1n, "2562047h47m16.854775807s"],
  [-(1n << 63n), "-2562047h47m16.854775808s"],
  [6n * H, "6h0m0s"],
  [90n * S, "1m30s"],
  [-2n * H, "-2h0m0s"],
  [250n * MS, "250ms"],
];

describe("Go durations", () => {
  for (const [text, want] of PARSE) {
    test(`parse ${JSON.stringify(text)}`, () => assert.equal(parseGoDuration(text), want));
  }
  for (const [text, msg] of PARSE_ERRORS) {
    test(`refuse ${JSON.stringify(text)}`, () => {
      assert.throws(
        () => parseGoDuration(text),
        (e: unknown) => e instanceof DurationError && e.message === msg,
      );
      assert.equal(isGoDuration(text), false);
    });
  }
  for (const [d, text] of STRING) {
    test(`String() ${text}`, () => {
      assert.equal(formatGoDuration(d), text);
      assert.equal(parseGoDuration(text), d, "String() output parses back to the same value");
    });
  }
  test("whole seconds, as the plugin writes cacheDuration", () => {
    assert.equal(formatSeconds(0), "0s");
    assert.equal(formatSeconds(45), "45s");
    assert.equal(formatSeconds(21599), "5h59m59s");
    assert.equal(formatSeconds(21600), "6h0m0s");
    assert.equal(formatSeconds(3600), "1h0m0s");
    assert.equal(formatSeconds(1799.9), "29m59s");
  });
});
