// The kubelet's CredentialProviderConfig (--image-credential-provider-config): decoded and
// validated with the kubelet's own rules, so that a file accepted here is accepted by the kubelet
// and a file refused here is refused with the same complaint (pkg/credentialprovider/plugin/config.go).
// Used to check our packaging examples and by the in-process keyring, which reads the node's file.
//
// - Decoding is strict: unknown, duplicate or wrongly-cased fields are errors, a field of the
//   wrong JSON type is an error, `tokenAttributes` exists only in the v1 schema. YAML is read
//   with YAML 1.1 scalars (yes/no/on/off are booleans), as the kubelet's go-yaml does.
// - Validation collects every problem, each formatted like apimachinery's field errors, and joins
//   them like an aggregate error: one message alone, several as "[a, b]".
// - A directory path (Kubernetes 1.34+) merges its *.json, *.yaml and *.yml files in name order.
// Split by concern: kubelet-config-decode.ts (types, strict decoding), kubelet-config-validate.ts
// (the kubelet's validation rules); this file loads a file or directory and matches images.

import { readdir, readFile, stat } from "node:fs/promises";
import { extname, join } from "node:path";
import { urlsMatchStr } from "../registry/glob.ts";
import {
  aggregate,
  type CredentialProvider,
  type CredentialProviderConfig,
  CredentialProviderConfigError,
  decodeCredentialProviderConfig,
  type ValidateOptions,
} from "./kubelet-config-decode.ts";
import { q, validateCredentialProviderConfig } from "./kubelet-config-validate.ts";

export * from "./kubelet-config-decode.ts";
export * from "./kubelet-config-validate.ts";

// ---------------------------------------------------------------------------------------------
// Loading (readCredentialProviderConfig + validation), and matching

const CONFIG_EXTENSIONS = new Set([".json", ".yaml", ".yml"]);

/**
 * Reads a config file, or a directory of them, decodes strictly, merges and validates; throws
 * CredentialProviderConfigError with the kubelet's messages.
 */
export const loadCredentialProviderConfig = async (
  path: string,
  opts: ValidateOptions = {},
): Promise<CredentialProviderConfig> => {
  if (path === "") throw new CredentialProviderConfigError("(none)", ["credential provider config path is empty"]);
  let files: string[];
  try {
    if ((await stat(path)).isDirectory()) {
      const entries = await readdir(path, { withFileTypes: true });
      files = entries
        .filter((e) => !e.isDirectory() && CONFIG_EXTENSIONS.has(extname(e.name)))
        .map((e) => join(path, e.name))
        .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      if (files.length === 0) {
        throw new CredentialProviderConfigError(path, [`no configuration files found in directory ${q(path)}`]);
      }
    } else files = [path];
  } catch (e) {
    if (e instanceof CredentialProviderConfigError) throw e;
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new CredentialProviderConfigError(path, [`unable to access path ${q(path)}: ${code}`]);
  }
  const merged: CredentialProviderConfig = { apiVersion: "", providers: [] };
  const names = new Set<string>();
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (e) {
      throw new CredentialProviderConfigError(file, [
        `unable to read file ${q(file)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      ]);
    }
    const cfg = await decodeCredentialProviderConfig(text, file);
    merged.apiVersion ||= cfg.apiVersion;
    for (const p of cfg.providers) {
      if (names.has(p.name)) {
        throw new CredentialProviderConfigError(file, [
          `duplicate provider name ${q(p.name)} found in configuration file(s)`,
        ]);
      }
      names.add(p.name);
      merged.providers.push(p);
    }
  }
  const problems = validateCredentialProviderConfig(merged, opts);
  if (problems.length > 0) {
    throw new CredentialProviderConfigError(path, [
      `failed to validate credential provider config: ${aggregate(problems)}`,
    ]);
  }
  return merged;
};

/** The kubelet runs a provider for an image only when one of its matchImages matches it. */
export const providerMatchesImage = (p: CredentialProvider, image: string): boolean =>
  p.matchImages.some((m) => urlsMatchStr(m, image));
