// Reading the kubelet's request and writing our response.
//
// The request is read the way upstream plugins read it (non-strict: unknown fields ignored,
// matching case-sensitive like the apimachinery JSON decoder) but validated: kind, a known
// apiVersion and a non-empty image. Error messages never quote the input, which may carry a
// service-account token.
//
// The response is encoded with exactly the fields the kubelet's strict decoder knows, in the
// order Go's encoder writes them, as one compact object and a newline.

import { UsageError } from "../errors.ts";
import { isObj } from "../json.ts";
import { excerpt } from "../log.ts";
import {
  type CredentialProviderRequest,
  type CredentialProviderResponse,
  isPluginApiVersion,
  PLUGIN_API_V1,
  REQUEST_KIND,
  RESPONSE_KIND,
} from "./types.ts";

const typeName = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

/** A cheap test for "the kubelet is talking to us" on a docker-helper `get`. */
export const looksLikeKubeletRequest = (input: string): boolean =>
  input.trimStart().startsWith("{") && input.includes(REQUEST_KIND);

/** Parses and validates a CredentialProviderRequest; throws UsageError with one line. */
export const parseRequest = (input: string): CredentialProviderRequest => {
  if (input.trim() === "") {
    throw new UsageError("no CredentialProviderRequest on stdin (this mode is run by the kubelet)");
  }
  let raw: unknown;
  try {
    raw = JSON.parse(input);
  } catch (e) {
    // JSON.parse messages may quote the input; only its position is safe to keep.
    const at = /position \d+/.exec(e instanceof Error ? e.message : "")?.[0];
    throw new UsageError(`the request on stdin is not JSON${at ? ` (error at ${at})` : ""}`);
  }
  if (!isObj(raw)) throw new UsageError(`the request on stdin is a JSON ${typeName(raw)}, not an object`);
  const { kind, apiVersion, image } = raw;
  if (kind !== REQUEST_KIND) {
    throw new UsageError(
      typeof kind === "string" && kind !== ""
        ? `kind was ${excerpt(kind)}, expected ${REQUEST_KIND}`
        : `the request has no kind (expected ${REQUEST_KIND})`,
    );
  }
  if (!isPluginApiVersion(apiVersion)) {
    throw new UsageError(
      `group version ${typeof apiVersion === "string" ? excerpt(apiVersion) : typeName(apiVersion)} is not supported (expected credentialprovider.kubelet.k8s.io/v1, v1beta1 or v1alpha1)`,
    );
  }
  if (image !== undefined && image !== null && typeof image !== "string") {
    throw new UsageError(`image in plugin request is a ${typeName(image)}, not a string`);
  }
  if (!image) throw new UsageError("image in plugin request was empty");
  const req: CredentialProviderRequest = { apiVersion, image };
  // The service-account fields exist only in v1; for older versions they are unknown fields,
  // ignored like any other.
  if (apiVersion === PLUGIN_API_V1) {
    const { serviceAccountToken: token, serviceAccountAnnotations: ann } = raw;
    if (token !== undefined && token !== null && typeof token !== "string") {
      throw new UsageError(`serviceAccountToken in plugin request is a ${typeName(token)}, not a string`);
    }
    if (ann !== undefined && ann !== null) {
      if (!isObj(ann) || Object.values(ann).some((v) => typeof v !== "string")) {
        throw new UsageError("serviceAccountAnnotations in plugin request must map strings to strings");
      }
    }
    if (token) {
      req.serviceAccountToken = token;
      req.serviceAccountAnnotations = Object.freeze({ ...((ann ?? {}) as Record<string, string>) });
    }
  }
  return req;
};

/** The response as the kubelet's strict decoder wants it: known fields only, compact, one line. */
export const encodeResponse = (r: CredentialProviderResponse): string => {
  const out: Record<string, unknown> = { kind: RESPONSE_KIND, apiVersion: r.apiVersion, cacheKeyType: r.cacheKeyType };
  if (r.cacheDuration !== undefined) out.cacheDuration = r.cacheDuration;
  if (r.auth !== undefined && Object.keys(r.auth).length > 0) {
    const auth: Record<string, { username: string; password: string }> = {};
    for (const [k, v] of Object.entries(r.auth)) auth[k] = { username: v.username, password: v.password };
    out.auth = auth;
  }
  return `${JSON.stringify(out)}\n`;
};
