// `docker-credential-cloud lookup IMAGE [--json]`: the keyring library for programs that are not
// Node (a Go CSI driver execs this). Prints the ordered CRI-shaped auth configs exactly as
// createKeyring().lookup() returns them. Returns { stdout, stderr, code }; the entry point writes.
//
// Exit codes: 0 the answer is printed (possibly an empty list: pull anonymously); 2 usage (bad
// arguments, an invalid image reference); 1 an input could not be read (a pull secret or token file).
//
// JSON schema (stable; new fields may be added, none renamed or removed):
//   {"apiVersion": "docker-credential-cloud.lookup/v1", "image": IMAGE, "repository": REPO,
//    "authConfigs": [{"serverAddress", "username"?, "password"?, "auth"?, "identityToken"?, "registryToken"?}]}

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { Env } from "../../env.ts";
import { oneLine } from "../../errors.ts";
import { createKeyring } from "../../keyring/keyring.ts";
import type { KeyringOptions, LookupOptions, PullSecret } from "../../keyring/types.ts";
import { LEVELS, type Level } from "../../log.ts";
import { InvalidImageError, normalizeImage } from "../../registry/image.ts";

export const LOOKUP_API_VERSION = "docker-credential-cloud.lookup/v1";

export const LOOKUP_USAGE = `Usage: docker-credential-cloud lookup IMAGE [options]
  --json                          the answer as JSON (apiVersion ${LOOKUP_API_VERSION})
  --docker-config FILE            a Docker config file (repeat; default: the kubelet's and Docker's own)
  --no-docker-config              read no Docker config file
  --kubelet-config PATH           a CredentialProviderConfig file or directory
  --kubelet-bin-dir DIR           its providers' binaries (required with --kubelet-config)
  --pull-secret FILE              a pull secret (.dockerconfigjson, .dockercfg or a Secret as JSON); repeat
  --pull-secret-tier FILE[,FILE]  one tier of pull secrets, tried before later tiers; repeat
  --service-account-token FILE    the pod's service-account token, for providers with tokenAttributes
  --service-account-annotation K=V  one of its service account's annotations; repeat
  --no-builtins                   no built-in cloud fetchers
  --server-address registry|none  serverAddress in each answer (default registry)
  --timeout SECONDS               bound on each helper or plugin (default 60)
Exit codes: 0 answer printed (an empty list means: pull anonymously); 1 an input file could not be
read; 2 usage or an invalid image reference.
`;

export interface VerbResult {
  stdout: string;
  stderr: string;
  code: number;
}

const usage = (why: string): VerbResult => ({
  stdout: "",
  stderr: `docker-credential-cloud lookup: ${why}\n${LOOKUP_USAGE}`,
  code: 2,
});

class InputError extends Error {}

const readInput = (file: string, what: string): string => {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    throw new InputError(`${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? oneLine(e)}`);
  }
};

/** A pull secret file: JSON when it parses (a parsed Secret object is decoded by the keyring), else the text. */
const readSecret = (file: string): PullSecret => {
  const text = readInput(file, "pull secret");
  try {
    return JSON.parse(text) as object;
  } catch {
    return text; // the keyring reports it as not valid JSON, without echoing it
  }
};

export interface LookupInvocation {
  image: string;
  json: boolean;
  keyring: KeyringOptions;
  lookup: LookupOptions;
}

