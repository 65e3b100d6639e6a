// Which namespaces and service accounts are ours to serve.
import type { PullSecretsConfig, Requirement } from "./config.ts";
import { parseSelector } from "./config.ts";

/** Shell-style glob over a whole name: "*" any run, "?" one character. */
export const globMatch = (glob: string, name: string): boolean => {
  const re = new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
    "s",
  );
  return re.test(name);
};

export const selectorMatches = (reqs: readonly Requirement[], labels: Record<string, string>): boolean =>
  reqs.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    const v = labels[r.key];
    switch (r.op) {
      case "=":
        return has && v === r.values[0];
      case "!=":
        return !has || v !== r.values[0];
      case "exists":
        return has;
      case "!exists":
        return !has;
      case "in":
        return has && r.values.includes(v ?? "");
      case "notin":
        return !has || !r.values.includes(v ?? "");
    }
    return false;
  });

export const namespaceSelector = (cfg: PullSecretsConfig) => {
  const reqs = cfg.namespaces.labelSelector ? parseSelector(cfg.namespaces.labelSelector) : [];
  return (name: string, labels: Record<string, string> = {}): boolean =>
    cfg.namespaces.include.some((g) => globMatch(g, name)) &&
    !cfg.namespaces.exclude.some((g) => globMatch(g, name)) &&
    selectorMatches(reqs, labels);
};

export const serviceAccountSelected = (cfg: PullSecretsConfig, name: string): boolean =>
  cfg.serviceAccounts.some((g) => globMatch(g, name));
