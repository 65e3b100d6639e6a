// `docker-credential-cloud explain IMAGE|HOST`: the whole decision for one pull, step by step —
// the reference parsed, the route and why, the identity chain as walked with the live principal,
// the token (never its secret), a probe of the registry with that token quoting its own denial,
// and the next step. `--as kubelet` answers for the identity the kubelet would use on this node.
// Returns {stdout, stderr, code}; touches nothing of process.* (the entry point passes it all in).

import { fs, util } from "../../builtins.ts";
import type { TokenCache } from "../../cache/cache.ts";
import { isFresh } from "../../cache/entry.ts";
import { type CredentialDeps, routeToken } from "../../credentials.ts";
import { clipLine, oneLine } from "../../errors.ts";
import { createLogger, scrub } from "../../log.ts";
import { IRSA_ROLE_ANNOTATION, NO_ROLE_FALLBACK } from "../../providers/aws/plan.ts";
import { network } from "../../providers/network.ts";
import { type Route, resolveRoute, type Workload } from "../../resolver.ts";
import type { Settings } from "../../settings.ts";
import { credentialDeps, edgeSettings } from "../../wiring.ts";
import { type AwsWhoAmI, whoAws } from "../whoami/aws.ts";
import { whoAzure } from "../whoami/azure.ts";
import { whoGoogle } from "../whoami/google.ts";
import type { WhoAmI } from "../whoami/types.ts";
import { ecrTokenWith } from "./aws-chain.ts";
import { styleFor, type VerbContext, type VerbResult } from "./output.ts";
import { probeFetch, probeRegistry } from "./probe.ts";
import { render } from "./render.ts";
import { EXIT, EXPLAIN_SCHEMA, type ExplainReport, parseReference, routeReason } from "./report.ts";
import { kubeletEnv, verdictFor } from "./verdict.ts";

export { EXIT, EXPLAIN_SCHEMA, type ExplainReport } from "./report.ts";

/** Exit codes (docs/troubleshooting.md). */

export const EXPLAIN_HELP = `Usage: docker-credential-cloud explain IMAGE|HOST [--json] [--no-cache] [--as docker|kubelet]
                                       [--service-account-token FILE] [--annotation KEY=VALUE]...
The whole decision for one pull: reference, route, identity chain with the live principal, token
(never the secret), a probe of the registry (GET /v2/, manifest HEAD) and the next step.
  --as kubelet                 answer for the identity the kubelet would use on this node (the node's),
                               or, with --service-account-token, service-account-token mode
  --service-account-token FILE a pod's service-account token (kubelet service-account-token mode)
  --annotation KEY=VALUE       the pod's service-account annotations (repeatable)
  --no-cache                   fetch a fresh token instead of using the cache (the cache is not changed)
  --json                       machine-readable output (schema ${EXPLAIN_SCHEMA})
Exit codes: 0 the pull would succeed; 1 usage or configuration error; 2 not a registry we serve;
3 no usable identity; 4 the token could not be fetched; 5 the registry refused or could not be reached.
`;

type Values = {
  json?: boolean;
  "no-cache"?: boolean;
  as?: string;
  "service-account-token"?: string;
  annotation?: string[];
  help?: boolean;
};

