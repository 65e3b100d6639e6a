// One pass over one namespace: our dockerconfigjson secret and the selected service accounts'
// imagePullSecrets. Writes use the object's resourceVersion (optimistic concurrency): a 409 means
// someone else wrote in between, so we re-read and decide again, never overwrite blindly.
import type { PullSecretsConfig } from "./config.ts";
import { ConflictError, type Kube, type Obj } from "./kube.ts";
import { serviceAccountSelected } from "./select.ts";

export const OWNER_LABEL = "app.kubernetes.io/managed-by";
export const OWNER_VALUE = "docker-credential-cloud";
/** On a service account: the secret names we added to its imagePullSecrets (comma-separated). */
export const SA_ANNOTATION = "docker-credential-cloud.io/added-pull-secrets";
/** On our secret: JSON {host: expiry ISO time} of the credentials inside. */
export const EXPIRY_ANNOTATION = "docker-credential-cloud.io/expires";

export type AuthEntry = { username: string; password: string; auth: string };
export type Fresh = Map<string, { username: string; secret: string; expiresAt: number | undefined } | Error>;

export interface Change {
  namespace: string;
  action: string;
}

const MAX_TRIES = 5;

const retrying = async (f: () => Promise<void>): Promise<void> => {
  for (let i = 1; ; i++) {
    try {
      return await f();
    } catch (e) {
      if (!(e instanceof ConflictError) || i >= MAX_TRIES) throw e;
    }
  }
};

const decodeAuths = (s: Obj | undefined): Record<string, AuthEntry> => {
  const raw = s?.data?.[".dockerconfigjson"];
  if (!raw) return {};
  try {
    const doc = JSON.parse(Buffer.from(raw, "base64").toString("utf8")) as { auths?: Record<string, AuthEntry> };
    return doc.auths ?? {};
  } catch {
    return {};
  }
};

const expiries = (s: Obj | undefined): Record<string, string> => {
  try {
    return JSON.parse(s?.metadata.annotations?.[EXPIRY_ANNOTATION] ?? "{}") as Record<string, string>;
  } catch {
    return {};
  }
};

/**
 * The secret's auths from fresh credentials; a registry whose refresh failed keeps the entry the
 * secret already has (never replaced by an empty one). Undefined when there is nothing to write.
 */
export const desiredAuths = (
  registries: readonly string[],
  fresh: Fresh,
  existing: Obj | undefined,
): { auths: Record<string, AuthEntry>; expires: Record<string, string> } | undefined => {
  const old = decodeAuths(existing);
  const oldExp = expiries(existing);
  const auths: Record<string, AuthEntry> = {};
  const expires: Record<string, string> = {};
  for (const host of registries) {
    const c = fresh.get(host);
    if (c && !(c instanceof Error) && c.secret) {
      auths[host] = {
        username: c.username,
        password: c.secret,
        auth: Buffer.from(`${c.username}:${c.secret}`).toString("base64"),
      };
      if (c.expiresAt !== undefined) expires[host] = new Date(c.expiresAt).toISOString();
    } else if (old[host]?.password) {
      auths[host] = old[host];
      if (oldExp[host]) expires[host] = oldExp[host];
    }
  }
  return Object.keys(auths).length ? { auths, expires } : undefined;
};

const owned = (o: Obj | undefined) => o?.metadata.labels?.[OWNER_LABEL] === OWNER_VALUE;

export interface ReconcileOptions {
  kube: Kube;
  cfg: PullSecretsConfig;
  dryRun: boolean;
  log: { info(m: string): void; warn(m: string): void };
  /** Called before every write; throws (LostLeadership) when this replica may no longer write. */
  guard?: () => void;
}

