// The kubelet's CredentialProviderConfig, part 2: validation with the kubelet's rules and messages
// (validateCredentialProviderConfig in pkg/credentialprovider/plugin/config.go).
import { parseGoDuration } from "../kubelet/duration.ts";
import { PLUGIN_API_V1, PLUGIN_API_VERSIONS } from "../kubelet/types.ts";
import { schemelessUrlError } from "../registry/url.ts";
import { CACHE_TYPES, type CredentialProviderConfig, type ValidateOptions } from "./kubelet-config-decode.ts";

// ---------------------------------------------------------------------------------------------
// Validation (validateCredentialProviderConfig)

/** A value quoted as the kubelet's messages quote it. */
export const q = (s: string) => JSON.stringify(s);
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
