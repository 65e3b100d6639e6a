// Google Container Registry and Artifact Registry: username "oauth2accesstoken", secret = an OAuth2
// access token with the cloud-platform scope, expiry as reported by the auth client.
//
// The provider entry, imported on a cache miss only; google-auth-library is imported inside
// fetchToken. The identity order is google/source.ts; credentials.ts builds the client for the first
// source that applies (any ADC file type: service_account, authorized_user, external_account with
// file/url/executable/aws sources, impersonated_service_account, external_account_authorized_user;
// the metadata server after metadata.ts's short probe; STS in kubelet service-account token mode);
// errors.ts turns failures into one line.
//
// We walk the order ourselves instead of calling GoogleAuth.getClient() so that the decision uses
// the env read at the edge (not whatever process.env holds), the metadata probe is short, the log
// names the exact identity, and a missing identity is told apart from a broken one.

import { withDeadline } from "../../deadline.ts";
import { ProviderError } from "../../errors.ts";
import type { Route } from "../../resolver.ts";
import { network } from "../network.ts";
import type { FetchContext, Token } from "../types.ts";
import { FALLBACK_LIFETIME_MS, GOOGLE_USERNAME } from "./constants.ts";
import { discoverDefault, discoverWorkload } from "./credentials.ts";
import { classifyGoogleError } from "./errors.ts";
import type { LoadLib } from "./metadata.ts";
import { routeSdkLogs } from "./sdk-log.ts";

export {
  CLOUD_PLATFORM_SCOPE,
  GKE_SERVICE_ACCOUNT_ANNOTATION,
  GOOGLE_USERNAME,
  METADATA_PROBE_MS,
  WORKLOAD_PROVIDER_ANNOTATION,
} from "./constants.ts";
export { describeAudience, describeCredentials } from "./credentials.ts";
export { classifyGoogleError } from "./errors.ts";
export { metadataBase, probeMetadata } from "./metadata.ts";
export { googleIdentityPlan, normalizeAudience } from "./plan.ts";

type GoogleAuthLib = typeof import("google-auth-library");

export const fetchToken = async (route: Route, ctx: FetchContext): Promise<Token> => {
  if (route.provider !== "google") throw new Error(`google provider cannot serve ${route.provider}`);
  let sdk: Promise<GoogleAuthLib> | undefined;
  const loadLib: LoadLib = () => {
    sdk ??= routeSdkLogs(ctx.env, ctx.log).then(() => import("google-auth-library"));
    return sdk;
  };
  const net = await network(ctx.env, ctx.log);
  const source = route.workload
    ? discoverWorkload(route, ctx, await loadLib(), net)
    : await discoverDefault(route, ctx, loadLib, net);
  ctx.log.debug(`google: ${route.host}: identity ${source.describe}`);
  // Each HTTP call has the request timeout; a whole chain (token, STS, impersonation, retries of
  // the metadata client) gets a few of them before it is cut off as one line.
  const budget = ctx.requestTimeoutMs * 3;
  try {
    const { token } = await withDeadline(
      source.client.getAccessToken(),
      budget,
      () =>
        new ProviderError(
          `Google ${source.describe} did not answer within ${budget / 1000} s for ${route.host}; check network and proxy settings`,
        ),
    );
    if (!token) throw new ProviderError(`Google ${source.describe} returned no access token for ${route.host}`);
    const expiry = source.client.credentials.expiry_date;
    const now = ctx.now();
    const expiresAt = typeof expiry === "number" && expiry > now ? expiry : now + FALLBACK_LIFETIME_MS;
    return { username: GOOGLE_USERNAME, secret: token, expiresAt };
  } catch (e) {
    throw classifyGoogleError(e, route.host, source, ctx.requestTimeoutMs);
  }
};
