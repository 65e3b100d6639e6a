// A registry's own identity (the pull-secrets config's `registries[].aws|google|azure`) applied the
// way the helper's config file applies a rule: the settings the core entry sees for that host get
// one more rule, first in the list, for the host. The config file's own rule for the host (a custom
// host's provider mapping, its region, a refusal) is kept and the identity goes on top of it.
import type { RegistryRule } from "../config.ts";
import { findRule } from "../resolver.ts";
import type { Settings } from "../settings.ts";
import type { RegistryIdentity } from "./config.ts";

export const withIdentity = (settings: Settings, host: string, id: RegistryIdentity): Settings => {
  const rule = findRule(host, settings.config.registries);
  const merged: RegistryRule = {
    ...(rule ?? { match: host }),
    ...(id.aws ? { aws: { ...rule?.aws, ...id.aws } } : {}),
    ...(id.google ? { google: { ...rule?.google, ...id.google } } : {}),
    ...(id.azure ? { azure: { ...rule?.azure, ...id.azure } } : {}),
  };
  return Object.freeze({
    ...settings,
    config: Object.freeze({ ...settings.config, registries: [merged, ...settings.config.registries] }),
  });
};
