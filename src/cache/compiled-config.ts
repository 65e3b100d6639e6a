// A cache step the edge opts into: a YAML config is parsed once and kept as validated JSON in the
// cache directory, keyed by a hash of the YAML text, so later pulls do not load the YAML library
// (≈ 40 ms and 70 modules on every `get`). The copy is trusted only if it is a regular file owned
// by us and writable by no one else; anything else is ignored and the YAML is parsed again. JSON
// configs skip all this. Settings only read; this module is what writes.

import { path } from "../builtins.ts";
import { parseConfig } from "../config.ts";
import { ensurePrivateDir, readOwnFile, writeOwnFile } from "../fsafe.ts";
import { digest } from "../hash.ts";
import type { ConfigParser } from "../settings.ts";

/** parseConfig through the compiled copy in `compiledDir`; plain parseConfig when it is null. */
export const compiledConfigParser =
  (compiledDir: string | null): ConfigParser =>
  async (text, file) => {
    if (compiledDir === null || text.trimStart().startsWith("{")) return parseConfig(text, file);
    const hash = digest(file, text);
    const compiled = path.join(compiledDir, `config-${digest(file)}.json`);
    try {
      const own = readOwnFile(compiled); // null when absent; throws for a symlink or another user's file
      if (own && (own.mode & 0o022) === 0) {
        const copy = JSON.parse(own.text) as { version?: number; hash?: string; config?: unknown };
        if (copy.version === 1 && copy.hash === hash) return await parseConfig(JSON.stringify(copy.config), file);
      }
    } catch {
      // no usable copy: parse the YAML below
    }
    const config = await parseConfig(text, file);
    try {
      if (ensurePrivateDir(compiledDir) === null) {
        await writeOwnFile(compiled, JSON.stringify({ version: 1, hash, config }));
      }
    } catch {
      // best effort: the next run parses the YAML again
    }
    return config;
  };
