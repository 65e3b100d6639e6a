// The kubelet's CredentialProviderConfig (--image-credential-provider-config): decoded and
// validated with the kubelet's own rules, so that a file accepted here is accepted by the kubelet
// and a file refused here is refused with the same complaint (pkg/credentialprovider/plugin/config.go).
// Used to check our packaging examples and by the in-process keyring, which reads the node's file.
//
// - Decoding is strict: unknown, duplicate or wrongly-cased fields are errors, a field of the
//   wrong JSON type is an error, `tokenAttributes` exists only in the v1 schema. YAML is read
//   with YAML 1.1 scalars (yes/no/on/off are booleans), as the kubelet's go-yaml does.
// - Validation collects every problem, each formatted like apimachinery's field errors, and joins
//   them like an aggregate error: one message alone, several as "[a, b]".
// - A directory path (Kubernetes 1.34+) merges its *.json, *.yaml and *.yml files in name order.

import { readdir, readFile, stat } from "node:fs/promises";
import { extname, join } from "node:path";
import { ConfigError } from "../errors.ts";
import { durationToMs, parseGoDuration } from "../kubelet/duration.ts";
import { PLUGIN_API_V1, PLUGIN_API_VERSIONS } from "../kubelet/types.ts";
import { urlsMatchStr } from "../registry/glob.ts";
import { schemelessUrlError } from "../registry/url.ts";

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
  const { parse } = await import("yaml");
  // The kubelet treats input that starts with "{" as JSON and anything else as YAML (go-yaml,
  // YAML 1.1 scalars). Both refuse duplicate keys in strict mode.
  const json = text.trimStart().startsWith("{");
  return parse(text, { uniqueKeys: true, strict: true, ...(json ? {} : { version: "1.1" as const }) });
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

// ---------------------------------------------------------------------------------------------
// Validation (validateCredentialProviderConfig)

const q = (s: string) => JSON.stringify(s);
const required = (path: string, detail = "") => `${path}: Required value${detail ? `: ${detail}` : ""}`;
const invalid = (path: string, value: string, detail: string) => `${path}: Invalid value: ${value}: ${detail}`;
const forbidden = (path: string, detail: string) => `${path}: Forbidden: ${detail}`;
const duplicate = (path: string, value: string) => `${path}: Duplicate value: ${q(value)}`;
const notSupported = (path: string, value: string, supported: readonly string[]) =>
  `${path}: Unsupported value: ${q(value)}: supported values: ${supported.map(q).join(", ")}`;

const QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QNAME_RE = new RegExp(`^${QNAME_FMT}$`);
const QNAME_MSG = `must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc', regex used for validation is '${QNAME_FMT}')`;
const DNS1123_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_RE = new RegExp(`^${DNS1123_FMT}$`);

/** apimachinery validation.IsQualifiedName: "[prefix/]name", with its messages. */
export const qualifiedNameErrors = (value: string): string[] => {
  const errs: string[] = [];
  const parts = value.split("/");
  let name: string;
  if (parts.length === 1) name = parts[0] as string;
  else if (parts.length === 2) {
    const prefix = parts[0] as string;
    name = parts[1] as string;
    if (prefix.length === 0) errs.push("prefix part must be non-empty");
    else {
      if (prefix.length > 253) errs.push("prefix part must be no more than 253 characters");
      if (!DNS1123_RE.test(prefix)) {
        errs.push(
          `prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '${DNS1123_FMT}')`,
        );
      }
    }
  } else {
    return [`a qualified name ${QNAME_MSG} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`];
  }
  if (name.length === 0) errs.push("name part must be non-empty");
  else if (name.length > 63) errs.push("name part must be no more than 63 characters");
  if (!QNAME_RE.test(name)) errs.push(`name part ${QNAME_MSG}`);
  return errs;
};

const annotationKeyErrors = (path: string, keys: readonly string[]): string[] => {
  const errs: string[] = [];
  const seen = new Set<string>();
  for (const k of keys) {
    // As for object annotations: a qualified name, except that case does not matter.
    for (const msg of qualifiedNameErrors(k.toLowerCase())) errs.push(invalid(path, q(k), msg));
    if (seen.has(k)) errs.push(duplicate(path, k));
    seen.add(k);
  }
  return errs;
};

