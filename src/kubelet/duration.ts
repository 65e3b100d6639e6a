// Go's time.Duration text forms, as the kubelet reads and writes them (metav1.Duration is a JSON
// string parsed by time.ParseDuration). Durations are integer nanoseconds in a bigint so that every
// value Go accepts round-trips exactly, including the int64 limits.

const NS = 1n;
const US = 1000n * NS;
const MS = 1000n * US;
const S = 1000n * MS;
const M = 60n * S;
const H = 60n * M;

const UNITS: Readonly<Record<string, bigint>> = {
  ns: NS,
  us: US,
  "\u00b5s": US, // U+00B5 MICRO SIGN
  "\u03bcs": US, // U+03BC GREEK SMALL LETTER MU
  ms: MS,
  s: S,
  m: M,
  h: H,
};

const LIMIT = 1n << 63n;

export class DurationError extends Error {
  override name = "DurationError";
}

const invalid = (orig: string) => new DurationError(`time: invalid duration ${JSON.stringify(orig)}`);

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= "0" && c <= "9";

/**
 * time.ParseDuration: "[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+" or a bare "0", with Go's error texts.
 * Returns nanoseconds; throws DurationError. Overflow beyond int64 is an error, as in Go.
 */
export const parseGoDuration = (orig: string): bigint => {
  let s = orig;
  let neg = false;
  if (s.startsWith("-") || s.startsWith("+")) {
    neg = s[0] === "-";
    s = s.slice(1);
  }
  if (s === "0") return 0n;
  if (s === "") throw invalid(orig);
  let total = 0n;
  while (s !== "") {
    if (!(s[0] === "." || isDigit(s[0]))) throw invalid(orig);
    let i = 0;
    let v = 0n;
    while (isDigit(s[i])) {
      v = v * 10n + BigInt(s.charCodeAt(i) - 48);
      if (v > LIMIT) throw invalid(orig); // Go's leadingInt overflow
      i++;
    }
    const pre = i > 0;
    s = s.slice(i);
    let post = false;
    let f = 0n;
    let scale = 1;
    if (s[0] === ".") {
      s = s.slice(1);
      let j = 0;
      let overflow = false;
      while (isDigit(s[j])) {
        // Like Go's leadingFraction: digits past int64 precision are consumed but ignored.
        if (!overflow) {
          const next = f * 10n + BigInt(s.charCodeAt(j) - 48);
          if (f > (LIMIT - 1n) / 10n || next > LIMIT) overflow = true;
          else {
            f = next;
            scale *= 10;
          }
        }
        j++;
      }
      post = j > 0;
      s = s.slice(j);
    }
    if (!pre && !post) throw invalid(orig);
    let u = 0;
    while (u < s.length && !(s[u] === "." || isDigit(s[u]))) u++;
    if (u === 0) throw new DurationError(`time: missing unit in duration ${JSON.stringify(orig)}`);
    const unitText = s.slice(0, u);
    s = s.slice(u);
    // Own keys only: "1constructor" is an unknown unit, not Object.prototype.constructor.
    const unit = Object.hasOwn(UNITS, unitText) ? UNITS[unitText] : undefined;
    if (unit === undefined) {
      throw new DurationError(`time: unknown unit ${JSON.stringify(unitText)} in duration ${JSON.stringify(orig)}`);
    }
    if (v > LIMIT / unit) throw invalid(orig);
    v *= unit;
    if (f > 0n) {
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (v > LIMIT) throw invalid(orig);
    }
    total += v;
    if (total > LIMIT) throw invalid(orig);
  }
  if (neg) return -total;
  if (total > LIMIT - 1n) throw invalid(orig);
  return total;
};

/** True when Go's time.ParseDuration accepts `s`. */
export const isGoDuration = (s: string): boolean => {
  try {
    parseGoDuration(s);
    return true;
  } catch {
    return false;
  }
};

/** Go's fmtFrac: the fraction of v/10^prec without trailing zeros (and without "." when zero). */
const frac = (v: bigint, prec: number): { text: string; rest: bigint } => {
  let text = "";
  let print = false;
  for (let i = 0; i < prec; i++) {
    const digit = v % 10n;
    print = print || digit !== 0n;
    if (print) text = `${digit}${text}`;
    v /= 10n;
  }
  return { text: print ? `.${text}` : "", rest: v };
};

/** time.Duration.String(): "0s", "1.5s", "1m30s", "6h0m0s", "250ms", "-2h0m0s". */
export const formatGoDuration = (d: bigint): string => {
  const neg = d < 0n;
  let u = neg ? -d : d;
  let out: string;
  if (u < S) {
    if (u === 0n) return "0s";
    let prec: number;
    let unit: string;
    if (u < US) {
      prec = 0;
      unit = "ns";
    } else if (u < MS) {
      prec = 3;
      unit = "\u00b5s";
    } else {
      prec = 6;
      unit = "ms";
    }
    const f = frac(u, prec);
    out = `${f.rest}${f.text}${unit}`;
  } else {
    const f = frac(u, 9);
    u = f.rest; // whole seconds
    out = `${u % 60n}${f.text}s`;
    u /= 60n;
    if (u > 0n) {
      out = `${u % 60n}m${out}`;
      u /= 60n;
      if (u > 0n) out = `${u}h${out}`;
    }
  }
  return neg ? `-${out}` : out;
};

/** Whole seconds in Go's String() form, e.g. 21599 → "5h59m59s". */
export const formatSeconds = (seconds: number): string => formatGoDuration(BigInt(Math.trunc(seconds)) * S);

/** Nanoseconds → milliseconds (truncated), for arithmetic with Date.now(). */
export const durationToMs = (d: bigint): number => Number(d / MS);
