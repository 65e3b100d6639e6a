// The file side of `configure`: read a client's config, decide whether it changes, show the diff,
// and replace it atomically (mode and owner kept, a backup of the old text first). A file that
// does not parse is never touched: the verb stops with one line naming it.

import { chmod, copyFile, lstat, mkdir, readFile, readlink, rename, stat, symlink, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { UsageError } from "../../errors.ts";

export interface Current {
  text: string;
  /** Permission bits of the existing file. */
  mode: number;
}

/** The file's text and mode, or null when it does not exist. */
export const readCurrent = async (file: string): Promise<Current | null> => {
  try {
    const [text, st] = await Promise.all([readFile(file, "utf8"), stat(file)]);
    return { text, mode: st.mode & 0o777 };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    throw new UsageError(`${file}: cannot read: ${code ?? (e as Error).message}`);
  }
};

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** A JSON object file (empty or absent = {}); anything else is an error naming the file. */
export const parseJsonObject = (file: string, cur: Current | null): Record<string, unknown> => {
  if (!cur || cur.text.trim() === "") return {};
  let v: unknown;
  try {
    v = JSON.parse(cur.text);
  } catch (e) {
    const at = /position \d+|line \d+ column \d+/.exec((e as Error).message)?.[0];
    throw new UsageError(`${file}: not valid JSON${at ? ` (at ${at})` : ""}; it was left untouched: repair it first`);
  }
  if (!isObj(v)) throw new UsageError(`${file}: not a JSON object; it was left untouched: repair it first`);
  return v;
};

/** The indentation the file already uses (Docker writes tabs), for a minimal diff. */
export const indentOf = (text: string | undefined): string => /\n([ \t]+)"/.exec(text ?? "")?.[1] ?? "\t";

export const jsonText = (obj: unknown, indent: string): string => `${JSON.stringify(obj, null, indent)}\n`;

/** A unified diff of old → new (empty when equal). */
export const unifiedDiff = async (file: string, before: string, after: string): Promise<string> => {
  if (before === after) return "";
  const { createTwoFilesPatch } = await import("diff");
  return createTwoFilesPatch(before === "" ? "/dev/null" : file, file, before, after, "", "", { context: 3 })
    .split("\n")
    .filter((l) => !/^=+$/.test(l)) // the separator line
    .join("\n");
};

const stamp = (now: number): string =>
  new Date(now)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");

export interface Written {
  file: string;
  backup: string | null;
}

/**
 * Replaces `file` with `text`: the old file is copied to `<file>.<time>.bak` first (same mode),
 * then the new text goes in through write-file-atomic (temp file + rename, the existing file's
 * mode and owner kept; `newMode` for a new file). Parent directories are created (0700 for new
 * ones under a home directory is the caller's choice through `dirMode`).
 */
export const replaceFile = async (
  file: string,
  text: string,
  cur: Current | null,
  opts: { now: number; newMode: number; dirMode: number },
): Promise<Written> => {
  await mkdir(dirname(file), { recursive: true, mode: opts.dirMode });
  // Another writer (docker login, podman login) in between: stop rather than drop its change.
  const now = await readCurrent(file);
  if ((now?.text ?? null) !== (cur?.text ?? null)) {
    throw new UsageError(`${file} changed while it was being configured; nothing was written: run the command again`);
  }
  let backup: string | null = null;
  if (cur) {
    backup = `${file}.${stamp(opts.now)}.bak`;
    await copyFile(file, backup);
    await chmod(backup, cur.mode & 0o700 ? cur.mode & 0o600 : 0o600);
  }
  const { default: writeFileAtomic } = await import("write-file-atomic");
  // write-file-atomic keeps an existing file's mode and owner unless told otherwise.
  await writeFileAtomic(file, text, cur ? {} : { mode: opts.newMode });
  return { file, backup };
};

/** Where a symlink at `link` points, or null when there is nothing there; "file" for a non-link. */
export const linkTarget = async (link: string): Promise<string | null | "file"> => {
  try {
    const st = await lstat(link);
    if (!st.isSymbolicLink()) return "file";
    return await readlink(link);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
};

/** Points `link` at `target` atomically (new link beside it, then rename over). */
export const replaceLink = async (link: string, target: string): Promise<void> => {
  const tmp = `${link}.tmp-${Math.random().toString(36).slice(2)}`;
  await unlink(tmp).catch(() => {});
  await symlink(target, tmp);
  await rename(tmp, link);
};
