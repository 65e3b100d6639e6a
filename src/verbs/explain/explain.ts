// `docker-credential-cloud explain IMAGE|HOST`: the whole decision for one pull, step by step —
// the reference parsed, the route and why, the identity chain as walked with the live principal,
// the token (never its secret), a probe of the registry with that token quoting its own denial,
// and the next step. `--as kubelet` answers for the identity the kubelet would use on this node.
// Returns {stdout, stderr, code}; touches nothing of process.* (the entry point passes it all in).

import { fs, util } from "../../builtins.ts";
import type { TokenCache } from "../../cache/cache.ts";
import { isFresh } from "../../cache/entry.ts";
import { type CredentialDeps, routeToken } from "../../credentials.ts";
import { oneLine } from "../../errors.ts";
import { createLogger, scrub } from "../../log.ts";
import { WORKLOAD_ROLE_ANNOTATION } from "../../providers/aws/ecr.ts";
import { parseAcrHost, parseEcrHost, parseServerUrl } from "../../registry/hosts.ts";
import { normalizeImage } from "../../registry/image.ts";
import { findRule, providerForHost, type Route, resolveRoute, type Workload } from "../../resolver.ts";
import type { Env, Settings } from "../../settings.ts";
import { credentialDeps, edgeSettings } from "../../wiring.ts";
import { type AwsWalk, type ChainStep, ecrTokenWith, roleOfSession, walkAws } from "./aws-chain.ts";
import { mark, type Style, styleFor, type VerbContext, type VerbResult, when } from "./output.ts";
import { type Probe, probeRegistry } from "./probe.ts";

export const EXPLAIN_SCHEMA = "docker-credential-cloud.explain/v1";

/** Exit codes (docs/troubleshooting.md). */
export const EXIT = { ok: 0, usage: 1, notOurs: 2, identity: 3, token: 4, registry: 5 } as const;

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

// Variables a shell (or a pod) may have that the kubelet's plugin process does not: user and pod
// identities. The pod identity webhooks (IRSA, Azure workload identity) inject several of them
// into containers; the kubelet pulls with its own environment.
const NOT_KUBELET = [
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_PROFILE",
  "AWS_ROLE_ARN",
  "AWS_ROLE_SESSION_NAME",
  "AWS_WEB_IDENTITY_TOKEN_FILE",
  "AWS_CONTAINER_CREDENTIALS_FULL_URI",
  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
  "AWS_CONTAINER_AUTHORIZATION_TOKEN",
  "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
  "GOOGLE_APPLICATION_CREDENTIALS",
  "AZURE_CLIENT_ID",
  "AZURE_TENANT_ID",
  "AZURE_CLIENT_SECRET",
  "AZURE_CLIENT_CERTIFICATE_PATH",
  "AZURE_FEDERATED_TOKEN_FILE",
] as const;

interface Reference {
  input: string;
  kind: "image" | "host";
  host: string;
  repository?: string;
  path?: string;
  tag?: string;
  digest?: string;
}

export interface ExplainReport {
  schema: typeof EXPLAIN_SCHEMA;
  input: string;
  as: "docker" | "kubelet";
  reference: Reference | null;
  route: { matched: boolean; provider?: string; reason: string; rule?: { match: string; provider?: string } };
  identity?: {
    label: string;
    mode: "node" | "service-account-token" | "this-environment";
    steps: ChainStep[];
    principal?: string;
    basePrincipal?: string;
    notes: string[];
    error?: string;
  };
  token?: { source: "cache" | "fresh"; username: string; expiresAt: string } | { error: string };
  probe?: Probe;
  verdict: { ok: boolean; code: number; problem?: string; next: string };
}

const parseReference = (input: string): Reference | { error: string } => {
  const s = input.trim();
  // A HOST is what a server URL looks like: a scheme, or a single name with a dot, colon or localhost.
  const hostLike = /^https?:\/\//i.test(s) || (!s.includes("/") && (/[.:]/.test(s) || s === "localhost"));
  if (hostLike) {
    const ref = parseServerUrl(s);
    if (!ref) return { error: `"${s.slice(0, 200)}" is not a registry host or image reference` };
    return { input, kind: "host", host: ref.host };
  }
  try {
    const img = normalizeImage(s);
    const host = parseServerUrl(img.registry)?.host ?? img.registry;
    return {
      input,
      kind: "image",
      host,
      repository: img.repository,
      path: img.path,
      ...(img.tag ? { tag: img.tag } : {}),
      ...(img.digest ? { digest: img.digest } : {}),
    };
  } catch (e) {
    return { error: oneLine(e) };
  }
};

