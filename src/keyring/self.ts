// Recognising this program where a Docker config or a kubelet config names it, so that the
// keyring answers in process (same code, same shared token cache) instead of starting Node again.
//
// It is us when the program's file resolves to this package's own launcher or single-file
// executable (dist/bin/docker-credential-cloud, dist/docker-credential-cloud beside this module), or to the launcher of an installed tree of this package (<tree>/bin/<name> with
// <tree>/app/package.json, as the node installer lays it out and links provider names to), or to
// dist/bin/docker-credential-cloud of a package named docker-credential-cloud. The name alone is
// enough only when there is no file at all (a CSI pod without the node's binaries): a file that
// merely carries our name is some other program and is run.
// A kubelet provider is answered in process only when running it would be plugin mode
// (args ["kubelet"] or ["get"]) and its `env` holds nothing but DOCKER_CREDENTIAL_CLOUD_*
// variables, which we read into Settings exactly as the program would. Other variables (AWS_*,
// AZURE_*, …) are for the cloud SDKs, some of which read the real process environment, so such
// a provider is run as a program to give it exactly the environment the kubelet would.

import { fileURLToPath } from "node:url";
import { fs, path } from "../builtins.ts";
import type { CredentialProvider } from "./kubelet-config.ts";

export const SELF_PROGRAM = "docker-credential-cloud";
export const SELF_HELPER = "cloud";
const OUR_ENV_PREFIX = "DOCKER_CREDENTIAL_CLOUD_";
const PLUGIN_ARGS = [["kubelet"], ["get"]];

let ownPrograms: string[] | undefined;
/**
 * This package's own programs beside this module (when running from the built package): the
 * launcher dist/bin/docker-credential-cloud and the single-file executable dist/docker-credential-cloud.
 */
const ownFiles = (): string[] => {
  if (ownPrograms === undefined) {
    ownPrograms = [];
    for (const rel of [`../bin/${SELF_PROGRAM}`, `../${SELF_PROGRAM}`]) {
      try {
        ownPrograms.push(fs.realpathSync(fileURLToPath(new URL(rel, import.meta.url))));
      } catch {
        // not built here
      }
    }
  }
  return ownPrograms;
};

const packageName = (file: string): string | undefined => {
  try {
    const name = (JSON.parse(fs.readFileSync(file, "utf8")) as { name?: unknown }).name;
    return typeof name === "string" ? name : undefined;
  } catch {
    return undefined;
  }
};

/** True when `program` (a name, and the file it resolves to if any) is this program. */
export const isSelfProgram = (name: string, file: string | null): boolean => {
  if (file === null) return name === SELF_PROGRAM;
  let real: string;
  try {
    real = fs.realpathSync(file);
  } catch {
    return false;
  }
  if (ownFiles().includes(real)) return true;
  if (path.basename(real) !== SELF_PROGRAM) return false;
  const dir = path.dirname(real);
  return (
    packageName(path.join(dir, "..", "app", "package.json")) === SELF_PROGRAM ||
    (path.basename(dir) === "dist" && packageName(path.join(dir, "..", "package.json")) === SELF_PROGRAM) ||
    (path.basename(dir) === "bin" &&
      path.basename(path.dirname(dir)) === "dist" &&
      packageName(path.join(dir, "..", "..", "package.json")) === SELF_PROGRAM)
  );
};

/** The environment overlay for an in-process answer, or null when the provider must be run as a program. */
export const selfPluginEnv = (p: CredentialProvider): Record<string, string> | null => {
  if (!PLUGIN_ARGS.some((a) => a.length === p.args.length && a.every((x, i) => x === p.args[i]))) return null;
  const overlay: Record<string, string> = {};
  for (const { name, value } of p.env) {
    if (!name.startsWith(OUR_ENV_PREFIX)) return null;
    overlay[name] = value;
  }
  return overlay;
};
