// The kubelet's CredentialProviderConfig, part 1: its types and strict decoding (kubelet-config.ts
// has the whole picture and the loader).
import { ConfigError } from "../errors.ts";
import { durationToMs, parseGoDuration } from "../kubelet/duration.ts";

export const CONFIG_KIND = "CredentialProviderConfig";
export const CONFIG_GROUP = "kubelet.config.k8s.io";
export const CONFIG_API_VERSIONS = [
  "kubelet.config.k8s.io/v1",
  "kubelet.config.k8s.io/v1alpha1",
  "kubelet.config.k8s.io/v1beta1",
];
export const CACHE_TYPES = ["ServiceAccount", "Token"] as const;

export interface ExecEnvVar {
  name: string;
  value: string;
}

export interface TokenAttributes {
  serviceAccountTokenAudience: string;
  cacheType: string;
  /** null when absent (a validation error). */
  requireServiceAccount: boolean | null;
  requiredServiceAccountAnnotationKeys: string[];
  optionalServiceAccountAnnotationKeys: string[];
}

export interface CredentialProvider {
  name: string;
  matchImages: string[];
  /** The text as written, e.g. "12h"; null when absent (a validation error). */
  defaultCacheDuration: string | null;
  /** defaultCacheDuration in milliseconds. */
  defaultCacheDurationMs: number | null;
  apiVersion: string;
  args: string[];
  env: ExecEnvVar[];
  tokenAttributes: TokenAttributes | null;
}

export interface CredentialProviderConfig {
  apiVersion: string;
  providers: CredentialProvider[];
}

export interface ValidateOptions {
  /**
   * The KubeletServiceAccountTokenForCredentialProviders feature gate: alpha (off) in 1.33,
   * beta (on) from 1.34. Default true.
   */
  serviceAccountTokenFeature?: boolean;
}

/** The config was refused; `problems` holds each message the kubelet would report. */
export class CredentialProviderConfigError extends ConfigError {
  override name = "CredentialProviderConfigError";
  readonly problems: readonly string[];
  constructor(where: string, problems: readonly string[]) {
    super(`${where}: ${aggregate(problems)}`);
    this.problems = problems;
  }
}

/** apimachinery's aggregate error text: duplicates dropped, one message alone, several in brackets. */
export const aggregate = (msgs: readonly string[]): string => {
  const unique = [...new Set(msgs)];
  return unique.length === 1 ? (unique[0] as string) : `[${unique.join(", ")}]`;
};

// ---------------------------------------------------------------------------------------------
// Strict decoding

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const goType = (v: unknown): string =>
  v === null
    ? "null"
    : Array.isArray(v)
      ? "array"
      : typeof v === "object"
        ? v instanceof Date
          ? "timestamp"
          : "object"
        : typeof v === "boolean"
          ? "bool"
          : typeof v;

class DecodeError extends Error {}

const typeError = (path: string, v: unknown, want: string): DecodeError =>
  new DecodeError(`json: cannot unmarshal ${goType(v)} into Go struct field ${path} of type ${want}`);

const isMap = (v: unknown): v is Record<string, Json> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);

interface Walk {
  strict: string[];
}

/** Unknown keys of `obj` (against the known, case-sensitive field names) become strict errors. */
const unknownFields = (obj: Record<string, Json>, known: readonly string[], at: string, w: Walk): void => {
  for (const k of Object.keys(obj)) {
    if (!known.includes(k)) w.strict.push(`unknown field ${JSON.stringify(at ? `${at}.${k}` : k)}`);
  }
};

const str = (v: Json | undefined, path: string): string => {
  if (v === undefined || v === null) return "";
  if (typeof v !== "string") throw typeError(path, v, "string");
  return v;
};

const strList = (v: Json | undefined, path: string): string[] => {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw typeError(path, v, "[]string");
  return v.map((x) => {
    if (x === null) return "";
    if (typeof x !== "string") throw typeError(path, x, "string");
    return x;
  });
};

const decodeTokenAttributes = (v: Json, at: string, w: Walk): TokenAttributes => {
  if (!isMap(v)) throw typeError(at, v, "ServiceAccountTokenAttributes");
  unknownFields(
    v,
    [
      "serviceAccountTokenAudience",
      "cacheType",
      "requireServiceAccount",
      "requiredServiceAccountAnnotationKeys",
      "optionalServiceAccountAnnotationKeys",
    ],
    at,
    w,
  );
  const req = v.requireServiceAccount;
  if (req !== undefined && req !== null && typeof req !== "boolean") {
    throw typeError(`${at}.requireServiceAccount`, req, "bool");
  }
  return {
    serviceAccountTokenAudience: str(v.serviceAccountTokenAudience, `${at}.serviceAccountTokenAudience`),
    cacheType: str(v.cacheType, `${at}.cacheType`),
    requireServiceAccount: typeof req === "boolean" ? req : null,
    requiredServiceAccountAnnotationKeys: strList(
      v.requiredServiceAccountAnnotationKeys,
      `${at}.requiredServiceAccountAnnotationKeys`,
    ),
    optionalServiceAccountAnnotationKeys: strList(
      v.optionalServiceAccountAnnotationKeys,
      `${at}.optionalServiceAccountAnnotationKeys`,
    ),
  };
};

