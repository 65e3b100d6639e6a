// The kubelet's image-pattern matcher (pkg/credentialprovider/keyring.go URLsMatchStr), used for
// kubelet `matchImages`, kubelet `auth` keys and our own config `match` entries, so that one glob
// means the same thing everywhere:
// - both sides are parsed as "https://" + s (a parse failure never matches);
// - ports must be equal (a missing port is ""), host label counts must be equal;
// - the target path must start with the glob path (raw prefix);
// - labels are compared with filepath.Match semantics: "*" stays within one label, "[a-c]"
//   character classes, "\\" escapes;
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
  }
  const h = decode(host);
  const path = decode(rawPath);
  if (h === null || path === null) return null;
  return { host: h, port, path };
};

const escapeRe = (c: string): string => c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
const escapeInClass = (c: string): string => (c === "-" ? "\\-" : escapeRe(c));

/**
 * Go's filepath.Match pattern (Unix) as a regular expression: "*" any run of non-"/", "?" one
 * non-"/" character, "[...]" a class ("^" negates; ranges "a-z"; "\\" escapes), "\\x" a literal x.
 * null for a malformed pattern (ErrBadPattern: never matches).
 */
const globRegex = (glob: string): RegExp | null => {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "\\") {
      i++;
      if (i >= glob.length) return null;
      re += escapeRe(glob[i] as string);
    } else if (c === "[") {
      i++;
      let negate = false;
      if (glob[i] === "^") {
        negate = true;
        i++;
      }
      const parts: string[] = [];
      let first = true;
      for (;;) {
        if (i >= glob.length) return null;
        if (glob[i] === "]" && !first) break;
        first = false;
        const lo = readClassChar(glob, i);
        if (lo === null) return null;
        i = lo.next;
        if (glob[i] === "-") {
          const hi = readClassChar(glob, i + 1);
          if (hi === null) return null;
          if (hi.ch < lo.ch) return null;
          parts.push(`${escapeInClass(lo.ch)}-${escapeInClass(hi.ch)}`);
          i = hi.next;
        } else parts.push(escapeInClass(lo.ch));
      }
      // filepath.Match's classes never match the separator, negated or not.
      re += negate ? `[^/${parts.join("")}]` : `(?!/)[${parts.join("")}]`;
    } else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`, "su");
};

/** One character of a class at `i` (after "\\" if escaped); null where Go reports ErrBadPattern. */
const readClassChar = (glob: string, i: number): { ch: string; next: number } | null => {
  let c = glob[i];
  if (c === undefined || c === "-" || c === "]") return null;
  if (c === "\\") {
    i++;
    c = glob[i];
    if (c === undefined) return null;
  }
  const cp = glob.codePointAt(i) as number;
  const ch = String.fromCodePoint(cp);
  return { ch, next: i + ch.length };
};

const labelRegex = new Map<string, RegExp | null>();
const labelMatch = (glob: string, label: string): boolean => {
  if (!/[*?[\\]/.test(glob)) return glob === label;
  let re = labelRegex.get(glob);
  if (re === undefined) {
    re = globRegex(glob);
    labelRegex.set(glob, re);
  }
  return re?.test(label) ?? false;
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