/** Every problem the kubelet would report for `config` (empty when valid). */
export const validateCredentialProviderConfig = (
  config: CredentialProviderConfig,
  opts: ValidateOptions = {},
): string[] => {
  const gate = opts.serviceAccountTokenFeature ?? true;
  const errs: string[] = [];
  if (config.providers.length === 0) errs.push(required("providers", "at least 1 item in plugins is required"));
  const seen = new Set<string>();
  for (const p of config.providers) {
    // The kubelet's field paths carry no index ("providers.name").
    if (p.name.includes("/")) errs.push(invalid("providers.name", q(p.name), "provider name cannot contain '/'"));
    if (p.name.includes(" ")) errs.push(invalid("providers.name", q(p.name), "provider name cannot contain spaces"));
    if (p.name === ".") errs.push(invalid("providers.name", q(p.name), "provider name cannot be '.'"));
    if (p.name === "..") errs.push(invalid("providers.name", q(p.name), "provider name cannot be '..'"));
    if (seen.has(p.name)) errs.push(duplicate("providers.name", p.name));
    seen.add(p.name);

    if (p.apiVersion === "") errs.push(required("providers.apiVersion"));
    else if (!(PLUGIN_API_VERSIONS as readonly string[]).includes(p.apiVersion)) {
      errs.push(notSupported("providers.apiVersion", p.apiVersion, PLUGIN_API_VERSIONS));
    }

    if (p.matchImages.length === 0) {
      errs.push(required("providers.matchImages", "at least 1 item in matchImages is required"));
    }
    for (const m of p.matchImages) {
      const e = schemelessUrlError(m);
      if (e) errs.push(invalid("providers.matchImages", q(m), `match image is invalid: ${e}`));
    }

    if (p.defaultCacheDuration === null) errs.push(required("providers.defaultCacheDuration"));
    else if (parseGoDuration(p.defaultCacheDuration) < 0n) {
      errs.push(
        invalid(
          "providers.defaultCacheDuration",
          q(p.defaultCacheDuration),
          "defaultCacheDuration must be greater than or equal to 0",
        ),
      );
    }

    const ta = p.tokenAttributes;
    if (ta) {
      const at = "providers.tokenAttributes";
      if (!gate) {
        errs.push(
          forbidden(
            at,
            "tokenAttributes is not supported when KubeletServiceAccountTokenForCredentialProviders feature gate is disabled",
          ),
        );
      }
      if (ta.serviceAccountTokenAudience === "") errs.push(required(`${at}.serviceAccountTokenAudience`));
      if (ta.requireServiceAccount === null) errs.push(required(`${at}.requireServiceAccount`));
      if (p.apiVersion !== PLUGIN_API_V1) {
        errs.push(forbidden(at, `tokenAttributes is only supported for ${PLUGIN_API_V1} API version`));
      }
      if (ta.requireServiceAccount === false && ta.requiredServiceAccountAnnotationKeys.length > 0) {
        errs.push(
          forbidden(
            `${at}.requiredServiceAccountAnnotationKeys`,
            "requireServiceAccount cannot be false when requiredServiceAccountAnnotationKeys is set",
          ),
        );
      }
      errs.push(
        ...annotationKeyErrors(`${at}.requiredServiceAccountAnnotationKeys`, ta.requiredServiceAccountAnnotationKeys),
      );
      errs.push(
        ...annotationKeyErrors(`${at}.optionalServiceAccountAnnotationKeys`, ta.optionalServiceAccountAnnotationKeys),
      );
      const optional = new Set(ta.optionalServiceAccountAnnotationKeys);
      const both = [...new Set(ta.requiredServiceAccountAnnotationKeys.filter((k) => optional.has(k)))].sort();
      if (both.length > 0) {
        errs.push(
          invalid(at, `[]string{${both.map(q).join(", ")}}`, "annotation keys cannot be both required and optional"),
        );
      }
      if (ta.cacheType === "") {
        errs.push(
          required(
            `${at}.cacheType`,
            `cacheType is required to be set when tokenAttributes is specified. Supported values are: ${CACHE_TYPES.join(", ")}`,
          ),
        );
      } else if (!(CACHE_TYPES as readonly string[]).includes(ta.cacheType)) {
        errs.push(notSupported(`${at}.cacheType`, ta.cacheType, CACHE_TYPES));
      }
    }
  }
  return errs;
};

// ---------------------------------------------------------------------------------------------
// Loading (readCredentialProviderConfig + validation), and matching

const CONFIG_EXTENSIONS = new Set([".json", ".yaml", ".yml"]);

/**
 * Reads a config file, or a directory of them, decodes strictly, merges and validates; throws
 * CredentialProviderConfigError with the kubelet's messages.
 */
export const loadCredentialProviderConfig = async (
  path: string,
  opts: ValidateOptions = {},
): Promise<CredentialProviderConfig> => {
  if (path === "") throw new CredentialProviderConfigError("(none)", ["credential provider config path is empty"]);
  let files: string[];
  try {
    if ((await stat(path)).isDirectory()) {
      const entries = await readdir(path, { withFileTypes: true });
      files = entries
        .filter((e) => !e.isDirectory() && CONFIG_EXTENSIONS.has(extname(e.name)))
        .map((e) => join(path, e.name))
        .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      if (files.length === 0) {
        throw new CredentialProviderConfigError(path, [`no configuration files found in directory ${q(path)}`]);
      }
    } else files = [path];
  } catch (e) {
    if (e instanceof CredentialProviderConfigError) throw e;
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new CredentialProviderConfigError(path, [`unable to access path ${q(path)}: ${code}`]);
  }
  const merged: CredentialProviderConfig = { apiVersion: "", providers: [] };
  const names = new Set<string>();
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (e) {
      throw new CredentialProviderConfigError(file, [
        `unable to read file ${q(file)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      ]);
    }
    const cfg = await decodeCredentialProviderConfig(text, file);
    merged.apiVersion ||= cfg.apiVersion;
    for (const p of cfg.providers) {
      if (names.has(p.name)) {
        throw new CredentialProviderConfigError(file, [
          `duplicate provider name ${q(p.name)} found in configuration file(s)`,
        ]);
      }
      names.add(p.name);
      merged.providers.push(p);
    }
  }
  const problems = validateCredentialProviderConfig(merged, opts);
  if (problems.length > 0) {
    throw new CredentialProviderConfigError(path, [
      `failed to validate credential provider config: ${aggregate(problems)}`,
    ]);
  }
  return merged;
};

/** The kubelet runs a provider for an image only when one of its matchImages matches it. */
export const providerMatchesImage = (p: CredentialProvider, image: string): boolean =>
  p.matchImages.some((m) => urlsMatchStr(m, image));
