// explain, part 2: what the kubelet's environment leaves out, and the verdict with the next step to take.
import { WORKLOAD_ROLE_ANNOTATION } from "../../providers/aws/ecr.ts";
import { parseAcrHost } from "../../registry/hosts.ts";
import type { Env, Settings } from "../../settings.ts";
import { roleOfSession } from "./aws-chain.ts";
import { EXIT, type ExplainReport } from "./report.ts";

// Variables a shell (or a pod) may have that the kubelet's plugin process does not: user and pod
// identities. The pod identity webhooks (IRSA, Azure workload identity) inject several of them
// into containers; the kubelet pulls with its own environment.
export const NOT_KUBELET = [
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

export const kubeletEnv = (env: Env): { env: Env; dropped: string[] } => {
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

export const parseEcrDenial = (msg: string) => {
  const m = /User: (\S+) is not authorized to perform: (\S+) on resource: (\S+?)(?: because (.+?))?\.?$/.exec(msg);
  return m ? { principal: m[1] ?? "", action: m[2] ?? "", resource: m[3] ?? "", because: m[4] } : undefined;
};

/** Artifact Registry's (and gcr.io's) denial: `Permission "P" denied on resource "projects/…/repositories/R"`. */
export const parseGarDenial = (msg: string) => {
  const m =
    /Permission "([^"]+)" denied on resource "projects\/([^/"]+)\/locations\/([^/"]+)\/repositories\/([^/"]+)"/.exec(
      msg,
    );
  return m ? { permission: m[1] ?? "", project: m[2] ?? "", location: m[3] ?? "", repository: m[4] ?? "" } : undefined;
};

const GAR_READER = "roles/artifactregistry.reader";

/** The next step for a Google registry that refused `principal`. */
const googleNext = (principal: string | undefined, message: string | undefined, path: string | undefined) => {
  // IAM members are "serviceAccount:<e-mail>" or "user:<e-mail>" (whoami/google.ts prints them so).
  const member = principal && /^(serviceAccount|user):\S+$/.test(principal) ? principal : "<member>";
  const d = message ? parseGarDenial(message) : undefined;
  if (d) {
    return `grant ${principal ?? "the identity above"} ${GAR_READER} on the repository projects/${d.project}/locations/${d.location}/repositories/${d.repository}: gcloud artifacts repositories add-iam-policy-binding ${d.repository} --project=${d.project} --location=${d.location} --member=${member} --role=${GAR_READER}`;
  }
  return `grant ${principal ?? "the identity above"} ${GAR_READER} on the repository holding ${path ?? "the image"} (gcloud artifacts repositories add-iam-policy-binding REPOSITORY --location=LOCATION --member=${member} --role=${GAR_READER})`;
};

/** The next step for an ACR registry that refused the identity: the AcrPull role on the registry. */
const acrNext = (r: ExplainReport, settings: Settings) => {
  const host = r.reference?.host ?? r.input;
  const name = parseAcrHost(host, settings.config.azure.extraSuffixes)?.registry ?? host.split(".")[0] ?? host;
  const facts = r.identity?.facts ?? {};
  const assignee = facts.appId ?? facts.objectId ?? facts.user ?? "<app id or object id>";
  return `assign ${r.identity?.principal ?? "the identity above"} the AcrPull role on the registry ${name}: az role assignment create --assignee ${assignee} --role AcrPull --scope "$(az acr show --name ${name} --query id --output tsv)" (a registry with ABAC repository permissions needs "Container Registry Repository Reader" instead); role assignments take a few minutes to apply`;
};

export const verdictFor = (
  r: ExplainReport,
  kubeletDropped: string[],
  settings: Settings,
): ExplainReport["verdict"] => {
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
  const provider = r.route.provider;
  if (p.token && !p.base) {
    const t = p.token;
    const quotedToken = t.error ? `: "${t.error.message}"` : "";
    const refused = t.status === 401 || t.status === 403;
    return {
      ok: false,
      code: EXIT.registry,
      problem:
        t.status === null
          ? `the registry's token endpoint could not be used: ${t.error?.message ?? "no answer"}`
          : `the registry's token endpoint refused the credentials (${t.status}${quotedToken})`,
      next:
        refused && provider === "google"
          ? googleNext(id?.principal, t.error?.message, r.reference?.path)
          : refused && provider === "acr" && t.status === 403
            ? acrNext(r, settings)
            : `erase the cached token (docker-credential-cloud erase <<< ${host}) and retry with --no-cache; if it persists the token is for another registry or account`,
    };
  }
  if (!p.base) {
    return { ok: false, code: EXIT.registry, problem: `https://${host} gave no answer`, next: "retry" };
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
  if (m.status === 401 || m.status === 403) {
    if (provider === "google") {
      return {
        ok: false,
        code: EXIT.registry,
        problem: `the registry denied ${id?.principal ?? "the identity"} the manifest (${m.status}${quoted})`,
        next: googleNext(id?.principal, m.error?.message, r.reference?.path),
      };
    }
    if (provider === "acr") {
      // ACR answers a token without pull rights for the repository with 401 "authentication required".
      return {
        ok: false,
        code: EXIT.registry,
        problem: `the registry did not let ${id?.principal ?? "the identity"} pull ${r.reference?.path ?? "the repository"} (${m.status}${quoted})`,
        next: acrNext(r, settings),
      };
    }
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
