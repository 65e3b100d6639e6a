// One debug line naming each identity source of a plan in order, with its status.

import type { IdentityPlan } from "./types.ts";

export const summarizePlan = (plan: IdentityPlan): string =>
  `${plan.origin}: ${plan.sources
    .map((s) => `${s.label} [${s.status}${s.reason ? `: ${s.reason}` : ""}]`)
    .join(", ")}${plan.afterwards ? `, then ${plan.afterwards}` : ""}`;
