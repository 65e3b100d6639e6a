// doctor's identity checks: one per distinct identity this machine would use — each cloud's default
// identity, and every identity a config rule gives the registries the clients or the config name —
// each resolved to a route (resolver.ts, as a pull would) and checked live by the who-am-i of its
// cloud (../whoami/), which carries out the cloud's identity plan.

import { oneLine } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { scrub } from "../../log.ts";
import { findRule, type Route, resolveRoute } from "../../resolver.ts";
import type { Settings } from "../../settings.ts";
import { whoAws } from "../whoami/aws.ts";
import { whoAzure } from "../whoami/azure.ts";
import { whoGoogle } from "../whoami/google.ts";
import type { WhoAmI } from "../whoami/types.ts";
import type { IdentityCheck } from "./report.ts";

/** Stand-ins when no registry of a cloud is known here: the identity does not depend on the host. */
const PLACEHOLDERS = ["public.ecr.aws", "gcr.io", "registry.azurecr.io"];
const MAX_CHECKS = 8;

const cloudOf = (r: Route): IdentityCheck["cloud"] =>
  r.provider === "ecr" || r.provider === "ecr-public" ? "aws" : r.provider === "google" ? "google" : "azure";

/** The routes to check: known hosts first (so their config rules apply), then each cloud's stand-in. */
export const routesToCheck = (settings: Settings, knownHosts: string[]): { route: Route; known: boolean }[] => {
  const literalRules = settings.config.registries.filter((r) => !r.match.includes("*")).map((r) => r.match);
  const seen = new Set<string>();
  const out: { route: Route; known: boolean }[] = [];
  const hosts = [...new Set([...knownHosts, ...literalRules])];
  for (const [host, known] of [
    ...hosts.map((h) => [h, true] as const),
    ...PLACEHOLDERS.map((h) => [h, false] as const),
  ]) {
    let route: Route | null;
    try {
      route = resolveRoute(host, settings);
    } catch {
      continue; // a rule that cannot resolve (no region): the config check names it
    }
    if (!route) continue;
    const key = `${cloudOf(route)}|${route.identity.key}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ route, known });
    if (out.length >= MAX_CHECKS) break;
  }
  return out;
};

export const checkIdentity = async (
  route: Route,
  settings: Settings,
  log: Logger,
  now: () => number,
  known: boolean,
): Promise<IdentityCheck> => {
  const o = { env: settings.env, home: settings.home, timeoutMs: settings.requestTimeoutMs, now, log };
  let w: WhoAmI;
  try {
    w =
      route.provider === "ecr" || route.provider === "ecr-public"
        ? await whoAws(route, o)
        : route.provider === "google"
          ? await whoGoogle(route, o)
          : await whoAzure(route, o);
  } catch (e) {
    w = { plan: { cloud: cloudOf(route), origin: "?", sources: [] }, steps: [], error: scrub(oneLine(e)) };
  }
  const rule = findRule(route.host, settings.config.registries);
  return {
    cloud: cloudOf(route),
    scope: rule ? `config rule "${rule.match}"` : "default",
    host: known
      ? route.host
      : `(any ${route.provider === "acr" ? "ACR" : route.provider === "google" ? "Google" : "ECR"} registry)`,
    label: route.identity.label,
    origin: w.plan.origin,
    sources: w.steps,
    ...(w.plan.afterwards ? { afterwards: w.plan.afterwards } : {}),
    status: w.principal && !w.error ? "ok" : w.none ? "none" : "failed",
    ...(w.principal ? { principal: w.principal } : {}),
    ...(w.basePrincipal ? { basePrincipal: w.basePrincipal } : {}),
    ...(w.via ? { via: w.via } : {}),
    ...(w.facts ? { facts: w.facts } : {}),
    ...(w.error ? { error: w.error } : {}),
  };
};
