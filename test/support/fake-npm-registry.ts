// A fake npm registry on 127.0.0.1, so `npm install -g docker-credential-cloud` and `npx` run as
// users run them (by name, against a registry) without leaving loopback. It serves:
// - the tarballs a test packed, with packuments built from each tarball's package.json;
// - every package version package-lock.json records outside devDependencies, with packuments built
//   from the lock entries and tarballs read from the local npm cache by integrity (`npm ci` put them
//   there; a dependency missing from it is a 404 naming it).
// Anything else is a 404 and recorded. Responses say `no-store`, so npm's cache keeps no test build.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { basename, join } from "node:path";

export interface FakeNpmRegistry {
  url: string;
  /** Request paths answered 404. */
  missing: string[];
  /** Tarball downloads (file names). */
  downloads: string[];
  close(): Promise<void>;
}

interface Version {
  name: string;
  version: string;
  [k: string]: unknown;
}
type Tarball = { kind: "file"; data: Buffer } | { kind: "cache"; integrity: string };

const MANIFEST_FIELDS = [
  "dependencies",
  "optionalDependencies",
  "peerDependencies",
  "peerDependenciesMeta",
  "bin",
  "engines",
  "os",
  "cpu",
  "libc",
  "license",
  "hasInstallScript",
];

/** cacache's content path for an sha512 integrity string. */
const cachePath = (cache: string, integrity: string) => {
  const hex = Buffer.from(integrity.replace(/^sha512-/, ""), "base64").toString("hex");
  return join(cache, "_cacache", "content-v2", "sha512", hex.slice(0, 2), hex.slice(2, 4), hex.slice(4));
};

export const startFakeNpmRegistry = async (opts: {
  tarballs: readonly string[];
  lockfile: string;
  npmCache: string;
}): Promise<FakeNpmRegistry> => {
  const packuments = new Map<string, Map<string, Version & { file: string; integrity: string }>>();
  const tarballs = new Map<string, Tarball>();
  const add = (v: Version, file: string, integrity: string, t: Tarball) => {
    const versions = packuments.get(v.name) ?? new Map();
    versions.set(v.version, { ...v, file, integrity });
    packuments.set(v.name, versions);
    tarballs.set(file, t);
  };
  const lock = JSON.parse(readFileSync(opts.lockfile, "utf8")) as { packages: Record<string, Record<string, unknown>> };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (!path || entry.dev || entry.devOptional || typeof entry.integrity !== "string") continue;
    const name = (entry.name as string | undefined) ?? path.slice(path.lastIndexOf("node_modules/") + 13);
    const version = entry.version as string;
    const v: Version = { name, version };
    for (const f of MANIFEST_FIELDS) if (f in entry) v[f] = entry[f];
    const file = `${name.replace("/", "-").replace(/^@/, "")}-${version}.tgz`;
    add(v, file, entry.integrity, { kind: "cache", integrity: entry.integrity });
  }
  for (const tgz of opts.tarballs) {
    const data = readFileSync(tgz);
    const pkg = JSON.parse(execFileSync("tar", ["-xzOf", tgz, "package/package.json"], { encoding: "utf8" }));
    const integrity = `sha512-${createHash("sha512").update(data).digest("base64")}`;
    add(pkg, basename(tgz), integrity, { kind: "file", data });
  }
  const missing: string[] = [];
  const downloads: string[] = [];
  let base = "";
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? "/").split("?")[0] ?? "/");
    const send = (code: number, body: string | Buffer, type = "application/json") => {
      res.writeHead(code, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    };
    if (path.startsWith("/-/")) {
      const t = tarballs.get(path.slice(3));
      const data =
        t?.kind === "file"
          ? t.data
          : t && existsSync(cachePath(opts.npmCache, t.integrity))
            ? readFileSync(cachePath(opts.npmCache, t.integrity))
            : undefined;
      if (data) {
        downloads.push(path.slice(3));
        return send(200, data, "application/octet-stream");
      }
    } else {
      const versions = packuments.get(path.slice(1));
      if (versions) {
        const out: Record<string, unknown> = {};
        let latest = "";
        for (const [ver, { file, integrity, ...v }] of versions) {
          out[ver] = { ...v, _id: `${v.name}@${ver}`, dist: { tarball: `${base}/-/${file}`, integrity } };
          latest = ver;
        }
        return send(200, JSON.stringify({ name: path.slice(1), "dist-tags": { latest }, versions: out }));
      }
    }
    missing.push(path);
    send(404, JSON.stringify({ error: "not found" }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url: base, missing, downloads, close: () => new Promise((resolve) => server.close(() => resolve())) };
};
