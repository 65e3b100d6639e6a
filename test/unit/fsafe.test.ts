// src/fsafe.ts on real files in a temp dir: which directories and files the cache and the store
// may trust. The ownership cases need a second uid, so they run as root only (chown to nobody).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmod, chown, lstat, mkdir, readFile, readlink, stat, symlink } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { checkOwnFile, ensurePrivateDir, readOwnFile, UnsafePathError, writeOwnFile } from "../../src/fsafe.ts";
import { tmpTree } from "../support/tmp.ts";

const NOBODY = 65534;
const asRoot = process.getuid?.() === 0 ? false : "needs root: the files must belong to another uid (nobody)";
const unsafe = (re: RegExp) => (e: unknown) => e instanceof UnsafePathError && re.test(e.message);

test("ensurePrivateDir creates a missing directory 0700 with its parents and accepts it", async (t) => {
  const root = await tmpTree(t);
  const dir = join(root, "a", "b");
  assert.equal(ensurePrivateDir(dir), null);
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  assert.equal(ensurePrivateDir(dir), null, "an existing good directory");
});

test("ensurePrivateDir refuses group/other-writable directories, symlinks and non-directories", async (t) => {
  const root = await tmpTree(t, { file: "x" });
  const open = join(root, "open");
  await mkdir(open);
  await chmod(open, 0o777);
  assert.match(ensurePrivateDir(open) ?? "", /open is writable by other users \(mode 777\); run chmod 700 .*open$/);
  await chmod(open, 0o720);
  assert.match(ensurePrivateDir(open) ?? "", /mode 720/);
  await chmod(open, 0o755);
  assert.equal(ensurePrivateDir(open), null, "read and search bits for others are fine");
  const link = join(root, "link");
  await symlink(open, link);
  assert.match(ensurePrivateDir(link) ?? "", /link is a symbolic link/);
  assert.throws(() => ensurePrivateDir(join(root, "file")), { code: "EEXIST" });
  assert.throws(() => ensurePrivateDir(join(root, "file", "sub")), { code: "ENOTDIR" });
});

test("ensurePrivateDir refuses another user's directory", { skip: asRoot }, async (t) => {
  const root = await tmpTree(t);
  const dir = join(root, "theirs");
  await mkdir(dir, { mode: 0o700 });
  await chown(dir, NOBODY, NOBODY);
  assert.match(ensurePrivateDir(dir) ?? "", /theirs is owned by uid 65534, not by this user \(uid 0\); run chown 0 /);
});

test("readOwnFile: missing is null; own regular file is read with its mode", async (t) => {
  const root = await tmpTree(t, { f: "hello" });
  assert.equal(readOwnFile(join(root, "missing")), null);
  await chmod(join(root, "f"), 0o640);
  assert.deepEqual(readOwnFile(join(root, "f")), { text: "hello", mode: 0o640 });
});

test("readOwnFile refuses a symlink (even to our own file), a directory and a FIFO without blocking", async (t) => {
  const root = await tmpTree(t, { target: '{"version":1,"entries":{}}' });
  await symlink(join(root, "target"), join(root, "link"));
  assert.throws(() => readOwnFile(join(root, "link")), unsafe(/link is a symbolic link/));
  await symlink(join(root, "nowhere"), join(root, "dangling"));
  assert.throws(() => readOwnFile(join(root, "dangling")), unsafe(/dangling is a symbolic link/));
  await mkdir(join(root, "dir"));
  assert.throws(() => readOwnFile(join(root, "dir")), unsafe(/dir is not a regular file/));
  execFileSync("mkfifo", [join(root, "fifo")]);
  assert.throws(() => readOwnFile(join(root, "fifo")), unsafe(/fifo is not a regular file/));
});

test("readOwnFile and checkOwnFile refuse another user's file", { skip: asRoot }, async (t) => {
  const root = await tmpTree(t, { theirs: "planted" });
  await chown(join(root, "theirs"), NOBODY, NOBODY);
  assert.throws(() => readOwnFile(join(root, "theirs")), unsafe(/theirs is owned by uid 65534/));
  assert.throws(() => checkOwnFile(join(root, "theirs")), unsafe(/theirs is owned by uid 65534/));
});

test("writeOwnFile replaces a symlink's target never: refuses, and the target is untouched", async (t) => {
  const root = await tmpTree(t, { target: "precious" });
  await symlink(join(root, "target"), join(root, "link"));
  await assert.rejects(writeOwnFile(join(root, "link"), "new"), unsafe(/link is a symbolic link/));
  assert.equal(await readFile(join(root, "target"), "utf8"), "precious");
  assert.equal(await readlink(join(root, "link")), join(root, "target"));
});

test("writeOwnFile writes a new file 0600 and replaces our own atomically", async (t) => {
  const root = await tmpTree(t, { old: "v1" });
  await chmod(join(root, "old"), 0o644);
  await writeOwnFile(join(root, "new"), "n");
  await writeOwnFile(join(root, "old"), "v2");
  for (const f of ["new", "old"]) assert.equal((await stat(join(root, f))).mode & 0o777, 0o600, f);
  assert.equal(await readFile(join(root, "old"), "utf8"), "v2");
});

test("writeOwnFile never copies an existing file's owner or group onto the new one", { skip: asRoot }, async (t) => {
  const root = await tmpTree(t, { theirs: "planted", mixed: "ours" });
  await chown(join(root, "theirs"), NOBODY, NOBODY);
  await assert.rejects(writeOwnFile(join(root, "theirs"), "token"), unsafe(/owned by uid 65534/));
  assert.equal(await readFile(join(root, "theirs"), "utf8"), "planted");
  // Our own file with a foreign group: the replacement is ours entirely (write-file-atomic would
  // copy the old uid/gid without an explicit chown).
  await chown(join(root, "mixed"), 0, NOBODY);
  await writeOwnFile(join(root, "mixed"), "token");
  const st = await lstat(join(root, "mixed"));
  assert.deepEqual([st.uid, st.gid], [0, process.getegid?.()]);
});