export const run = async (argv: string[], ctx: VerbContext): Promise<VerbResult> => {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = util.parseArgs({
      args: argv,
      options: {
        json: { type: "boolean" },
        "no-cache": { type: "boolean" },
        as: { type: "string" },
        "service-account-token": { type: "string" },
        annotation: { type: "string", multiple: true },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
    }));
  } catch (e) {
    return {
      stdout: "",
      stderr: `docker-credential-cloud explain: ${clipLine(oneLine(e))} (explain --help)\n`,
      code: EXIT.usage,
    };
  }
  if (values.help) return { stdout: EXPLAIN_HELP, stderr: "", code: 0 };
  const usage = (msg: string): VerbResult => ({
    stdout: "",
    stderr: `docker-credential-cloud explain: ${clipLine(msg)}\n`,
    code: EXIT.usage,
  });
  if (positionals.length !== 1) return usage("expected one IMAGE or HOST (see --help)");
  const as = values.as ?? "docker";
  if (as !== "docker" && as !== "kubelet") return usage(`--as must be docker or kubelet, got "${as.slice(0, 40)}"`);
  if ((values["service-account-token"] || values.annotation) && as !== "kubelet") {
    return usage("--service-account-token and --annotation apply to --as kubelet");
  }
  const annotations: Record<string, string> = {};
  for (const a of values.annotation ?? []) {
    const i = a.indexOf("=");
    if (i <= 0) return usage(`--annotation expects KEY=VALUE, got "${a.slice(0, 80)}"`);
    annotations[a.slice(0, i)] = a.slice(i + 1);
  }
  let workload: Workload | undefined;
  if (values["service-account-token"]) {
    try {
      const token = fs.readFileSync(values["service-account-token"], "utf8").trim();
      if (!token) return usage(`${values["service-account-token"]}: the service-account token file is empty`);
      workload = { token, annotations };
    } catch (e) {
      return usage(
        `${values["service-account-token"]}: cannot read the service-account token (${(e as NodeJS.ErrnoException).code ?? oneLine(e)})`,
      );
    }
  }
  if (typeof ctx.home !== "string") return usage(ctx.home.error);
  const home = ctx.home;
  let settings: Settings;
  try {
    settings = await edgeSettings(ctx.env, home);
  } catch (e) {
    return usage(scrub(oneLine(e)));
  }
  const stderrLines: string[] = [];
  const log = createLogger("warn", (l) => stderrLines.push(scrub(l)));
  const dropped = as === "kubelet" ? kubeletEnv(settings.env) : { env: settings.env, dropped: [] };
  const effective: Settings = Object.freeze({ ...settings, env: dropped.env });
  const input = positionals[0] ?? "";
  const ref = parseReference(input);
  if ("error" in ref) return usage(ref.error);
  const report: ExplainReport = {
    schema: EXPLAIN_SCHEMA,
    input,
    as,
    reference: ref,
    route: routeReason(ref.host, effective),
    verdict: { ok: false, code: EXIT.usage, next: "" },
  };
  let route: Route | null = null;
  if (report.route.matched) {
    try {
      route = resolveRoute(ref.host, effective, workload);
    } catch (e) {
      return usage(scrub(oneLine(e)));
    }
    if (!route) report.route = { ...report.route, matched: false };
  }
  if (route)
    await explainRoute(
      report,
      route,
      effective,
      dropped.dropped,
      ctx,
      log,
      values["no-cache"] === true,
      workload,
      annotations,
    );
  // The documented key order (docs/troubleshooting.md), whichever step filled a field first: Google
  // and Azure establish the identity after the token.
  const verdict = verdictFor(report, dropped.dropped, settings);
  const ordered: ExplainReport = {
    schema: report.schema,
    input: report.input,
    as: report.as,
    reference: report.reference,
    route: report.route,
    ...(report.identity ? { identity: report.identity } : {}),
    ...(report.token ? { token: report.token } : {}),
    ...(report.probe ? { probe: report.probe } : {}),
    verdict,
  };
  const stdout = values.json ? `${JSON.stringify(ordered, null, 2)}\n` : render(ordered, styleFor(ctx), ctx.now());
  return { stdout, stderr: stderrLines.join(""), code: verdict.code };
};

