// What the operator verbs' who-am-i checks (doctor, explain) return for one cloud identity: the
// identity plan's sources as they turned out when tried, and the principal the cloud names.

import type { IdentityPlan } from "../../providers/types.ts";
import type { State } from "../explain/output.ts";

export interface ChainStep {
  source: string;
  state: State;
  detail: string;
}

export interface WhoAmI {
  /** The cloud's identity plan (providers/<cloud>/plan.ts), as computed from configuration. */
  plan: IdentityPlan;
  /** Each source of the plan as it turned out, in precedence order (plus an assumed role, if any). */
  steps: ChainStep[];
  /** Who the cloud says this is: an ARN, a service-account e-mail or user, a tenant and object id. */
  principal?: string;
  /** The base identity, when a role is assumed or a service account impersonated on top of it. */
  basePrincipal?: string;
  /** How the principal was established ("STS GetCallerIdentity", "tokeninfo", "token claims", …). */
  via?: string;
  /** Cloud-specific facts about the principal (Azure: tenant, object id, app id); never a secret. */
  facts?: Record<string, string>;
  /** True when no source of the plan applies here at all (not a failure: this cloud is not set up). */
  none?: boolean;
  error?: string;
}
