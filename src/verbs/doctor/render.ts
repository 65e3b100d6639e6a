// doctor's report for a terminal (colour only on a TTY; NO_COLOR honoured by ../explain/output.ts).
import { mark, type Style, when } from "../explain/output.ts";
import type { DoctorReport } from "./report.ts";

export const render = (r: DoctorReport, st: Style, now: number): string => {
  const out: string[] = [];
  const head = (title: string) => out.push("", st.bold(title));
  const line = (s: string) => out.push(`  ${s}`);
  const sub = (s: string) => out.push(`      ${s}`);

  out.push(st.bold(`docker-credential-cloud doctor — ${r.version.detail}`));
  line(`${r.version.executable} (${r.version.platform})`);

  head("Files");
  for (const f of r.configFiles) {
    const state = !f.found
      ? `${mark(st, "absent")} ${st.dim("not found")}`
      : f.parses === false || f.error
        ? `${mark(st, "failed")} ${f.error}`
        : `${mark(st, "ok")} ${f.parses === null ? (f.summary ?? "found") : `parses${f.summary ? `: ${f.summary}` : ""}`}`;
    line(`${f.what.padEnd(34)} ${f.path}`);
    sub(state);
  }

  head("Identities (live check)");
  for (const id of r.identities) {
    const status =
      id.status === "ok" ? st.ok("ok") : id.status === "none" ? st.dim("not set up here") : st.bad("FAILED");
    line(`${st.bold(id.cloud.toUpperCase())} ${id.scope}${id.host.startsWith("(") ? "" : `, ${id.host}`}: ${status}`);
    sub(st.dim(`order: ${id.origin}${id.afterwards ? `, then ${id.afterwards}` : ""}`));
    for (const s of id.sources) {
      sub(
        `${mark(st, s.state)} ${s.source.padEnd(32)} ${s.state === "absent" || s.state === "skipped" ? st.dim(s.detail) : s.detail}`,
      );
    }
    if (id.basePrincipal) sub(`base principal   ${id.basePrincipal}`);
    if (id.principal) sub(`principal        ${st.bold(id.principal)}${id.via ? `  (${id.via})` : ""}`);
    if (id.error && id.status === "failed") sub(`${mark(st, "failed")} ${id.error}`);
  }

  head("Token cache");
  const c = r.cache;
  if (!c.enabled) line(`${mark(st, "warn")} off (DOCKER_CREDENTIAL_CLOUD_CACHE or cache.enabled)`);
  else {
    line(
      `${c.dir}  ${c.exists ? `mode ${c.mode}, owner uid ${c.owner}` : st.dim("not created yet (the first pull creates it, mode 700)")}`,
    );
    if (c.problem) line(`${mark(st, "failed")} ${c.problem}`);
    if (c.exists && !c.problem && c.entries.length === 0) line(st.dim("no entries"));
    for (const e of c.entries) {
      const stateMark =
        e.state === "fresh" ? mark(st, "ok") : e.state === "stale" ? mark(st, "warn") : mark(st, "absent");
      line(`${stateMark} ${e.host}`);
      sub(e.identity);
      sub(
        e.kind === "token"
          ? `fresh until ${when(Date.parse(e.freshUntil ?? e.expiresAt), now)}, expires ${when(Date.parse(e.expiresAt), now)}`
          : `until ${when(Date.parse(e.expiresAt), now)}`,
      );
    }
  }

  head("Static store (docker login)");
  const s = r.store;
  line(
    `${s.keyring.reachable ? mark(st, "ok") : mark(st, "absent")} ${s.keyring.name}: ${s.keyring.reachable ? "reachable" : `not reachable — ${s.keyring.reason}`}`,
  );
  line(`new logins go to ${s.newLogins}`);
  line(
    `stored: ${s.stored.keyring} in the keyring, ${s.stored.file} in the file${s.file.exists ? ` (${s.file.path}, mode ${s.file.mode})` : ""}`,
  );

  head("Clients");
  for (const cfg of r.clients.configs) {
    const what = !cfg.found
      ? st.dim("not found")
      : cfg.parses === false || cfg.error
        ? `${mark(st, "failed")} ${cfg.error}`
        : cfg.credentialHelpers
          ? `credential-helpers = [${cfg.credentialHelpers.join(", ")}]${cfg.wired ? ": every registry asks cloud first" : cfg.overriddenBy ? `: overridden by ${cfg.overriddenBy.path} (credential-helpers = [${cfg.overriddenBy.credentialHelpers.join(", ")}]), read after it` : ""}`
          : [
              cfg.credsStore
                ? `credsStore ${cfg.credsStore}${cfg.credsStore === "cloud" ? " (every registry)" : ""}`
                : "",
              cfg.hosts.length ? `credHelpers → cloud: ${cfg.hosts.join(", ")}` : "",
            ]
              .filter(Boolean)
              .join("; ") || "nothing points at cloud";
    line(`${cfg.wired ? mark(st, "ok") : mark(st, "absent")} ${cfg.client.padEnd(32)} ${cfg.path}`);
    sub(what);
  }
  // Root's PATH matters only when root's Docker config is wired (containerd, SOCI).
  const rootWired = r.clients.configs.some((c) => c.wired && c.client.startsWith("docker (root"));
  for (const [i, p] of r.clients.path.entries()) {
    const needed = i === 0 ? r.clients.configs.some((c) => c.wired) : rootWired;
    const m = p.found ? mark(st, "ok") : needed ? mark(st, "failed") : mark(st, "absent");
    line(`${m} on ${p.who}: ${p.found ?? (needed ? st.bad("not found") : st.dim("not found"))}`);
  }

  for (const w of r.warnings) out.push(`${st.warn("!")} ${w}`);
  out.push("");
  const v = r.verdict;
  if (v.ok) out.push(st.ok("✓ healthy"));
  else {
    out.push(`${st.bad("✗ problem:")} ${v.problem}`);
    if (r.problems.length > 1) out.push(st.dim(`  (and ${r.problems.length - 1} more: see --json "problems")`));
  }
  out.push(`${st.bold("→ next:")} ${v.next}`);
  return `${out.join("\n")}\n`;
};
