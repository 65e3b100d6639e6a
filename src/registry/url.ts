// The errors of Go's url.Parse("https://" + s) (credentialprovider.ParseSchemelessURL), which the
// kubelet applies to every `matchImages` entry when it loads its config. Matching itself lives in
// ../glob.ts; this module only answers "would the kubelet refuse this pattern, and with what text".

/** Go's strconv.Quote (the %q verb) for the characters a pattern can realistically hold. */
export const goQuote = (s: string): string => {
  const named: Record<string, string> = {
    "\x07": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
  };
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (ch === '"' || ch === "\\") out += `\\${ch}`;
    else if (named[ch]) out += named[ch];
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return `${out}"`;
};

const isHex = (c: string | undefined): boolean => c !== undefined && /^[0-9a-fA-F]$/.test(c);

// Characters Go's shouldEscape(c, encodeHost) lets through unescaped in a host.
const HOST_OK = /^[A-Za-z0-9\-_.~!$&'()*+,;=:[\]<>"]$/;

type Mode = "host" | "path" | "fragment";

/** Go's url.unescape error for `s` in `mode`, or null. */
const unescapeError = (s: string, mode: Mode): string | null => {
  for (let i = 0; i < s.length; ) {
    const c = s[i] as string;
    if (c === "%") {
      if (i + 2 >= s.length || !isHex(s[i + 1]) || !isHex(s[i + 2])) {
        return `invalid URL escape ${goQuote(s.slice(i, i + 3))}`;
      }
      // In a host only %25 (a zone separator) or escapes of bytes >= 0x80 are accepted.
      if (mode === "host" && Number.parseInt(s[i + 1] as string, 16) < 8 && s.slice(i, i + 3) !== "%25") {
        return `invalid URL escape ${goQuote(s.slice(i, i + 3))}`;
      }
      i += 3;
      continue;
    }
    if (mode === "host" && c.charCodeAt(0) < 0x80 && !HOST_OK.test(c)) {
      return `invalid character ${goQuote(c)} in host name`;
    }
    i++;
  }
  return null;
};

const validOptionalPort = (p: string): boolean => p === "" || /^:\d*$/.test(p);

const USERINFO_OK = /^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/;

const hostError = (host: string): string | null => {
  if (host.startsWith("[")) {
    const i = host.lastIndexOf("]");
    if (i < 0) return "missing ']' in host";
    const colonPort = host.slice(i + 1);
    if (!validOptionalPort(colonPort)) return `invalid port ${goQuote(colonPort)} after host`;
  } else {
    const i = host.lastIndexOf(":");
    if (i !== -1 && !validOptionalPort(host.slice(i))) {
      return `invalid port ${goQuote(host.slice(i))} after host`;
    }
  }
  return unescapeError(host, "host");
};

/**
 * The text of the error Go's url.Parse("https://" + s) returns, e.g.
 * `parse "https://%invalid%": invalid URL escape "%in"`; null when it parses.
 */
export const schemelessUrlError = (s: string): string | null => {
  const raw = `https://${s}`;
  const hash = raw.indexOf("#");
  const u = hash === -1 ? raw : raw.slice(0, hash);
  const frag = hash === -1 ? "" : raw.slice(hash + 1);
  const wrap = (url: string, err: string) => `parse ${goQuote(url)}: ${err}`;
  // Go rejects ASCII control bytes anywhere in the URL.
  if (/[\x00-\x1f\x7f]/.test(u)) return wrap(u, "net/url: invalid control character in URL");
  let rest = u.slice("https:".length);
  if (rest.endsWith("?") && rest.split("?").length === 2) rest = rest.slice(0, -1);
  else {
    const q = rest.indexOf("?");
    if (q !== -1) rest = rest.slice(0, q);
  }
  let authority = rest.slice(2);
  let path = "";
  const slash = authority.indexOf("/");
  if (slash >= 0) {
    path = authority.slice(slash);
    authority = authority.slice(0, slash);
  }
  const at = authority.lastIndexOf("@");
  const hostErr = hostError(at < 0 ? authority : authority.slice(at + 1));
  if (hostErr) return wrap(u, hostErr);
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    if (!USERINFO_OK.test(userinfo)) return wrap(u, "net/url: invalid userinfo");
    const e = unescapeError(userinfo, "path");
    if (e) return wrap(u, e);
  }
  const pathErr = unescapeError(path, "path");
  if (pathErr) return wrap(u, pathErr);
  if (frag !== "") {
    const fragErr = unescapeError(frag, "fragment");
    if (fragErr) return wrap(raw, fragErr);
  }
  return null;
};
