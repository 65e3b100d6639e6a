// A minimal OCI image layout (one gzip layer with /hello.txt, linux/amd64) built with node:crypto/zlib,
// plus a reader to check what a pull produced.
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";

/** Digests of the image written by writeOciLayout ("sha256:…"), plus the /hello.txt text. */
export type OciImageInfo = {
  manifestDigest: string;
  configDigest: string;
  layerDigest: string;
  hello: string;
};

const MANIFEST = "application/vnd.oci.image.manifest.v1+json";

function sha256(b: Buffer): string {
  return `sha256:${createHash("sha256").update(b).digest("hex")}`;
}

async function putBlob(dir: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  await writeFile(join(dir, "blobs", "sha256", digest.slice("sha256:".length)), data);
  return digest;
}

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, "0")}\0`;
}

/** A one-file ustar archive (regular file, mode 0644, mtime 0). */
function tarOneFile(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, "utf8");
  header.write(octal(0o644, 8), 100, "ascii");
  header.write(octal(0, 8), 108, "ascii");
  header.write(octal(0, 8), 116, "ascii");
  header.write(octal(content.length, 12), 124, "ascii");
  header.write(octal(0, 12), 136, "ascii");
  header.write("        ", 148, "ascii"); // checksum placeholder
  header.write("0", 156, "ascii");
  header.write("ustar\0", 257, "ascii");
  header.write("00", 263, "ascii");
  header.write("root", 265, "ascii");
  header.write("root", 297, "ascii");
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
  const padded = Buffer.alloc(Math.ceil(content.length / 512) * 512);
  content.copy(padded);
  return Buffer.concat([header, padded, Buffer.alloc(1024)]);
}

/** Minimal tar reader: regular files only, returns name → content. */
function untar(tar: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let off = 0;
  while (off + 512 <= tar.length) {
    const header = tar.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const name = header.subarray(0, 100).toString("utf8").replace(/\0.*$/s, "");
    const size = Number.parseInt(header.subarray(124, 136).toString("ascii").replace(/\0.*$/s, "").trim() || "0", 8);
    const type = String.fromCharCode(header[156] ?? 48);
    if (type === "0" || type === "\0") files.set(name.replace(/^\.?\//, ""), tar.subarray(off + 512, off + 512 + size));
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

/**
 * Writes an OCI image layout into `dir` tagged `latest` (skopeo: `oci:<dir>:latest`).
 * /hello.txt holds `hello` (default: a random line, so every push is a distinct image).
 */
export async function writeOciLayout(dir: string, opts: { hello?: string } = {}): Promise<OciImageInfo> {
  const hello = opts.hello ?? `hello from the docker-credential-cloud harness ${randomBytes(8).toString("hex")}\n`;
  await mkdir(join(dir, "blobs", "sha256"), { recursive: true });
  const tar = tarOneFile("hello.txt", Buffer.from(hello, "utf8"));
  const layer = gzipSync(tar);
  const layerDigest = await putBlob(dir, layer);
  const config = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: {},
      rootfs: { type: "layers", diff_ids: [sha256(tar)] },
      history: [{ created_by: "docker-credential-cloud test harness" }],
    }),
  );
  const configDigest = await putBlob(dir, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST,
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: configDigest,
        size: config.length,
      },
      layers: [
        {
          mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
          digest: layerDigest,
          size: layer.length,
        },
      ],
    }),
  );
  const manifestDigest = await putBlob(dir, manifest);
  await writeFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  await writeFile(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        {
          mediaType: MANIFEST,
          digest: manifestDigest,
          size: manifest.length,
          annotations: { "org.opencontainers.image.ref.name": "latest" },
        },
      ],
    }),
  );
  return { manifestDigest, configDigest, layerDigest, hello };
}

/** Reads image `tag` from an OCI layout (e.g. one written by `skopeo copy … oci:<dir>:<tag>`): manifest digest + files of all layers. */
export async function readOciImage(
  dir: string,
  tag: string,
): Promise<{ manifestDigest: string; files: Map<string, Buffer> }> {
  const blob = (digest: string) => readFile(join(dir, "blobs", ...digest.split(":")));
  const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  const entry = index.manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === tag);
  if (!entry) throw new Error(`tag ${tag} not found in ${dir}/index.json`);
  const manifest = JSON.parse((await blob(entry.digest)).toString("utf8")) as {
    layers: { digest: string; mediaType: string }[];
  };
  const files = new Map<string, Buffer>();
  for (const l of manifest.layers) {
    const raw = await blob(l.digest);
    const tar = l.mediaType.endsWith("gzip") ? gunzipSync(raw) : raw;
    for (const [name, content] of untar(tar)) files.set(name, content);
  }
  return { manifestDigest: entry.digest, files };
}
