// Packs release executables (scripts/build-release.ts) into what users install:
//   npm/docker-credential-cloud-<v>.tgz         the main package: the Node build (library, launcher),
//                                               the command (packaging/npm/docker-credential-cloud), one
//                                               optionalDependency per platform
//   npm/docker-credential-cloud-<id>-<v>.tgz    @docker-credential-cloud/<id>: bin/docker-credential-cloud[.exe]
//   docker-credential-cloud_<v>_<arch>.deb      Linux glibc targets (dpkg-deb): /usr/bin/docker-credential-cloud
//   docker-credential-cloud-<v>-1.<arch>.rpm    the same, with rpmbuild (Debian's `rpm` package)
// Run after `npm run build` (the main package carries dist/): `node scripts/package.ts
// [--bin-dir dist/release] [--outdir dist/release] [--targets linux-x64,…] [--kinds npm,deb,rpm]`.
// The executables are never stripped: the compiled program lives in a section of the file.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { binaryName, NAME, platformPackage, TARGETS, type Target } from "./targets.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const PACKAGING = join(ROOT, "packaging");

interface Manifest {
  name: string;
  version: string;
  description: string;
  license: string;
  engines: Record<string, string>;
  exports: unknown;
  dependencies: Record<string, string>;
  [k: string]: unknown;
}

const root = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as Manifest;
const version = root.version;
const write = (file: string, text: string) => {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
};
const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

