// Kept equal to package.json "version" (a test checks it), so `version` needs no file read.
export const VERSION = "0.1.0";

// Filled in by both builds (scripts/build-bin.ts and scripts/build-cli.js define it); "dev" when run from source.
declare const DCC_BUILD_COMMIT: string | undefined;
const commit = typeof DCC_BUILD_COMMIT === "string" ? DCC_BUILD_COMMIT : "dev";

/** What `version` prints after the name: the version, the commit it was built from and the runtime. */
export const versionDetail = (): string => {
  const bun = (process.versions as Record<string, string | undefined>).bun;
  return `${VERSION} (commit ${commit}, ${bun ? `bun ${bun}` : `node ${process.versions.node}`})`;
};
