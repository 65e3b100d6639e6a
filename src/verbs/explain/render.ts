// explain, part 3: the report for a terminal (colour only on a TTY; NO_COLOR honoured by output.ts).
import { mark, type Style, when } from "./output.ts";
import type { ExplainReport } from "./report.ts";

export const render = (r: ExplainReport, st: Style, now: number): string => {
  const out: string[] = [];
  const head = (n: number, title: string, text: string) => out.push(`${st.bold(`${n} ${title.padEnd(10)}`)} ${text}`);
  const sub = (s: string) => out.push(`             ${s}`);
  out.push(st.bold(`explain ${r.input}${r.as === "kubelet" ? "  (as the kubelet on this node)" : ""}`));
  const ref = r.reference;
  if (ref) {
    head(
      1,
      "reference",
      ref.kind === "host"
        ? `registry host ${ref.host}`
        : `registry ${ref.host}, repository ${ref.path}, ${ref.digest ? `digest ${ref.digest}` : `tag ${ref.tag ?? "latest"}`}`,
    );
  }
  head(2, "route", `${r.route.matched ? st.ok(r.route.provider ?? "") : st.bad("not ours")}: ${r.route.reason}`);
  const id = r.identity;
  if (id) {
    head(
      3,
      "identity",
      `${id.label}${id.mode === "node" ? " — the node's identity" : id.mode === "service-account-token" ? " — the pod's service-account token" : ""}`,
    );
    for (const s of id.steps)
      sub(`${mark(st, s.state)} ${s.source.padEnd(30)} ${s.state === "absent" ? st.dim(s.detail) : s.detail}`);
    for (const n of id.notes) sub(`${st.warn("!")} ${n}`);
    if (id.basePrincipal) sub(`base principal   ${id.basePrincipal}`);
    if (id.principal) sub(`principal        ${st.bold(id.principal)}${id.via ? `  (${id.via})` : ""}`);
    if (id.error) sub(`${mark(st, "failed")} ${id.error}`);
  }
  const t = r.token;
  if (t) {
    head(
      4,
      "token",
      "error" in t
        ? `${mark(st, "failed")} ${t.error}`
        : `${mark(st, "ok")} ${t.source === "cache" ? "from the cache" : "fetched fresh"}, user ${t.username}, expires ${when(Date.parse(t.expiresAt), now)} (secret not shown)`,
    );
  }
  const p = r.probe;
  if (p) {
    const line = (s: {
      method: string;
      url: string;
      status: number | null;
      error?: { code?: string; message: string };
    }) =>
      `${s.status === 200 ? mark(st, "ok") : mark(st, "failed")} ${s.method} ${s.url} → ${s.status ?? "no answer"}${s.error?.code ? ` ${s.error.code}` : ""}`;
    head(
      5,
      "registry",
      `anonymous GET /v2/ → ${p.anonymous.status ?? "no answer"}${p.anonymous.challenge ? ` (${p.anonymous.challenge})` : ""}`,
    );
    if (p.token) sub(`${line(p.token)}  (registry token)`);
    if (p.base) sub(line(p.base));
    if (p.manifest) sub(line(p.manifest));
    const err =
      p.manifest?.error ??
      (p.base && p.base.status !== 200 ? p.base.error : undefined) ??
      (p.token && !p.base ? p.token.error : undefined);
    if (err && p.manifest?.status !== 200) sub(`registry says: "${err.message}"`);
  }
  const v = r.verdict;
  out.push("");
  out.push(v.ok ? st.ok("✓ this pull would succeed") : `${st.bad("✗ problem:")} ${v.problem}`);
  out.push(`${st.bold("→ next:")} ${v.next}`);
  return `${out.join("\n")}\n`;
};
