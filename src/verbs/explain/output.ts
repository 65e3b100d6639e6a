// What the human verbs (explain, doctor) share: their contract with the entry point, and terminal
// styling (colour only on a TTY, never with NO_COLOR).

import type { Env } from "../../settings.ts";

/** What the entry point hands a human verb: nothing of process.* but these values. */
export interface VerbContext {
  env: Env;
  /** The home directory, or the reason it cannot be found. */
  home: string | { error: string };
  /** Whether stdout is a terminal. */
  isTTY: boolean;
  now: () => number;
}

export interface VerbResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface Style {
  ok(s: string): string;
  bad(s: string): string;
  warn(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

const sgr = (on: string, off: string) => (s: string) => `\x1b[${on}m${s}\x1b[${off}m`;
const plain = (s: string) => s;

/** ANSI colour on a TTY unless NO_COLOR is set (to anything non-empty, per no-color.org). */
export const styleFor = (ctx: VerbContext): Style =>
  ctx.isTTY && !ctx.env.NO_COLOR && ctx.env.TERM !== "dumb"
    ? { ok: sgr("32", "39"), bad: sgr("31", "39"), warn: sgr("33", "39"), dim: sgr("2", "22"), bold: sgr("1", "22") }
    : { ok: plain, bad: plain, warn: plain, dim: plain, bold: plain };

/** Step states as shown: the mark and its colour. */
export type State = "ok" | "used" | "skipped" | "absent" | "failed" | "warn" | "info";

export const mark = (st: Style, state: State): string => {
  switch (state) {
    case "ok":
    case "used":
      return st.ok("✓");
    case "failed":
      return st.bad("✗");
    case "warn":
      return st.warn("!");
    case "skipped":
    case "absent":
      return st.dim("·");
    case "info":
      return st.dim("-");
  }
};

/** Epoch ms → "2026-12-02T13:00:00Z (in 5h59m)". */
export const when = (ms: number, now: number): string => {
  const iso = `${new Date(ms).toISOString().slice(0, 19)}Z`;
  const d = Math.round((ms - now) / 60_000);
  const span = (m: number) => (m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m` : `${m}m`);
  return d >= 0 ? `${iso} (in ${span(d)})` : `${iso} (${span(-d)} ago)`;
};