const decodeProvider = (v: Json, i: number, configVersion: string, w: Walk): CredentialProvider => {
  const at = `providers[${i}]`;
  if (!isMap(v)) throw typeError(at, v, "CredentialProvider");
  const known = ["name", "matchImages", "defaultCacheDuration", "apiVersion", "args", "env"];
  // tokenAttributes was added to the v1 config schema only (KEP-4412).
  if (configVersion === "kubelet.config.k8s.io/v1") known.push("tokenAttributes");
  unknownFields(v, known, at, w);
  let defaultCacheDuration: string | null = null;
  let defaultCacheDurationMs: number | null = null;
  const d = v.defaultCacheDuration;
  if (d !== undefined && d !== null) {
    if (typeof d !== "string") throw typeError(`${at}.defaultCacheDuration`, d, "string");
    defaultCacheDurationMs = durationToMs(parseGoDuration(d)); // throws Go's "time: invalid duration" text
    defaultCacheDuration = d;
  }
  const env: ExecEnvVar[] = [];
  if (v.env !== undefined && v.env !== null) {
    if (!Array.isArray(v.env)) throw typeError(`${at}.env`, v.env, "[]ExecEnvVar");
    for (const [j, e] of v.env.entries()) {
      const eat = `${at}.env[${j}]`;
      if (e === null) {
        env.push({ name: "", value: "" });
        continue;
      }
      if (!isMap(e)) throw typeError(eat, e, "ExecEnvVar");
      unknownFields(e, ["name", "value"], eat, w);
      env.push({ name: str(e.name, `${eat}.name`), value: str(e.value, `${eat}.value`) });
    }
  }
  const ta = known.includes("tokenAttributes") ? v.tokenAttributes : undefined;
  return {
    name: str(v.name, `${at}.name`),
    matchImages: strList(v.matchImages, `${at}.matchImages`),
    defaultCacheDuration,
    defaultCacheDurationMs,
    apiVersion: str(v.apiVersion, `${at}.apiVersion`),
    args: strList(v.args, `${at}.args`),
    env,
    tokenAttributes: ta === undefined || ta === null ? null : decodeTokenAttributes(ta, `${at}.tokenAttributes`, w),
  };
};

const parseText = async (text: string): Promise<unknown> => {
  const { parseYaml } = await import("../yaml.ts");
  // The kubelet treats input that starts with "{" as JSON and anything else as YAML (go-yaml,
  // YAML 1.1 scalars). Both refuse duplicate keys in strict mode.
  const json = text.trimStart().startsWith("{");
  return parseYaml(text, json ? {} : { version: "1.1" });
};

/** Decodes one config file's text strictly. `where` names it in messages. */
export const decodeCredentialProviderConfig = async (
  text: string,
  where: string,
): Promise<CredentialProviderConfig> => {
  let raw: unknown;
  try {
    raw = await parseText(text);
  } catch (e) {
    const msg = e instanceof Error ? (e.message.split("\n")[0] ?? "") : String(e);
    throw new CredentialProviderConfigError(where, [`error decoding config: ${msg}`]);
  }
  if (!isMap(raw)) {
    throw new CredentialProviderConfigError(where, [
      `error decoding config: expected a ${CONFIG_KIND} object, got ${goType(raw)}`,
    ]);
  }
  const apiVersion = typeof raw.apiVersion === "string" ? raw.apiVersion : "";
  const kind = typeof raw.kind === "string" ? raw.kind : "";
  if (apiVersion === "") throw new CredentialProviderConfigError(where, ["Object 'apiVersion' is missing"]);
  if (kind === "") throw new CredentialProviderConfigError(where, ["Object 'Kind' is missing"]);
  if (!CONFIG_API_VERSIONS.includes(apiVersion) || kind !== CONFIG_KIND) {
    throw new CredentialProviderConfigError(where, [
      `no kind ${JSON.stringify(kind)} is registered for version ${JSON.stringify(apiVersion)}`,
    ]);
  }
  const w: Walk = { strict: [] };
  let providers: CredentialProvider[];
  try {
    unknownFields(raw, ["kind", "apiVersion", "providers"], "", w);
    const list = raw.providers;
    if (list !== undefined && list !== null && !Array.isArray(list)) {
      throw typeError("providers", list, "[]CredentialProvider");
    }
    providers = (list ?? []).map((p, i) => decodeProvider(p, i, apiVersion, w));
  } catch (e) {
    throw new CredentialProviderConfigError(where, [
      `error decoding config: ${e instanceof Error ? e.message : String(e)}`,
    ]);
  }
  if (w.strict.length > 0) {
    throw new CredentialProviderConfigError(where, [`strict decoding error: ${w.strict.join(", ")}`]);
  }
  return { apiVersion, providers };
};