const LOOKALIKE: [RegExp, string][] = [
  [/amazonaws|dkr\.ecr|ecr\.aws/, "ECR"],
  [/gcr\.io|pkg\.dev|cloud\.google/, "Google"],
  [/azurecr/, "ACR"],
];

const routeReason = (host: string, settings: Settings): ExplainReport["route"] => {
  const rule = findRule(host, settings.config.registries);
  const ruleOut = rule ? { match: rule.match, ...(rule.provider ? { provider: rule.provider } : {}) } : undefined;
  const shape = providerForHost(host, settings.config.azure.extraSuffixes);
  if (rule?.provider === "none") {
    return {
      matched: false,
      reason: `config rule "${rule.match}" refuses it (provider: none)`,
      ...(ruleOut ? { rule: ruleOut } : {}),
    };
  }
  if (rule?.provider && !rule.match.includes("*")) {
    return {
      matched: true,
      provider: rule.provider,
      reason: `config rule "${rule.match}" maps this host to ${rule.provider}`,
      rule: ruleOut ?? { match: rule.match },
    };
  }
  if (shape) {
    const how =
      shape === "ecr"
        ? (() => {
            const e = parseEcrHost(host);
            return `ECR host pattern <account>.dkr.ecr.<region>.<suffix>: account ${e?.account}, region ${e?.region}${e?.fips ? ", FIPS" : ""}${e?.dualStack ? ", dual-stack" : ""}`;
          })()
        : shape === "ecr-public"
          ? "ECR Public host"
          : shape === "google"
            ? "Google host pattern (gcr.io, <location>-docker.pkg.dev, docker.<location>.rep.pkg.dev)"
            : `ACR host pattern <name>.azurecr.<suffix>: registry ${parseAcrHost(host, settings.config.azure.extraSuffixes)?.registry}`;
    if (rule?.provider && rule.provider !== shape) {
      return {
        matched: false,
        reason: `config rule "${rule.match}" names ${rule.provider}, but the host is ${shape}'s`,
        rule: ruleOut ?? { match: rule.match },
      };
    }
    return {
      matched: true,
      provider: shape,
      reason: rule ? `${how}; settings from config rule "${rule.match}"` : how,
      ...(ruleOut ? { rule: ruleOut } : {}),
    };
  }
  if (rule?.provider) {
    return {
      matched: false,
      reason: `config rule "${rule.match}" names ${rule.provider} but is a wildcard, and wildcard rules apply only to ${rule.provider}'s own hosts; map this exact host to send it credentials`,
      rule: ruleOut ?? { match: rule.match },
    };
  }
  const look = LOOKALIKE.find(([re]) => re.test(host))?.[1];
  if (look) {
    return {
      matched: false,
      reason: `looks like ${look} but does not match its anchored host pattern (a look-alike, a suffix after the cloud's domain or a typo): no token is ever sent to it, clients pull anonymously`,
    };
  }
  return {
    matched: false,
    reason:
      "not a cloud registry host, and no config rule maps it: clients pull anonymously (or with stored `docker login` credentials)",
  };
};

/** The environment the kubelet's plugin would see here, and what was taken away. */
const kubeletEnv = (env: Env): { env: Env; dropped: string[] } => {
  const out: Record<string, string | undefined> = { ...env };
  const dropped: string[] = [];
  for (const k of NOT_KUBELET) {
    if (out[k] !== undefined) {
      dropped.push(k);
      delete out[k];
    }
  }
  return { env: Object.freeze(out), dropped };
};

const parseEcrDenial = (msg: string) => {
  const m = /User: (\S+) is not authorized to perform: (\S+) on resource: (\S+?)(?: because (.+?))?\.?$/.exec(msg);
  return m ? { principal: m[1] ?? "", action: m[2] ?? "", resource: m[3] ?? "", because: m[4] } : undefined;
};