const explainRoute = async (
  report: ExplainReport,
  route: Route,
  settings: Settings,
  dropped: string[],
  ctx: VerbContext,
  log: ReturnType<typeof createLogger>,
  noCache: boolean,
  workload: Workload | undefined,
  annotations: Record<string, string>,
): Promise<void> => {
  const kubelet = report.as === "kubelet";
  const notes: string[] = [];
  if (kubelet) {
    const irsa = dropped.filter((k) => k.startsWith("AWS_"));
    if (irsa.length) {
      notes.push(
        `not used by the kubelet: ${irsa.join(", ")} (set here; ${irsa.includes("AWS_ROLE_ARN") ? "AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE are IRSA, injected into the pod's containers by the pod identity webhook — the pod's processes get that role, but image pulls are done by the kubelet with the node's identity" : "the kubelet's plugin runs with the kubelet's environment, not this shell's"})`,
      );
    }
    const other = dropped.filter((k) => !k.startsWith("AWS_"));
    if (other.length) notes.push(`not used by the kubelet: ${other.join(", ")}`);
    if (Object.keys(annotations).length > 0 && !workload) {
      notes.push("--annotation is read only in service-account-token mode (with --service-account-token)");
    }
    if (!workload) notes.push("no --service-account-token: the kubelet pulls with the node's identity");
  }
  // An AWS route keeps the token only when it names a role (resolver.ts); else the node's identity
  // serves the request, and the plan's first step says so.
  const awsRoute = route.provider === "ecr" || route.provider === "ecr-public";
  const tokenUsed = workload !== undefined && (!awsRoute || route.workload !== undefined);
  if (workload && !tokenUsed) {
    notes.push(`the service-account token is not used: ${NO_ROLE_FALLBACK}`);
    if (workload.annotations[IRSA_ROLE_ANNOTATION]) {
      notes.push(
        `${IRSA_ROLE_ANNOTATION} is the IRSA role of the pod's containers; the kubelet's plugin does not read it (neither does upstream's)`,
      );
    }
  }
  const mode = tokenUsed ? "service-account-token" : kubelet ? "node" : "this-environment";
  const timeoutMs = settings.requestTimeoutMs;
  const whoOptions = { env: settings.env, home: settings.home, timeoutMs, now: ctx.now, log };
  const identity = (w: WhoAmI) => {
    report.identity = {
      label: route.identity.label,
      mode,
      steps: w.steps,
      ...(w.principal ? { principal: w.principal } : {}),
      ...(w.basePrincipal ? { basePrincipal: w.basePrincipal } : {}),
      ...(w.via ? { via: w.via } : {}),
      ...(w.facts ? { facts: w.facts } : {}),
      notes,
      ...(w.error ? { error: w.error } : {}),
    };
  };
  // AWS: the identity plan carried out in the environment answered for (the kubelet's with --as
  // kubelet), with STS GetCallerIdentity. Google and Azure: who-am-i after the token (below).
  let walk: AwsWhoAmI | undefined;
  if (route.provider === "ecr" || route.provider === "ecr-public") {
    walk = await whoAws(route, { ...whoOptions, ...(workload ? { workload } : {}) });
    identity(walk);
  } else if (kubelet) {
    notes.push(
      `--as kubelet: the ${route.provider} SDK reads this process's environment; the chain shown is this environment's less the variables the kubelet does not have`,
    );
  }
  // The token: through the credential service (cache, then provider), except in kubelet mode for
  // AWS, where the walked node/pod credentials fetch it (this process's SDK chain is not the kubelet's).
  let creds: { username: string; secret: string } | undefined;
  try {
    if (kubelet && walk) {
      if (!walk.credentials) throw new Error(walk.error ?? "no identity");
      const t = await ecrTokenWith(route as Parameters<typeof ecrTokenWith>[0], walk.credentials, timeoutMs, ctx.now());
      creds = t;
      report.token = { source: "fresh", username: t.username, expiresAt: new Date(t.expiresAt).toISOString() };
    } else {
      const base = credentialDeps(settings, log, ctx.now);
      const cache: TokenCache = noCache
        ? { ...base.cache, put: async () => {}, readAll: async () => ({}), read: async () => undefined }
        : base.cache;
      const deps: CredentialDeps = { ...base, cache };
      const before = noCache ? undefined : (await cache.readAll())[route.cacheKey];
      const c = await routeToken(route, deps);
      creds = c;
      const fromCache = before?.kind === "token" && isFresh(before, ctx.now());
      report.token = {
        source: fromCache ? "cache" : "fresh",
        username: c.username,
        expiresAt: new Date(c.expiresAt ?? ctx.now()).toISOString(),
      };
    }
  } catch (e) {
    report.token = { error: scrub(oneLine(e)) };
  }
  if (route.provider === "google") {
    // The access token is the registry password: tokeninfo (for users) asks about that very token.
    identity(await whoGoogle(route, { ...whoOptions, ...(creds ? { token: creds.secret } : {}) }));
  } else if (route.provider === "acr") identity(await whoAzure(route, whoOptions));
  if (creds && report.reference) {
    const ref = report.reference;
    // The program's network decisions (proxy per HTTPS_PROXY/NO_PROXY, the CA bundles), as the providers'.
    const net = await network(settings.env, log).catch(() => undefined);
    report.probe = await probeRegistry(
      ref.host,
      ref.kind === "image" ? ref.path : undefined,
      ref.digest ?? ref.tag,
      creds,
      timeoutMs,
      probeFetch(net),
    );
  }
};
