// The kubelet's image-pattern matcher (pkg/credentialprovider/keyring.go URLsMatchStr), used for
// kubelet `matchImages`, kubelet `auth` keys and our own config `match` entries, so that one glob
// means the same thing everywhere:
// - both sides are parsed as "https://" + s (a parse failure never matches);
// - ports must be equal (a missing port is ""), host label counts must be equal;
// - the target path must start with the glob path (raw prefix);
// - labels are compared with filepath.Match semantics: "*" stays within one label;
// - matching is case-sensitive.

export interface SchemelessUrl {
  host: string;
  port: string;
  path: string;
}

const decode = (s: string): string | null => {
  if (/%(?![0-9a-fA-F]{2})/.test(s)) return null;
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
};

/** Go's url.Parse("https://" + s), reduced to the parts the matcher uses; null on error. */
export const parseSchemelessUrl = (s: string): SchemelessUrl | null => {
  const rest = s.replace(/[?#].*$/s, "");
  const slash = rest.indexOf("/");
  let authority = slash === -1 ? rest : rest.slice(0, slash);
  const rawPath = slash === -1 ? "" : rest.slice(slash);
  const at = authority.lastIndexOf("@");
  if (at !== -1) authority = authority.slice(at + 1);
  let host = authority;
  let port = "";
  if (authority.startsWith("[")) {
    const close = authority.indexOf("]");
    if (close === -1) return null;
    host = authority.slice(0, close + 1);
    const after = authority.slice(close + 1);
    if (after !== "") {
      if (!after.startsWith(":") || !/^\d*$/.test(after.slice(1))) return null;
      port = after.slice(1);
    }
  } else {
    const colon = authority.lastIndexOf(":");
    if (colon !== -1) {
      port = authority.slice(colon + 1);
      host = authority.slice(0, colon);
      if (!/^\d*$/.test(port)) return null;
    }
    if (/[[\]]/.test(host)) return null;
  }
  const h = decode(host);
  const path = decode(rawPath);
  if (h === null || path === null) return null;
  return { host: h, port, path };
};

const labelRegex = new Map<string, RegExp>();
const labelMatch = (glob: string, label: string): boolean => {
  if (!glob.includes("*")) return glob === label;
  let re = labelRegex.get(glob);
  if (!re) {
    re = new RegExp(
      `^${glob
        .split("*")
        .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
        .join("[^/]*")}$`,
      "s",
    );
    labelRegex.set(glob, re);
  }
  return re.test(label);
};

export const urlsMatch = (glob: SchemelessUrl, target: SchemelessUrl): boolean => {
  if (glob.port !== target.port) return false;
  const g = glob.host.split(".");
  const t = target.host.split(".");
  if (g.length !== t.length) return false;
  if (!target.path.startsWith(glob.path)) return false;
  return g.every((label, i) => labelMatch(label, t[i] ?? ""));
};

/** True when `target` (an image or a host) matches the kubelet-style `glob`. */
export const urlsMatchStr = (glob: string, target: string): boolean => {
  const g = parseSchemelessUrl(glob);
  const t = parseSchemelessUrl(target);
  return g !== null && t !== null && urlsMatch(g, t);
};