/** Parses the verb's arguments into the library's options (files read here, at the edge). */
export const parseLookupArgs = (args: readonly string[], env: Env): LookupInvocation | VerbResult => {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: [...args], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    return usage(oneLine(e));
  }
  const { values: v, positionals } = parsed;
  if (v.help) return { stdout: LOOKUP_USAGE, stderr: "", code: 0 };
  if (positionals.length !== 1) return usage(positionals.length ? "exactly one IMAGE" : "IMAGE is required");
  const image = positionals[0] as string;
  if ((v["kubelet-config"] === undefined) !== (v["kubelet-bin-dir"] === undefined)) {
    return usage("--kubelet-config and --kubelet-bin-dir go together");
  }
  if (v["no-docker-config"] && v["docker-config"]) return usage("--docker-config and --no-docker-config conflict");
  if (v["pull-secret"] && v["pull-secret-tier"]) return usage("use --pull-secret or --pull-secret-tier, not both");
  const sa = v["server-address"];
  if (sa !== undefined && sa !== "registry" && sa !== "none") return usage('--server-address is "registry" or "none"');
  let timeoutMs: number | undefined;
  if (v.timeout !== undefined) {
    const s = Number(v.timeout);
    if (!(Number.isFinite(s) && s > 0)) return usage("--timeout is a positive number of seconds");
    timeoutMs = s * 1000;
  }
  const annotations: Record<string, string> = {};
  for (const kv of v["service-account-annotation"] ?? []) {
    const eq = kv.indexOf("=");
    if (eq <= 0) return usage(`--service-account-annotation takes KEY=VALUE, not ${JSON.stringify(kv.slice(0, 80))}`);
    annotations[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  if (Object.keys(annotations).length && v["service-account-token"] === undefined) {
    return usage("--service-account-annotation needs --service-account-token");
  }
  const level = env.DOCKER_CREDENTIAL_CLOUD_LOG;
  const keyring: KeyringOptions = {
    env,
    ...(v["no-docker-config"]
      ? { dockerConfig: false }
      : v["docker-config"]
        ? { dockerConfig: v["docker-config"] }
        : {}),
    ...(v["kubelet-config"] ? { kubeletConfig: v["kubelet-config"], kubeletBinDir: v["kubelet-bin-dir"] } : {}),
    ...(v["no-builtins"] ? { builtins: false } : {}),
    ...(sa ? { serverAddress: sa } : {}),
    ...(timeoutMs ? { timeoutMs } : {}),
    ...(level && (LEVELS as readonly string[]).includes(level) ? { logLevel: level as Level } : {}),
  };
  const lookup: LookupOptions = {};
  if (v["pull-secret"]) lookup.pullSecrets = v["pull-secret"].map(readSecret);
  if (v["pull-secret-tier"]) lookup.pullSecrets = v["pull-secret-tier"].map((t) => t.split(",").map(readSecret));
  if (v["service-account-token"] !== undefined) {
    lookup.serviceAccountToken = readInput(v["service-account-token"], "service-account token").trim();
    lookup.serviceAccountAnnotations = annotations;
  }
  return { image, json: Boolean(v.json), keyring, lookup };
};

const OPTIONS = {
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  "docker-config": { type: "string", multiple: true },
  "no-docker-config": { type: "boolean" },
  "kubelet-config": { type: "string" },
  "kubelet-bin-dir": { type: "string" },
  "pull-secret": { type: "string", multiple: true },
  "pull-secret-tier": { type: "string", multiple: true },
  "service-account-token": { type: "string" },
  "service-account-annotation": { type: "string", multiple: true },
  "no-builtins": { type: "boolean" },
  "server-address": { type: "string" },
  timeout: { type: "string" },
} as const;

const kind = (a: { identityToken?: string; registryToken?: string; username?: string }): string =>
  a.identityToken
    ? "identity token"
    : a.registryToken
      ? "registry token"
      : a.username !== undefined
        ? `user ${a.username}`
        : "auth";

/** The verb. Logs go to the returned stderr (never a secret); stdout is the answer only. */
export const runLookup = async (args: readonly string[], env: Env): Promise<VerbResult> => {
  let inv: LookupInvocation | VerbResult;
  try {
    inv = parseLookupArgs(args, env);
  } catch (e) {
    if (e instanceof InputError)
      return { stdout: "", stderr: `docker-credential-cloud lookup: ${e.message}\n`, code: 1 };
    throw e;
  }
  if ("code" in inv) return inv;
  let repository: string;
  try {
    repository = normalizeImage(inv.image).repository;
  } catch (e) {
    if (e instanceof InvalidImageError) return usage(oneLine(e));
    throw e;
  }
  const logs: string[] = [];
  const line = (m: string) => logs.push(`${m}\n`);
  const k = createKeyring({
    ...inv.keyring,
    logger: { error: line, warn: line, info: line, debug: line },
  });
  try {
    const auths = await k.lookup(inv.image, inv.lookup);
    const stdout = inv.json
      ? `${JSON.stringify({ apiVersion: LOOKUP_API_VERSION, image: inv.image, repository, authConfigs: auths })}\n`
      : auths.length === 0
        ? `${repository}: no credentials (pull anonymously)\n`
        : auths.map((a, i) => `${i + 1}. ${a.serverAddress || "(no server address)"} ${kind(a)}\n`).join("");
    return { stdout, stderr: logs.join(""), code: 0 };
  } finally {
    await k.close();
  }
};
