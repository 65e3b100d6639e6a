// Owner and type checks for the directories and files that hold tokens and secrets (the token
// cache, the credential store). A helper run by root (containerd, the kubelet, sudo docker) must
// not follow a planted symlink, write a token into a file another user owns, or trust what such a
// user could have put there. The rule: a directory must be a real directory (not a symlink) owned
// by this process's effective uid with no group or other write bits; a file must be a regular
// file, not a symlink, owned by the effective uid. Once the directory passes, nobody else can
// create, rename or replace entries in it, so checking a file and then opening it by name is not
// a race another user can win.
//
// Reads cost one open (O_NOFOLLOW) and one fstat on the opened descriptor: this runs on every
// cache hit, so it uses `fs` from builtins.ts only. Windows has no uids (process.geteuid is
// undefined) and no POSIX modes: there only the symlink and file-type checks apply.

import { fs } from "./builtins.ts";

/** A directory or file failed the checks; the message names it and the fix, in one line. */
export class UnsafePathError extends Error {
  override name = "UnsafePathError";
}

interface Owner {
  uid: number;
  gid: number;
}

/** Who this process writes as, or undefined where there are no uids (Windows). */
const self = (): Owner | undefined =>
  process.geteuid && process.getegid ? { uid: process.geteuid(), gid: process.getegid() } : undefined;

const octal = (mode: number): string => (mode & 0o777).toString(8).padStart(3, "0");

const notOurs = (what: string, uid: number, me: Owner): string =>
  `${what} is owned by uid ${uid}, not by this user (uid ${me.uid})`;

const symlink = (file: string): string =>
  `${file} is a symbolic link; remove it (this file is never read or written through a link)`;

/** Why `st` (of the path `file`) may not be read or replaced, or null. */
const fileProblem = (file: string, st: { uid: number; isFile(): boolean; isSymbolicLink(): boolean }) => {
  if (st.isSymbolicLink()) return symlink(file);
  if (!st.isFile()) return `${file} is not a regular file; move it away`;
  const me = self();
  if (me && st.uid !== me.uid) return `${notOurs(file, st.uid, me)}; remove it or chown it to uid ${me.uid}`;
  return null;
};

/**
 * Creates `dir` (mode 0700, with its parents) when it is missing, then checks it. Returns why it
 * is unsafe, or null. Failing to create it (EACCES, ENOTDIR, …) throws the fs error.
 */
export const ensurePrivateDir = (dir: string): string | null => {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  if (st.isSymbolicLink()) return `${dir} is a symbolic link; use a real directory (mkdir -m 700)`;
  if (!st.isDirectory()) return `${dir} is not a directory`;
  const me = self();
  if (!me) return null;
  if (st.uid !== me.uid) return `${notOurs(dir, st.uid, me)}; run chown ${me.uid} ${dir} (or remove it)`;
  if (st.mode & 0o022) {
    return `${dir} is writable by other users (mode ${octal(st.mode)}); run chmod 700 ${dir}`;
  }
  return null;
};

// Absent on Windows; O_NONBLOCK keeps a planted FIFO from blocking the open (fstat then refuses it).
const READ_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0);

const isSymlink = (file: string): boolean => {
  try {
    return fs.lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
};

/**
 * The text of `file` and its permission bits, or null when it does not exist. Throws
 * UnsafePathError for a symlink, a non-regular file or another user's file; other fs errors as is.
 */
export const readOwnFile = (file: string): { text: string; mode: number } | null => {
  let fd: number;
  try {
    fd = fs.openSync(file, READ_FLAGS);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    // O_NOFOLLOW fails with ELOOP on a final symlink (the lstat tells it from a loop in the path).
    if (code === "ELOOP" && isSymlink(file)) throw new UnsafePathError(symlink(file));
    throw e;
  }
  try {
    const st = fs.fstatSync(fd);
    const why = fileProblem(file, st);
    if (why) throw new UnsafePathError(why);
    return { text: fs.readFileSync(fd, "utf8"), mode: st.mode & 0o777 };
  } finally {
    fs.closeSync(fd);
  }
};

/** Throws UnsafePathError when an existing `file` may not be replaced (see readOwnFile). */
export const checkOwnFile = (file: string): void => {
  let st: ReturnType<typeof fs.lstatSync>;
  try {
    st = fs.lstatSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw e;
  }
  const why = fileProblem(file, st);
  if (why) throw new UnsafePathError(why);
};

/**
 * Atomically replaces `file` (temp file + rename), mode 0600, owned by this process. Checked first
 * with checkOwnFile: write-file-atomic would otherwise follow a symlink to its target and copy an
 * existing file's owner onto the new one. Call only inside a directory that ensurePrivateDir passed.
 */
export const writeOwnFile = async (file: string, text: string): Promise<void> => {
  checkOwnFile(file);
  const { default: writeFileAtomic } = await import("write-file-atomic");
  const me = self();
  await writeFileAtomic(file, text, { mode: 0o600, ...(me ? { chown: me } : {}) });
};