/** Brings one selected namespace to the desired state; returns what changed (or would). */
export const reconcileNamespace = async (ns: string, fresh: Fresh, o: ReconcileOptions): Promise<Change[]> => {
  const { kube, cfg, dryRun } = o;
  const name = cfg.secretName;
  const changes: Change[] = [];
  let haveSecret = false;
  await retrying(async () => {
    const cur = await kube.getSecret(ns, name);
    if (cur && !owned(cur)) {
      o.log.warn(`namespace ${ns}: secret ${name} exists and is not managed by docker-credential-cloud; left alone`);
      return;
    }
    const want = desiredAuths(cfg.registries, fresh, cur);
    if (!want) {
      o.log.warn(`namespace ${ns}: no credentials for any registry yet; secret ${name} not written`);
      return;
    }
    haveSecret = true;
    const data = { ".dockerconfigjson": Buffer.from(JSON.stringify({ auths: want.auths })).toString("base64") };
    const annotations = { ...(cur?.metadata.annotations ?? {}), [EXPIRY_ANNOTATION]: JSON.stringify(want.expires) };
    if (!cur) {
      changes.push({ namespace: ns, action: `create secret ${name} (${Object.keys(want.auths).join(", ")})` });
      if (dryRun) return;
      o.guard?.();
      await kube.createSecret(ns, {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name, namespace: ns, labels: { [OWNER_LABEL]: OWNER_VALUE }, annotations },
        type: "kubernetes.io/dockerconfigjson",
        data,
      });
      return;
    }
    if (
      cur.data?.[".dockerconfigjson"] === data[".dockerconfigjson"] &&
      cur.type === "kubernetes.io/dockerconfigjson" &&
      cur.metadata.annotations?.[EXPIRY_ANNOTATION] === annotations[EXPIRY_ANNOTATION]
    )
      return;
    changes.push({ namespace: ns, action: `update secret ${name} (${Object.keys(want.auths).join(", ")})` });
    if (dryRun) return;
    o.guard?.();
    await kube.replaceSecret(ns, {
      ...cur,
      metadata: { ...cur.metadata, annotations },
      type: "kubernetes.io/dockerconfigjson",
      data,
    });
  });
  for (const sa of await kube.listServiceAccounts(ns)) {
    const saName = sa.metadata.name;
    if (!serviceAccountSelected(cfg, saName)) {
      // No longer selected (the config's serviceAccounts narrowed): take back only our entry.
      if (addedBy(sa).includes(name)) changes.push(...(await dropEntry(ns, saName, o)));
      continue;
    }
    if (!haveSecret) continue;
    await retrying(async () => {
      const cur = await kube.getServiceAccount(ns, saName);
      if (!cur) return;
      const list = cur.imagePullSecrets ?? [];
      if (list.some((r) => r.name === name)) return;
      changes.push({ namespace: ns, action: `add ${name} to imagePullSecrets of serviceaccount ${cur.metadata.name}` });
      if (dryRun) return;
      const added = new Set(addedBy(cur));
      added.add(name);
      o.guard?.();
      await kube.replaceServiceAccount(ns, {
        ...cur,
        metadata: {
          ...cur.metadata,
          annotations: { ...(cur.metadata.annotations ?? {}), [SA_ANNOTATION]: [...added].join(",") },
        },
        imagePullSecrets: [...list, { name }],
      });
    });
  }
  return changes;
};

/** The secret names we added to a service account's imagePullSecrets (its annotation). */
const addedBy = (sa: Obj): string[] => (sa.metadata.annotations?.[SA_ANNOTATION] ?? "").split(",").filter(Boolean);

/** Takes our secret out of one service account's imagePullSecrets, when we added it; nothing else. */
const dropEntry = async (ns: string, saName: string, o: ReconcileOptions): Promise<Change[]> => {
  const { kube, cfg, dryRun } = o;
  const name = cfg.secretName;
  const changes: Change[] = [];
  await retrying(async () => {
    const cur = await kube.getServiceAccount(ns, saName);
    if (!cur) return;
    const added = addedBy(cur);
    if (!added.includes(name)) return;
    changes.push({ namespace: ns, action: `remove ${name} from imagePullSecrets of serviceaccount ${saName}` });
    if (dryRun) return;
    const rest = added.filter((n) => n !== name);
    const annotations = { ...(cur.metadata.annotations ?? {}) };
    if (rest.length) annotations[SA_ANNOTATION] = rest.join(",");
    else delete annotations[SA_ANNOTATION];
    o.guard?.();
    await kube.replaceServiceAccount(ns, {
      ...cur,
      metadata: { ...cur.metadata, annotations },
      imagePullSecrets: (cur.imagePullSecrets ?? []).filter((r) => r.name !== name),
    });
  });
  return changes;
};

/** A namespace that stopped matching: remove only our secret and the entries we added. */
export const releaseNamespace = async (ns: string, o: ReconcileOptions): Promise<Change[]> => {
  const { kube, cfg, dryRun } = o;
  const name = cfg.secretName;
  const changes: Change[] = [];
  for (const sa of await kube.listServiceAccounts(ns))
    if (addedBy(sa).includes(name)) changes.push(...(await dropEntry(ns, sa.metadata.name, o)));
  const s = await kube.getSecret(ns, name);
  if (owned(s)) {
    changes.push({ namespace: ns, action: `delete secret ${name}` });
    if (!dryRun) {
      o.guard?.();
      await kube.deleteSecret(ns, name);
    }
  }
  return changes;
};
