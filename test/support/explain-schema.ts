// The `explain --json` schema as documented in docs/troubleshooting.md (its two tables: the report's
// fields, and a probe step's), and a check of a real output against it: every field documented with
// the right type and in the documented order, every field not marked `?` present when its parent is.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./cli.ts";

interface Field {
  name: string;
  optional: boolean;
  types: string[];
}

type Table = Field[];

const parseTables = (): { report: Table; step: Table } => {
  const doc = readFileSync(join(ROOT, "docs", "troubleshooting.md"), "utf8");
  const start = doc.indexOf("### `--json` (schema `docker-credential-cloud.explain/v1`)");
  assert.ok(start >= 0, "docs/troubleshooting.md documents the explain --json schema");
  const next = doc.indexOf("\n## ", start);
  const section = doc.slice(start, next < 0 ? undefined : next);
  const tables: Table[] = [];
  let cur: Table | undefined;
  for (const line of section.split("\n")) {
    const m = /^\| `([^`]+)` \| (.+?) \| .* \|$/.exec(line);
    if (!m) {
      cur = undefined;
      continue;
    }
    if (!cur) {
      cur = [];
      tables.push(cur);
    }
    const raw = m[1] ?? "";
    const types = (m[2] ?? "").split(/\s*\\\|\s*/).map((t) => t.trim().replace(/^`(.*)`$/, "$1"));
    cur.push({ name: raw.replace(/\?$/, ""), optional: raw.endsWith("?"), types });
  }
  assert.equal(tables.length, 2, "two tables: the report's fields and a step's");
  return { report: tables[0] ?? [], step: tables[1] ?? [] };
};

const typeOf = (v: unknown): string =>
  v === null ? "null" : Array.isArray(v) ? "array" : typeof v === "object" ? "object" : typeof v;

const matches = (v: unknown, types: string[]): boolean =>
  types.some((t) =>
    t.startsWith('"') ? v === JSON.parse(t) : t === "step" ? typeOf(v) === "object" : typeOf(v) === t,
  );

/** Checks `value` at `path` (a documented name) and below it, against `table`. */
const check = (table: Table, step: Table, value: unknown, path: string, where: string, seen: Set<string>) => {
  const field = table.find((f) => f.name === path);
  assert.ok(field, `${where}: ${path} is not documented`);
  seen.add(path);
  assert.ok(
    matches(value, field.types),
    `${where}: ${path} is ${JSON.stringify(value)}, documented ${field.types.join(" | ")}`,
  );
  if (field.types.includes("step") && typeOf(value) === "object") {
    checkObject(step, step, value as Record<string, unknown>, "", `${where} ${path}`, seen);
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) check(table, step, item, `${path}[]`, where, seen);
  } else if (typeOf(value) === "object") {
    checkObject(table, step, value as Record<string, unknown>, `${path}.`, where, seen);
  }
};

const checkObject = (
  table: Table,
  step: Table,
  obj: Record<string, unknown>,
  prefix: string,
  where: string,
  seen: Set<string>,
) => {
  const keys = Object.keys(obj);
  for (const k of keys) check(table, step, obj[k], `${prefix}${k}`, where, seen);
  // The documented order.
  const order = (k: string) => table.findIndex((f) => f.name === `${prefix}${k}`);
  assert.deepEqual(
    keys,
    [...keys].sort((a, b) => order(a) - order(b)),
    `${where}: keys of ${prefix || "the report"} out of documented order`,
  );
  // Required children.
  const children = table.filter((f) => f.name.startsWith(prefix) && !f.name.slice(prefix.length).match(/[.[]/));
  for (const f of children) {
    if (!f.optional) assert.ok(f.name.slice(prefix.length) in obj, `${where}: ${f.name} is missing`);
  }
};

/**
 * Asserts that an `explain --json` output follows the documented schema; returns the documented
 * fields it used (so a caller can check a set of runs covers them).
 */
export const assertExplainSchema = (json: unknown, where: string): Set<string> => {
  const { report, step } = parseTables();
  const seen = new Set<string>();
  assert.equal(typeOf(json), "object", `${where}: an object`);
  checkObject(report, step, json as Record<string, unknown>, "", where, seen);
  return seen;
};