/** `npm pack` of a staged directory; returns the tarball's path and its integrity. */
const pack = (dir: string, dest: string) => {
  mkdirSync(dest, { recursive: true });
  const out = execFileSync("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", dest], {
    cwd: dir,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const [info] = JSON.parse(out) as { filename: string; integrity: string }[];
  if (!info) throw new Error(`npm pack in ${dir}: no output`);
  return { file: join(dest, info.filename), integrity: info.integrity };
};

const platformManifest = (t: Target) => ({
  name: platformPackage(t),
  version,
  description: `The ${t.id} executable of docker-credential-cloud`,
  license: root.license,
  os: [t.os],
  cpu: [t.cpu],
  ...(t.libc ? { libc: [t.libc] } : {}),
  files: ["bin"],
  preferUnplugged: true,
});

const packPlatform = (t: Target, binary: string, stage: string, dest: string) => {
  const dir = join(stage, t.id);
  rmSync(dir, { recursive: true, force: true });
  write(join(dir, "package.json"), json(platformManifest(t)));
  write(
    join(dir, "README.md"),
    `# ${platformPackage(t)}\n\nThe ${t.id} executable of [docker-credential-cloud](https://www.npmjs.com/package/${NAME}); install that package instead.\n`,
  );
  const bin = join(dir, "bin", `${NAME}${t.exe}`);
  mkdirSync(dirname(bin), { recursive: true });
  copyFileSync(binary, bin);
  chmodSync(bin, 0o755);
  return pack(dir, dest);
};

/**
 * The main package: the library and Node build (with their dependencies as ranges, as any library
 * ships them), the command that picks the platform executable, and one optionalDependency per
 * platform at this exact version; npm installs only the one whose os/cpu/libc match the machine.
 */
const packMain = (stage: string, dest: string) => {
  const dir = join(stage, "main");
  rmSync(dir, { recursive: true, force: true });
  const manifest = {
    name: root.name,
    version,
    description: root.description,
    license: root.license,
    type: "module",
    engines: root.engines,
    bin: { [NAME]: `bin/${NAME}` },
    exports: root.exports,
    files: ["bin", "dist", "README.md"],
    dependencies: root.dependencies,
    optionalDependencies: Object.fromEntries(TARGETS.map((t) => [platformPackage(t), version])),
  };
  write(join(dir, "package.json"), json(manifest));
  cpSync(join(PACKAGING, "npm", NAME), join(dir, "bin", NAME));
  chmodSync(join(dir, "bin", NAME), 0o755);
  // The Node build: library (tsc), launcher bundle and Node launcher; not the host executable.
  cpSync(join(ROOT, "dist"), join(dir, "dist"), {
    recursive: true,
    filter: (src) => ![join(ROOT, "dist", NAME), join(ROOT, "dist", "release")].includes(src),
  });
  copyFileSync(join(ROOT, "README.md"), join(dir, "README.md"));
  return pack(dir, dest);
};

const debControl = (t: Target, installedKb: number) => `Package: ${NAME}
Version: ${version}
Architecture: ${t.deb}
Maintainer: docker-credential-cloud maintainers <maintainers@docker-credential-cloud.invalid>
Installed-Size: ${installedKb}
Depends: libc6 (>= 2.17), libgcc-s1 | libgcc1
Suggests: gnome-keyring
Section: utils
Priority: optional
Description: container-registry credentials from AWS ECR, Google and Azure
${wrap(`${root.description}.`)}
 .
 One self-contained executable: a Docker credential helper (docker, nerdctl,
 the SOCI snapshotter, podman, skopeo, buildah) and a kubelet image credential
 provider plugin.
`;

/** The release date (RFC 2822): the commit's, so a rebuild of one commit writes the same files. */
const released = (() => {
  try {
    return execFileSync("git", ["log", "-1", "--format=%cD"], { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    return new Date().toUTCString().replace("GMT", "+0000");
  }
})();

/** A control-file extended description: lines of at most 80 columns, each starting with a space. */
const wrap = (text: string) => {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > 79) {
      lines.push(` ${line}`);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(` ${line}`);
  return lines.join("\n");
};

const copyright = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ${NAME}

Files: *
Copyright: ${released.split(" ")[3]} docker-credential-cloud maintainers
License: ${root.license}
 On Debian systems the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0. The executable embeds the Bun runtime
 (MIT) and npm dependencies under their own licenses.
`;

/** --fast (the tests): packages stored uncompressed, which saves minutes of xz. */
let fast = false;

const packDeb = (t: Target, binary: string, stage: string, dest: string) => {
  const dir = join(stage, `deb-${t.id}`);
  rmSync(dir, { recursive: true, force: true });
  const bin = join(dir, "usr", "bin", NAME);
  mkdirSync(dirname(bin), { recursive: true });
  copyFileSync(binary, bin);
  chmodSync(bin, 0o755);
  const doc = join(dir, "usr", "share", "doc", NAME);
  write(join(doc, "copyright"), copyright);
  copyFileSync(join(ROOT, "README.md"), join(doc, "README.md"));
  // Debian policy: a changelog (gzip -9n) beside the copyright.
  const changelog = `${NAME} (${version}) unstable; urgency=medium\n\n  * Release ${version}.\n\n -- docker-credential-cloud maintainers <maintainers@docker-credential-cloud.invalid>  ${released}\n`;
  writeFileSync(join(doc, "changelog.gz"), gzipSync(changelog, { level: 9 }));
  // What lintian says of every Bun-compiled program, and why it stands: the runtime is one static
  // blob (not stripped, no PIE/RELRO, its own image decoders inside); stripping it breaks the
  // embedded module graph.
  write(
    join(dir, "usr", "share", "lintian", "overrides", NAME),
    ["unstripped-binary-or-object", "embedded-library libjpeg", "hardening-no-pie", "hardening-no-relro"]
      .map((tag) => `${NAME}: ${tag} [usr/bin/${NAME}]\n`)
      .join(""),
  );
  const kb = Math.ceil(
    Number(execFileSync("du", ["-sk", "--apparent-size", join(dir, "usr")], { encoding: "utf8" }).split("\t")[0]),
  );
  write(join(dir, "DEBIAN", "control"), debControl(t, kb));
  const out = join(dest, `${NAME}_${version}_${t.deb}.deb`);
  mkdirSync(dest, { recursive: true });
  execFileSync("dpkg-deb", ["--root-owner-group", fast ? "-Znone" : "-Zxz", "--build", dir, out], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  return out;
};

const packRpm = (t: Target, binary: string, stage: string, dest: string) => {
  const top = join(stage, `rpm-${t.id}`);
  rmSync(top, { recursive: true, force: true });
  mkdirSync(top, { recursive: true });
  const defines = {
    _topdir: top,
    _rpmdir: dest,
    _build_name_fmt: "%%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm",
    dcc_version: version,
    dcc_binary: binary,
    dcc_readme: join(ROOT, "README.md"),
    dcc_summary: "Container-registry credentials from AWS ECR, Google and Azure",
    dcc_license: root.license,
    ...(fast ? { _binary_payload: "w.ufdio" } : {}),
  };
  const args = ["-bb", "--quiet", "--target", `${t.rpm}-linux`];
  for (const [k, v] of Object.entries(defines)) args.push("--define", `${k} ${v}`);
  args.push(join(PACKAGING, "linux", `${NAME}.spec`));
  mkdirSync(dest, { recursive: true });
  execFileSync("rpmbuild", args, { stdio: ["ignore", "ignore", "inherit"] });
  return join(dest, `${NAME}-${version}-1.${t.rpm}.rpm`);
};

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

if (import.meta.main ?? process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      "bin-dir": { type: "string", default: join(ROOT, "dist", "release") },
      outdir: { type: "string", default: join(ROOT, "dist", "release") },
      targets: { type: "string" },
      kinds: { type: "string", default: "npm,deb,rpm" },
      fast: { type: "boolean", default: false },
    },
  });
  fast = values.fast as boolean;
  const kinds = new Set((values.kinds as string).split(","));
  const wanted = values.targets?.split(",") ?? TARGETS.map((t) => t.id);
  const targets = TARGETS.filter((t) => wanted.includes(t.id));
  const outdir = values.outdir as string;
  // Staged outside dist/: the main package copies dist/ itself.
  const stage = mkdtempSync(join(tmpdir(), "dcc-package-"));
  const made: string[] = [];
  try {
    const binaries = new Map<Target, string>();
    for (const t of targets) {
      const file = join(values["bin-dir"] as string, binaryName(t, version));
      if (!existsSync(file)) throw new Error(`${file} is missing (bun scripts/build-release.ts --targets ${t.id})`);
      binaries.set(t, file);
    }
    if (kinds.has("npm")) {
      for (const [t, file] of binaries) made.push(packPlatform(t, file, stage, join(outdir, "npm")).file);
      made.push(packMain(stage, join(outdir, "npm")).file);
    }
    for (const [t, file] of binaries) {
      if (kinds.has("deb") && t.deb) made.push(packDeb(t, file, stage, outdir));
      if (kinds.has("rpm") && t.rpm) made.push(packRpm(t, file, stage, outdir));
    }
  } catch (e) {
    console.error(`package: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  // Their checksums join the executables' in SHA256SUMS (paths relative to it, as sha256sum -c reads them).
  const sumsFile = join(outdir, "SHA256SUMS");
  const sums = new Map<string, string>();
  if (existsSync(sumsFile)) {
    for (const line of readFileSync(sumsFile, "utf8").split("\n").filter(Boolean)) {
      const [hash, name] = line.split(/ {2}/);
      if (hash && name) sums.set(name, hash);
    }
  }
  for (const f of made) sums.set(relative(outdir, f), sha256(f));
  writeFileSync(
    sumsFile,
    [...sums]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([n, h]) => `${h}  ${n}\n`)
      .join(""),
  );
  for (const f of made) console.log(`${sums.get(relative(outdir, f))}  ${f}`);
}
