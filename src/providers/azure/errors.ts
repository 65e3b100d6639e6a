// @azure/identity and MSAL errors → short lines. As @azure/identity defines it,
// CredentialUnavailableError means "this source is not set up here, try the next"; anything else
// stops the chain.

import { oneLine } from "../../errors.ts";
import { scrub } from "../../log.ts";

/** An SDK error as one short line: MSAL's "Error(s): … Description: X - Correlation ID: …" becomes X. */
export const brief = (e: unknown): string => {
  let text = scrub(oneLine(e)).replace(/\s*See the troubleshooting guide.*$/i, "");
  const described = /^([\w-]+): .*?Description: (.*?)(?: - Correlation ID:.*)?$/.exec(text);
  if (described) text = `${described[1]}: ${described[2]}`;
  text = text.replace(/\s*Trace ID: .*$/, "");
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
};

/** The gist of an SDK message ("Azure CLI could not be found."), for the one-line summary. */
export const firstSentence = (e: unknown): string => {
  const text = brief(e).replace(/^\w+Credential: /, "");
  const m = /^.*?[.!](?=\s|$)/.exec(text);
  const s = (m ? m[0] : text).replace(/\.$/, "");
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
};

export const isUnavailable = (e: unknown): boolean =>
  e instanceof Error &&
  (e.name === "CredentialUnavailableError" ||
    (e.name === "AggregateAuthenticationError" &&
      ((e as Error & { errors?: unknown[] }).errors ?? []).every(
        (x) => x instanceof Error && x.name === "CredentialUnavailableError",
      )));

export const FIX: Readonly<Record<string, string>> = {
  environment: "check AZURE_CLIENT_SECRET or the certificate, and that the app exists in that tenant",
  workload: "check the federated identity credential (issuer, subject, audience) of that client id",
  managed: "check that the managed identity is assigned to this host (and the client id, if set)",
  cli: "run az login (with --tenant if the registry's tenant differs)",
  kubelet: "check the federated identity credential of that client id for this service account",
};
