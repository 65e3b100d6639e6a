// The release matrix: one row per executable in dist/release/ and per npm platform package.
// Shared by scripts/build-release.ts (which builds), scripts/package.ts (which packs) and the tests.
// Runtimes and native modules come from the npm registry at the versions package-lock.json pins.

export interface Target {
  /** `<os>-<arch>[-musl]`: the file name's suffix and the npm platform package's name suffix. */
  id: string;
  /** Bun's compile target. */
  bun: string;
  /** The npm package holding the target's Bun runtime (bin/bun or bin/bun.exe). */
  runtime: string;
  /** napi-rs triple of the keyring native module (package `@napi-rs/keyring-<triple>`). */
  keyring: string;
  /** npm's os / cpu / libc fields of the platform package (what npm matches against the machine). */
  os: "linux" | "darwin" | "win32";
  cpu: "x64" | "arm64";
  libc?: "glibc" | "musl";
  exe: "" | ".exe";
  /** Debian and RPM architecture names, for the Linux glibc targets that get a .deb and an .rpm. */
  deb?: string;
  rpm?: string;
}

export const TARGETS: readonly Target[] = [
  {
    id: "linux-x64",
    bun: "bun-linux-x64",
    runtime: "@oven/bun-linux-x64",
    keyring: "linux-x64-gnu",
    os: "linux",
    cpu: "x64",
    libc: "glibc",
    exe: "",
    deb: "amd64",
    rpm: "x86_64",
  },
  {
    id: "linux-arm64",
    bun: "bun-linux-arm64",
    runtime: "@oven/bun-linux-aarch64",
    keyring: "linux-arm64-gnu",
    os: "linux",
    cpu: "arm64",
    libc: "glibc",
    exe: "",
    deb: "arm64",
    rpm: "aarch64",
  },
  {
    id: "linux-x64-musl",
    bun: "bun-linux-x64-musl",
    runtime: "@oven/bun-linux-x64-musl",
    keyring: "linux-x64-musl",
    os: "linux",
    cpu: "x64",
    libc: "musl",
    exe: "",
  },
  {
    id: "linux-arm64-musl",
    bun: "bun-linux-arm64-musl",
    runtime: "@oven/bun-linux-aarch64-musl",
    keyring: "linux-arm64-musl",
    os: "linux",
    cpu: "arm64",
    libc: "musl",
    exe: "",
  },
  {
    id: "darwin-x64",
    bun: "bun-darwin-x64",
    runtime: "@oven/bun-darwin-x64",
    keyring: "darwin-x64",
    os: "darwin",
    cpu: "x64",
    exe: "",
  },
  {
    id: "darwin-arm64",
    bun: "bun-darwin-arm64",
    runtime: "@oven/bun-darwin-aarch64",
    keyring: "darwin-arm64",
    os: "darwin",
    cpu: "arm64",
    exe: "",
  },
  {
    id: "windows-x64",
    bun: "bun-windows-x64",
    runtime: "@oven/bun-windows-x64",
    keyring: "win32-x64-msvc",
    os: "win32",
    cpu: "x64",
    exe: ".exe",
  },
];

export const NAME = "docker-credential-cloud";

/** dist/release/ file name of a target's executable. */
export const binaryName = (t: Target, version: string): string => `${NAME}-${version}-${t.id}${t.exe}`;

/** The npm platform package carrying a target's executable (esbuild's and biome's layout). */
export const platformPackage = (t: Target): string => `@docker-credential-cloud/${t.id}`;
