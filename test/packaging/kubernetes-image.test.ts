// The node-installer image (packaging/kubernetes/Dockerfile) without a Docker engine: what can be
// checked here is that it is built from the release executables by the names scripts/build-release.ts
// writes, for each architecture TARGETARCH selects, that its .dockerignore lets exactly those
// files through, that no stage is a Node image, and that the DaemonSet runs this version's image.
// Its checksum step is run for real on a context laid out like dist/release. (Building and running
// the image, and applying the DaemonSet to a cluster, are not verified here.)
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parseAllDocuments } from "yaml";
import { binaryName, TARGETS } from "../../scripts/targets.ts";
import { ROOT } from "../support/cli.ts";
import { run } from "../support/namespace.ts";
import { tmpTree } from "../support/tmp.ts";

const DIR = join(ROOT, "packaging", "kubernetes");
const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const dockerfile = readFileSync(join(DIR, "Dockerfile"), "utf8");
/** Docker's architecture names → release target ids. */
const ARCHES = { amd64: "linux-x64", arm64: "linux-arm64" } as const;
const releaseNames = Object.values(ARCHES).map((id) => binaryName(TARGETS.find((t) => t.id === id)!, version));

/** The Dockerfile's instructions, continuation lines joined and comments dropped. */
const instructions = dockerfile
  .replace(/\\\n/g, " ")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith("#"));
const expand = (s: string) => s.replace(/\$\{VERSION\}/g, version);

test("the image is built from this version's Linux release executables, no Node in any stage", () => {
  assert.ok(instructions.includes(`ARG VERSION=${version}`), "ARG VERSION defaults to package.json's version");
  for (const from of instructions.filter((l) => l.startsWith("FROM "))) assert.doesNotMatch(from, /node/i);
  const copied = instructions
    .filter((l) => l.startsWith("COPY ") && !l.includes("--from="))
    .flatMap((l) => l.split(/\s+/).slice(1, -1).map(expand));
  assert.deepEqual(copied.sort(), ["dist/release/SHA256SUMS", ...releaseNames.map((n) => `dist/release/${n}`)].sort());
  // Each architecture Docker can ask for has a payload, and the final stage picks it by TARGETARCH.
  for (const arch of Object.keys(ARCHES))
    assert.match(dockerfile, new RegExp(`/payload/${arch}/bin/docker-credential-cloud`));
  assert.ok(instructions.some((l) => /^COPY --from=verified \/payload\/\$\{TARGETARCH\} \/payload$/.test(l)));
});

test("Dockerfile.dockerignore sends exactly the executables and SHA256SUMS", () => {
  const rules = readFileSync(join(DIR, "Dockerfile.dockerignore"), "utf8")
    .split("\n")
    .filter((l) => l && !l.startsWith("#"));
  const re = (glob: string) => new RegExp(`^${glob.replace(/[.+?^$()|[\]\\]/g, "\\$&").replaceAll("*", "[^/]*")}$`);
  // Docker's rules: a pattern matches a path or any of its parent directories; the last matching
  // pattern wins; "!" re-includes.
  const matches = (glob: string, path: string) =>
    path.split("/").some((_, i, parts) => re(glob).test(parts.slice(0, i + 1).join("/")));
  const sent = (path: string) =>
    rules.reduce(
      (keep, r) => (r.startsWith("!") ? matches(r.slice(1), path) || keep : !matches(r, path) && keep),
      true,
    );
  for (const n of [...releaseNames, "SHA256SUMS"]) assert.ok(sent(`dist/release/${n}`), `${n} is sent`);
  for (const p of [
    "src",
    "node_modules",
    "package.json",
    `dist/release/${binaryName(TARGETS.find((t) => t.id === "darwin-arm64")!, version)}`,
    "dist/docker-credential-cloud",
  ])
    assert.ok(!sent(p), `${p} is not sent`);
});

test("the checksum step accepts matching files and fails on a changed one", async (t) => {
  const run_ = instructions.find((l) => l.startsWith("RUN grep"))!.slice(4);
  const ctx = await tmpTree(t);
  const rel = join(ctx, "release");
  mkdirSync(rel);
  const sums = releaseNames.map((n) => {
    writeFileSync(join(rel, n), `stands in for ${n}\n`);
    return `${createHash("sha256").update(`stands in for ${n}\n`).digest("hex")}  ${n}\n`;
  });
  writeFileSync(join(rel, "SHA256SUMS"), `0000  docker-credential-cloud-${version}-darwin-arm64\n${sums.join("")}`);
  // Only the checksum part: the rest moves files into /payload.
  const check = expand(run_.split(" && ")[0]!);
  const ok = await run("/bin/sh", ["-c", check], { cwd: rel });
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  writeFileSync(join(rel, "SHA256SUMS"), sums.join("").replace(/^[0-9a-f]{4}/, "ffff"));
  const bad = await run("/bin/sh", ["-c", check], { cwd: rel });
  assert.notEqual(bad.code, 0);
});

test("the DaemonSet's init container runs this version's installer image", () => {
  const docs = parseAllDocuments(readFileSync(join(DIR, "daemonset.yaml"), "utf8")).map((d) => d.toJS());
  const ds = docs.find((d) => d?.kind === "DaemonSet");
  const init = ds.spec.template.spec.initContainers[0];
  assert.match(init.image, new RegExp(`/docker-credential-cloud-installer:${version.replaceAll(".", "\\.")}$`));
  assert.deepEqual(init.command, ["/bin/sh", "/config/install.sh"]);
  assert.deepEqual(ds.spec.template.spec.nodeSelector, { "kubernetes.io/os": "linux" });
});
