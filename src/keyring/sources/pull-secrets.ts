// Pull secrets passed to lookup(): the kubelet's keyring of a pod's imagePullSecrets, ahead of
// the node's. Each tier is one keyring (the kubelet's MakeDockerKeyring over its secrets); tiers
// are tried in order, so a CSI driver can put a volume's secrets before the service account's.
//
// A secret is a Secret's .dockerconfigjson or .dockercfg content (text or parsed), or a whole
// Kubernetes Secret object (kind Secret, or any object with `data`/`stringData` holding one of
// those keys — what @kubernetes/client-node returns), whose content is decoded here.

import type { Logger } from "../../log.ts";
import { type DockerConfig, parseDockerConfig, parseDockerConfigText } from "../docker-config.ts";
import { KeyIndex } from "../match.ts";
import type { PullSecret } from "../types.ts";

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const SECRET_KEYS = [".dockerconfigjson", ".dockercfg"] as const;

/** The tiers `pullSecrets` names: a list of lists is tiers, a flat list is one tier. */
export const secretTiers = (secrets: unknown): PullSecret[][] => {
  if (secrets === undefined) return [];
  if (!Array.isArray(secrets)) throw new TypeError("lookup: pullSecrets must be a list");
  if (secrets.length === 0) return [];
  const nested = secrets.filter((s) => Array.isArray(s)).length;
  if (nested === 0) return [secrets as PullSecret[]];
  if (nested !== secrets.length) {
    throw new TypeError("lookup: pullSecrets is either a list of secrets or a list of tiers (lists), not both");
  }
  return secrets as PullSecret[][];
};

/** A Secret object's Docker config text, or a string saying why there is none; undefined when `s` is no Secret. */
const fromSecretObject = (s: Record<string, unknown>): string | { error: string } | undefined => {
  const data = isObj(s.data) ? s.data : undefined;
  const stringData = isObj(s.stringData) ? s.stringData : undefined;
  const isSecret =
    s.kind === "Secret" || SECRET_KEYS.some((k) => (data && k in data) || (stringData && k in stringData));
  if (!isSecret) return undefined;
  for (const k of SECRET_KEYS) {
    const plain = stringData?.[k];
    if (typeof plain === "string") return plain;
    const encoded = data?.[k];
    if (typeof encoded === "string") {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded)) return { error: `its data[${JSON.stringify(k)}] is not base64` };
      return Buffer.from(encoded, "base64").toString("utf8");
    }
  }
  const type = typeof s.type === "string" ? ` of type ${s.type}` : "";
  return { error: `a Secret${type} with no .dockerconfigjson or .dockercfg data` };
};

const parseSecret = (s: PullSecret, where: string, warn: (m: string) => void): DockerConfig | string => {
  if (typeof s === "string") return parseDockerConfigText(s, where, warn);
  if (isObj(s)) {
    const inner = fromSecretObject(s);
    if (typeof inner === "string") return parseDockerConfigText(inner, where, warn);
    if (inner !== undefined) return inner.error;
  }
  return parseDockerConfig(s, where, warn);
};

/** One keyring per tier, in order. */
export const secretKeyrings = (secrets: unknown, log: Logger): KeyIndex[] => {
  const tiers = secretTiers(secrets);
  return tiers.map((tier, t) => {
    const index = new KeyIndex();
    for (const [i, s] of tier.entries()) {
      const where = tiers.length > 1 ? `pullSecrets[${t}][${i}]` : `pullSecrets[${i}]`;
      const warn = (m: string) => log.warn(m);
      const cfg = parseSecret(s, where, warn);
      if (typeof cfg === "string") {
        warn(`${where}: ${cfg}; ignored`);
        continue;
      }
      for (const a of cfg.auths) {
        if (!index.add(a.key, { credential: a.credential, source: `${where} ${a.key}` })) {
          log.debug(`${where}: key ${JSON.stringify(a.key)} does not parse; dropped`);
        }
      }
    }
    return index;
  });
};