const verdictFor = (r: ExplainReport, kubeletDropped: string[], settings: Settings): ExplainReport["verdict"] => {
  const host = r.reference?.host ?? r.input;
  if (!r.route.matched) {
    return {
      ok: false,
      code: EXIT.notOurs,
      problem: `${host} is not served: ${r.route.reason}`,
      next: `if this is a private registry of a cloud, map the exact host in the config file (registries: [{match: "${host}", provider: ecr|google|acr, ...}]); otherwise nothing to do`,
    };
  }
  const id = r.identity;
  if (id?.error && !(r.token && "username" in r.token)) {
    return {
      ok: false,
      code: EXIT.identity,
      problem: `no usable identity: ${id.error}`,
      next:
        r.route.provider === "ecr" || r.route.provider === "ecr-public"
          ? "give this machine an AWS identity (instance profile, profile, IRSA or keys) or fix the source marked ✗ above"
          : "fix the identity source named above",
    };
  }
  if (!r.token || "error" in r.token) {
    return {
      ok: false,
      code: EXIT.token,
      problem: `the registry token could not be fetched: ${r.token && "error" in r.token ? r.token.error : "no token"}`,
      next: id?.principal
        ? `allow ${id.principal} the token call (ecr:GetAuthorizationToken, artifactregistry.repositories.downloadArtifacts, or AcrPull) and try again`
        : "fix the identity, then try again",
    };
  }
  const p = r.probe;
  if (!p) return { ok: true, code: EXIT.ok, next: "nothing" };
  if (p.anonymous.status === null) {
    return {
      ok: false,
      code: EXIT.registry,
      problem: `https://${host} cannot be reached: ${p.anonymous.error?.message ?? "no answer"}`,
      next: "check DNS, proxy (HTTPS_PROXY/NO_PROXY), firewall and the registry's TLS certificate from this machine",
    };
  }
  if (p.base.status !== 200 && p.base.status !== 404) {
    return {
      ok: false,
      code: EXIT.registry,
      problem: `the registry refused the token at /v2/ (${p.base.status}${p.base.error ? `: ${p.base.error.message}` : ""})`,
      next: `erase the cached token (docker-credential-cloud erase <<< ${host}) and retry with --no-cache; if it persists the token is for another registry or account`,
    };
  }
  const m = p.manifest;
  if (!m) return { ok: true, code: EXIT.ok, next: "nothing: the registry accepts these credentials" };
  if (m.status === 200)
    return { ok: true, code: EXIT.ok, next: "nothing: this pull would succeed with these credentials" };
  const quoted = m.error ? `: "${m.error.message}"` : "";
  const denial = m.error ? parseEcrDenial(m.error.message) : undefined;
  if (denial) {
    const role = roleOfSession(denial.principal) ?? denial.principal;
    const acct = /^arn:[^:]+:ecr:[^:]+:(\d{12}):/.exec(denial.resource)?.[1];
    const resourceBased = /no resource-based policy allows/.test(denial.because ?? "");
    let next = resourceBased
      ? `add ${role} (or its account root) to the repository policy of ${denial.resource}${acct ? ` in account ${acct}` : ""}, allowing ${denial.action}, ecr:GetDownloadUrlForLayer and ecr:BatchCheckLayerAvailability`
      : `allow ${denial.action} on ${denial.resource} in an IAM policy attached to ${role}`;
    if (r.as === "kubelet" && id?.mode === "node") {
      const podRole =
        settings.env.AWS_ROLE_ARN && kubeletDropped.includes("AWS_ROLE_ARN") ? settings.env.AWS_ROLE_ARN : "<role ARN>";
      next += `; or, if the pod's own role has that grant, let the kubelet pull as the pod: service-account-token mode (tokenAttributes in the CredentialProviderConfig) with the service account annotated ${WORKLOAD_ROLE_ANNOTATION}=${podRole}`;
    }
    return {
      ok: false,
      code: EXIT.registry,
      problem: `the registry denied ${denial.action} to ${denial.principal}${quoted}`,
      next,
    };
  }
  if (m.status === 404) {
    return {
      ok: false,
      code: EXIT.registry,
      problem: `the image does not exist (${m.status}${quoted})`,
      next: "check the repository name and the tag or digest",
    };
  }
  return {
    ok: false,
    code: EXIT.registry,
    problem: `the registry refused the manifest (${m.status ?? "no answer"}${quoted})`,
    next: `grant ${id?.principal ?? "the identity above"} pull access to ${r.reference?.path ?? "the repository"}`,
  };
};

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
    return { stdout: "", stderr: `docker-credential-cloud explain: ${oneLine(e)}\n${EXPLAIN_HELP}`, code: EXIT.usage };
  }
  if (values.help) return { stdout: EXPLAIN_HELP, stderr: "", code: 0 };
  const usage = (msg: string): VerbResult => ({
    stdout: "",
    stderr: `docker-credential-cloud explain: ${msg}\n`,
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
  // verdict last in the JSON, as documented
  const { verdict: _placeholder, ...rest } = report;
  const final: ExplainReport = { ...rest, verdict: verdictFor(report, dropped.dropped, settings) };
  Object.assign(report, final);
  delete (report as Partial<ExplainReport>).verdict;
  report.verdict = final.verdict;
  const stdout = values.json ? `${JSON.stringify(report, null, 2)}\n` : render(report, styleFor(ctx), ctx.now());
  return { stdout, stderr: stderrLines.join(""), code: report.verdict.code };
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
    if (annotations["eks.amazonaws.com/role-arn"] && !annotations[WORKLOAD_ROLE_ANNOTATION]) {
      notes.push(
        `the annotation eks.amazonaws.com/role-arn is IRSA for the pod's containers; the kubelet's provider reads ${WORKLOAD_ROLE_ANNOTATION} (or AWS_ECR_ROLE_ARN in its env)`,
      );
    }
    if (!workload) notes.push("no --service-account-token: the kubelet pulls with the node's identity");
  }
  const mode = workload ? "service-account-token" : kubelet ? "node" : "this-environment";
  const timeoutMs = settings.requestTimeoutMs;
  let walk: AwsWalk | undefined;
  if (route.provider === "ecr" || route.provider === "ecr-public") {
    walk = await walkAws(route, { env: settings.env, home: settings.home, timeoutMs, kubelet });
    report.identity = {
      label: route.identity.label,
      mode,
      steps: walk.steps,
      ...(walk.principal ? { principal: walk.principal } : {}),
      ...(walk.basePrincipal ? { basePrincipal: walk.basePrincipal } : {}),
      notes,
      ...(walk.error ? { error: walk.error } : {}),
    };
  } else {
    if (kubelet)
      notes.push(
        `--as kubelet: the ${route.provider} SDK reads this process's environment; the chain shown is this environment's`,
      );
    report.identity = {
      label: route.identity.label,
      mode,
      steps: [
        {
          source: route.identity.label,
          state: "used",
          detail: "the SDK's default chain for this cloud (run doctor for a live who-am-i)",
        },
      ],
      notes,
    };
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
  if (creds && report.reference) {
    const ref = report.reference;
    report.probe = await probeRegistry(
      ref.host,
      ref.kind === "image" ? ref.path : undefined,
      ref.digest ?? ref.tag,
      creds,
      timeoutMs,
    );
  }
};

const render = (r: ExplainReport, st: Style, now: number): string => {
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
    if (id.principal) sub(`principal        ${st.bold(id.principal)}  (STS GetCallerIdentity)`);
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
    sub(line(p.base));
    if (p.manifest) sub(line(p.manifest));
    const err = p.manifest?.error ?? (p.base.status !== 200 ? p.base.error : undefined);
    if (err && p.manifest?.status !== 200) sub(`registry says: "${err.message}"`);
  }
  const v = r.verdict;
  out.push("");
  out.push(v.ok ? st.ok("✓ this pull would succeed") : `${st.bad("✗ problem:")} ${v.problem}`);
  out.push(`${st.bold("→ next:")} ${v.next}`);
  return `${out.join("\n")}\n`;
};
