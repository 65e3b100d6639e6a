// Test PKI built with the `openssl` CLI: one CA per test run plus cached server leaves.
//
// Trusting the CA from spawned processes:
//   - Node children: set env NODE_EXTRA_CA_CERTS=<ca.certFile>. Always set it explicitly in the
//     child env (overriding any inherited value), otherwise a developer's own setting wins.
//   - skopeo: --src-cert-dir/--dest-cert-dir <dir holding ca.crt> (see registry.ts certDir).
//   - curl: --cacert <ca.certFile>.
import { createHash, randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import { run } from "./namespace.ts";

/** A test certificate authority living in `dir` (PEM files). */
export type Ca = {
  dir: string;
  certFile: string;
  keyFile: string;
  certPem: string;
};

/** A server certificate signed by a Ca (PEM files + contents). */
export type Leaf = {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
};

const CN_SAFE = /^[A-Za-z0-9*._:-]+$/; // DNS names (incl. wildcard), IPv4/IPv6 literals

async function openssl(args: string[]): Promise<void> {
  const r = await run("openssl", args, { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`openssl ${args[0]} failed (${r.code}): ${r.stderr.slice(-2000)}`);
}

/** Creates a self-signed EC P-256 CA valid for 100 years in `dir` (ca.crt / ca.key). */
export async function makeCa(dir: string): Promise<Ca> {
  const certFile = join(dir, "ca.crt");
  const keyFile = join(dir, "ca.key");
  const cnf = join(dir, "ca.cnf");
  await writeFile(
    cnf,
    [
      "[req]",
      "distinguished_name = dn",
      "x509_extensions = v3_ca",
      "prompt = no",
      "[dn]",
      `CN = docker-credential-cloud test CA ${randomBytes(4).toString("hex")}`,
      "[v3_ca]",
      "basicConstraints = critical,CA:TRUE",
      "keyUsage = critical,keyCertSign,cRLSign",
      "subjectKeyIdentifier = hash",
      "authorityKeyIdentifier = keyid:always",
      "",
    ].join("\n"),
  );
  await openssl([
    "req",
    "-x509",
    "-new",
    "-config",
    cnf,
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    keyFile,
    "-out",
    certFile,
    "-days",
    "36500",
    "-sha256",
  ]);
  return { dir, certFile, keyFile, certPem: await readFile(certFile, "utf8") };
}

const leafCache = new Map<string, Promise<Leaf>>();

/** Issues (or returns the cached) serverAuth leaf for `names`: IP SANs for IP literals, DNS SANs otherwise. */
export async function issueCert(ca: Ca, names: string[]): Promise<Leaf> {
  if (names.length === 0) throw new Error("issueCert needs at least one name");
  for (const n of names) if (!CN_SAFE.test(n)) throw new Error(`unsupported certificate name ${JSON.stringify(n)}`);
  const sorted = [...new Set(names)].sort();
  const key = `${ca.dir}\n${sorted.join(",")}`;
  let leaf = leafCache.get(key);
  if (!leaf) {
    leaf = createLeaf(ca, sorted);
    leaf.catch(() => leafCache.delete(key)); // do not cache failures
    leafCache.set(key, leaf);
  }
  return leaf;
}

async function createLeaf(ca: Ca, names: string[]): Promise<Leaf> {
  const id = createHash("sha256").update(names.join(",")).digest("hex").slice(0, 16);
  const base = join(ca.dir, `leaf-${id}`);
  const keyFile = `${base}.key`;
  const certFile = `${base}.crt`;
  const csr = `${base}.csr`;
  const ext = `${base}.ext`;
  const san = names.map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(",");
  await writeFile(
    ext,
    [
      "basicConstraints = critical,CA:FALSE",
      "keyUsage = critical,digitalSignature",
      "extendedKeyUsage = serverAuth",
      `subjectAltName = ${san}`,
      "subjectKeyIdentifier = hash",
      "authorityKeyIdentifier = keyid",
      "",
    ].join("\n"),
  );
  // CN is informational only (clients match SANs); keep it short (CN max 64 chars).
  await openssl([
    "req",
    "-new",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    keyFile,
    "-out",
    csr,
    "-subj",
    `/CN=test leaf ${id}`,
  ]);
  await openssl([
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    ca.certFile,
    "-CAkey",
    ca.keyFile,
    "-set_serial",
    `0x${randomBytes(12).toString("hex")}`,
    "-days",
    "3650",
    "-sha256",
    "-extfile",
    ext,
    "-out",
    certFile,
  ]);
  const [certPem, keyPem] = await Promise.all([readFile(certFile, "utf8"), readFile(keyFile, "utf8")]);
  return { certFile, keyFile, certPem, keyPem };
}
