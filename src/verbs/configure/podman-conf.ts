// Which `credential-helpers` podman, skopeo and buildah (containers/image) really use: the
// registries.conf files in the order containers/image reads them, and the last one that sets the
// key (a drop-in's credential-helpers replaces what came before). Shared by `configure podman`
// (is our drop-in read, and is it overridden?) and doctor's client check (is podman wired?).
//
// The order (containers/image pkg/sysregistriesv2, containers-registries.conf.d(5)): when
// $HOME/.config/containers/registries.conf exists, that file and then $HOME/.config/containers/
// registries.conf.d/*.conf — the system files are not read at all; otherwise
// /etc/containers/registries.conf, /etc/containers/registries.conf.d/*.conf, then
// $HOME/.config/containers/registries.conf.d/*.conf. Each directory in name order. $HOME, not
// XDG_CONFIG_HOME: containers/image joins ".config/containers" to the home directory.

import { fs, path } from "../../builtins.ts";

export const SYSTEM_REGISTRIES_CONF = "/etc/containers/registries.conf";
export const SYSTEM_REGISTRIES_DIR = "/etc/containers/registries.conf.d";

export const userRegistriesConf = (home: string): string => path.join(home, ".config", "containers", "registries.conf");
export const userRegistriesDir = (home: string): string =>
  path.join(home, ".config", "containers", "registries.conf.d");

const confsIn = (dir: string, extra: string | undefined): string[] => {
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir).filter((f) => f.endsWith(".conf"));
  } catch {}
  if (extra && path.dirname(extra) === dir && !names.includes(path.basename(extra))) names.push(path.basename(extra));
  return names.sort().map((f) => path.join(dir, f));
};

/**
 * The registries.conf files containers/image reads, in order. `pending` is a drop-in about to be
 * written (a dry run): it is placed where it will be read, if its directory is read at all.
 */
export const registriesConfOrder = (home: string, pending?: string): string[] => {
  if (fs.existsSync(userRegistriesConf(home))) {
    return [userRegistriesConf(home), ...confsIn(userRegistriesDir(home), pending)];
  }
  return [
    SYSTEM_REGISTRIES_CONF,
    ...confsIn(SYSTEM_REGISTRIES_DIR, pending),
    ...confsIn(userRegistriesDir(home), pending),
  ];
};

/** The `credential-helpers` a registries.conf text sets (TOML array of strings), if any. */
export const credentialHelpersOf = (text: string): string[] | undefined => {
  const m = /^\s*credential-helpers\s*=\s*\[([^\]]*)\]/m.exec(text);
  if (!m) return undefined;
  return [...(m[1] ?? "").matchAll(/"([^"]*)"|'([^']*)'/g)].map((x) => x[1] ?? x[2] ?? "");
};

export interface HelpersSetting {
  path: string;
  helpers: string[];
}

/**
 * Every file of the order that sets credential-helpers, in the order read; the last one is in
 * force. `texts` supplies contents not (yet) on disk, by path.
 */
export const credentialHelperSettings = (files: string[], texts: Record<string, string> = {}): HelpersSetting[] => {
  const out: HelpersSetting[] = [];
  for (const f of files) {
    let text = texts[f];
    if (text === undefined) {
      try {
        text = fs.readFileSync(f, "utf8");
      } catch {
        continue;
      }
    }
    const helpers = credentialHelpersOf(text);
    if (helpers) out.push({ path: f, helpers });
  }
  return out;
};

export const formatHelpers = (helpers: string[]): string =>
  `credential-helpers = [${helpers.map((h) => JSON.stringify(h)).join(", ")}]`;
