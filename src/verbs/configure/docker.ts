// `configure docker`: credHelpers for exact hosts (Docker has no wildcards) or credsStore: cloud,
// in $DOCKER_CONFIG/config.json, else ~/.docker/config.json (--root: /root/.docker/config.json,
// the file containerd-side tools such as the SOCI snapshotter read when they run as root).
// Every other key and entry is kept as it was; the file changes only when something is missing.

import { join } from "node:path";
import { UsageError } from "../../errors.ts";
import { type ConfigureContext, Report, warnIfNotOnPath } from "./context.ts";
import { indentOf, jsonText, parseJsonObject, readCurrent, replaceFile, unifiedDiff } from "./files.ts";
import { exactHost } from "./hosts.ts";
import { helperLogins, migrateLogins } from "./migrate.ts";

export const HELPER = "cloud";
export const ROOT_DOCKER_CONFIG = "/root/.docker/config.json";

export interface DockerOptions {
  registries: string[];
  credsStore: boolean;
  dryRun: boolean;
  migrate: boolean;
  root: boolean;
  config?: string;
}

/** The Docker config file this run edits, and why (for the report). */
export const dockerConfigPath = (ctx: ConfigureContext, o: Pick<DockerOptions, "root" | "config">): string => {
  if (o.config) return o.config;
  if (o.root) return ROOT_DOCKER_CONFIG;
  const dir = ctx.env.DOCKER_CONFIG;
  return dir ? join(dir, "config.json") : join(ctx.home, ".docker", "config.json");
};

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export const configureDocker = async (ctx: ConfigureContext, o: DockerOptions) => {
  if (o.registries.length === 0 && !o.credsStore) {
    throw new UsageError(
      "configure docker: name the registries with --registry HOST (repeatable), or use --creds-store for every registry",
    );
  }
  if (o.migrate && !o.credsStore) throw new UsageError("configure docker: --migrate goes with --creds-store");
  const hosts = o.registries.map(exactHost);
  const file = dockerConfigPath(ctx, o);
  const r = new Report();
  const cur = await readCurrent(file);
  const config = parseJsonObject(file, cur);
  const next: Record<string, unknown> = structuredClone(config);
  const changes: string[] = [];

  if (hosts.length > 0) {
    if (next.credHelpers !== undefined && !isObj(next.credHelpers)) {
      throw new UsageError(`${file}: "credHelpers" is not an object; it was left untouched: repair it first`);
    }
    const helpers = (next.credHelpers ?? {}) as Record<string, unknown>;
    for (const h of hosts) {
      if (helpers[h] === HELPER) continue;
      changes.push(
        helpers[h] === undefined
          ? `credHelpers: ${h} → ${HELPER}`
          : `credHelpers: ${h} → ${HELPER} (was ${JSON.stringify(helpers[h])})`,
      );
      helpers[h] = HELPER;
    }
    next.credHelpers = helpers;
  }

  let previousStore: string | null = null;
  if (o.credsStore && next.credsStore !== HELPER) {
    previousStore = typeof next.credsStore === "string" && next.credsStore !== "" ? next.credsStore : null;
    changes.push(`credsStore: ${HELPER}${previousStore ? ` (was ${JSON.stringify(previousStore)})` : ""}`);
    next.credsStore = HELPER;
  }

  // credHelpers wins over credsStore in Docker: hosts still sent to another helper keep using it.
  if (o.credsStore && isObj(next.credHelpers)) {
    const others = Object.entries(next.credHelpers).filter(([h, v]) => v !== HELPER && !hosts.includes(h));
    if (others.length > 0) {
      r.say(
        `note: credHelpers still sends ${others.map(([h, v]) => `${h} to ${JSON.stringify(v)}`).join(", ")}; credHelpers wins over credsStore (add --registry HOST to switch a host)`,
      );
    }
  }
  if (changes.length === 0) {
    r.say(`${file}: already configured, nothing to change`);
  } else {
    const before = cur?.text ?? "";
    const after = jsonText(next, indentOf(cur?.text));
    if (previousStore) await reportHiddenLogins(ctx, r, previousStore, o, file);
    if (o.dryRun) {
      r.say(`${file}: would change (dry run, nothing written):`);
      for (const c of changes) r.say(`  ${c}`);
      r.say(await unifiedDiff(file, before, after));
    } else {
      const w = await replaceFile(file, after, cur, { now: ctx.now(), newMode: 0o600, dirMode: 0o700 });
      r.say(`${file}: updated`);
      for (const c of changes) r.say(`  ${c}`);
      r.say(w.backup ? `  backup of the previous file: ${w.backup}` : "  (new file)");
    }
  }
  // containerd-side tools (SOCI snapshotter, nerdctl as root) read root's Docker config.
  if (file !== ROOT_DOCKER_CONFIG && !o.config) {
    r.say(
      ctx.uid === 0
        ? `note: tools that run as root (containerd, the SOCI snapshotter) read ${ROOT_DOCKER_CONFIG}; add --root to configure that file too`
        : `note: tools that run as root (containerd, the SOCI snapshotter) read ${ROOT_DOCKER_CONFIG}: sudo docker-credential-cloud configure docker --root …`,
    );
  }
  await warnIfNotOnPath(ctx, r);
  return r.result();
};

/** Replacing another credsStore hides its logins from Docker: list them, and copy them on --migrate. */
const reportHiddenLogins = async (
  ctx: ConfigureContext,
  r: Report,
  name: string,
  o: DockerOptions,
  file: string,
): Promise<void> => {
  let logins: Record<string, string>;
  try {
    logins = await helperLogins(ctx, name);
  } catch (e) {
    r.warn(
      `${file} used credsStore "${name}"; its logins will no longer be used by Docker, and docker-credential-${name} list failed (${(e as Error).message}), so they cannot be listed or copied`,
    );
    return;
  }
  const servers = Object.keys(logins).sort();
  if (servers.length === 0) {
    r.say(`credsStore "${name}" is replaced; docker-credential-${name} holds no logins`);
    return;
  }
  const list = servers.map((s) => `${s} (${logins[s]})`).join(", ");
  if (!o.migrate) {
    r.warn(
      `credsStore "${name}" holds ${servers.length} login(s) that Docker will no longer see once it is replaced: ${list}; re-run with --migrate to copy them into docker-credential-cloud's store (or docker login again)`,
    );
    return;
  }
  if (o.dryRun) {
    r.say(`would copy ${servers.length} login(s) from docker-credential-${name}: ${list}`);
    return;
  }
  const { copied, failed } = await migrateLogins(ctx, name, servers);
  r.say(
    `copied ${copied.length} login(s) from docker-credential-${name} into docker-credential-cloud: ${copied.join(", ")}`,
  );
  for (const [s, why] of failed) r.warn(`could not copy ${s} from docker-credential-${name}: ${why}`);
};
