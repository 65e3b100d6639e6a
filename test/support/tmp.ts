// Inline fixture trees in temp directories (removed when the test ends).
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { TestContext } from "node:test";

/** Creates a temp dir holding `files` (path → content); removed after the test. */
export const tmpTree = async (t: TestContext | undefined, files: Record<string, string> = {}): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), "dcc-test-"));
  for (const [rel, content] of Object.entries(files)) {
    const file = join(dir, rel);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, content);
  }
  t?.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
};
