// `configure podman`: podman, skopeo and buildah (containers/image) ignore `credsStore`. They do
// honour two things, both written here:
//  - `credHelpers` in an auth file (containers-auth.json(5)) for the given exact hosts;
//  - `credential-helpers` in registries.conf(5) — a drop-in in registries.conf.d — which puts a
//    helper in front of every registry without listing hosts. ["cloud", "containers-auth.json"]:
//    our helper first (it answers "not found" at once for registries that are not ours, and
//    `podman login` then stores through it instead of writing a plaintext `auth`), the auth files
//    second (existing logins for other registries keep working).
// Verified with Debian 12's containers/image 5.23.1 (skopeo 1.9.3, podman 4.3.1, buildah 1.28.2):
// see docs/configure.md.

import { join } from "node:path";
import { UsageError } from "../../errors.ts";
import { type ConfigureContext, Report, warnIfNotOnPath } from "./context.ts";
import { HELPER } from "./docker.ts";
import { indentOf, jsonText, parseJsonObject, readCurrent, replaceFile, unifiedDiff } from "./files.ts";
import { exactHost } from "./hosts.ts";
import {
  credentialHelperSettings,
  formatHelpers,
  registriesConfOrder,
  SYSTEM_REGISTRIES_DIR,
  userRegistriesConf,
} from "./podman-conf.ts";

export { SYSTEM_REGISTRIES_DIR } from "./podman-conf.ts";

export const DROP_IN_NAME = "50-docker-credential-cloud.conf";
export const DROP_IN_TEXT = `# Written by \`docker-credential-cloud configure podman\`: podman, skopeo and buildah ask
# docker-credential-cloud for every registry first (it answers "not found" for registries that are
# not its own), then the auth files (containers-auth.json(5)). Delete this file to undo.
credential-helpers = ["${HELPER}", "containers-auth.json"]
`;

export interface PodmanOptions {
  registries: string[];
  dryRun: boolean;
  system: boolean;
  dropIn: boolean;
  authFile?: string;
}

/** The auth file: --auth-file, REGISTRY_AUTH_FILE, else the persistent per-user one. */
export const authFilePath = (ctx: ConfigureContext, o: Pick<PodmanOptions, "authFile">): string =>
  o.authFile ||
  ctx.env.REGISTRY_AUTH_FILE ||
  join(ctx.env.XDG_CONFIG_HOME || join(ctx.home, ".config"), "containers", "auth.json");

/** The drop-in directory: root's system one with --system, else the per-user one (under $HOME). */
export const dropInDir = (ctx: ConfigureContext, system: boolean): string =>
  system ? SYSTEM_REGISTRIES_DIR : join(ctx.home, ".config", "containers", "registries.conf.d");

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export const configurePodman = async (ctx: ConfigureContext, o: PodmanOptions) => {
  if (!o.dropIn && o.registries.length === 0) {
    throw new UsageError("configure podman: --no-drop-in needs at least one --registry HOST");
  }
  const hosts = o.registries.map(exactHost);
  const r = new Report();

  if (hosts.length > 0) {
    const file = authFilePath(ctx, o);
    const cur = await readCurrent(file);
    const auth = parseJsonObject(file, cur);
    const next: Record<string, unknown> = structuredClone(auth);
    if (next.credHelpers !== undefined && !isObj(next.credHelpers)) {
      throw new UsageError(`${file}: "credHelpers" is not an object; it was left untouched: repair it first`);
    }
    const helpers = (next.credHelpers ?? {}) as Record<string, unknown>;
    const changes: string[] = [];
    for (const h of hosts) {
      if (helpers[h] === HELPER) continue;
      changes.push(
        `credHelpers: ${h} → ${HELPER}${helpers[h] === undefined ? "" : ` (was ${JSON.stringify(helpers[h])})`}`,
      );
      helpers[h] = HELPER;
    }
    next.credHelpers = helpers;
    // containers/image asks credHelpers before `auths` in the same file, so a plaintext login for
    // the same host (podman login writes one) is dead weight: say so, keep it.
    const auths = isObj(next.auths) ? next.auths : {};
    for (const h of hosts)
      if (h in auths)
        r.warn(
          `${file} also holds a plaintext login for ${h} under "auths" (podman login); credHelpers wins for that host, remove the login with podman logout ${h}`,
        );
    if (changes.length === 0) r.say(`${file}: already configured, nothing to change`);
    else {
      const after = jsonText(next, indentOf(cur?.text));
      if (o.dryRun) {
        r.say(`${file}: would change (dry run, nothing written):`);
        for (const c of changes) r.say(`  ${c}`);
        r.say(await unifiedDiff(file, cur?.text ?? "", after));
      } else {
        const w = await replaceFile(file, after, cur, { now: ctx.now(), newMode: 0o600, dirMode: 0o700 });
        r.say(`${file}: updated`);
        for (const c of changes) r.say(`  ${c}`);
        r.say(w.backup ? `  backup of the previous file: ${w.backup}` : "  (new file)");
      }
    }
  }

  if (o.dropIn) {
    const file = join(dropInDir(ctx, o.system), DROP_IN_NAME);
    const cur = await readCurrent(file);
    if (cur?.text === DROP_IN_TEXT) r.say(`${file}: already configured, nothing to change`);
    else {
      if (o.dryRun) {
        r.say(`${file}: would ${cur ? "change" : "create"} (dry run, nothing written):`);
        r.say(await unifiedDiff(file, cur?.text ?? "", DROP_IN_TEXT));
      } else {
        const w = await replaceFile(file, DROP_IN_TEXT, cur, {
          now: ctx.now(),
          newMode: 0o644,
          dirMode: o.system ? 0o755 : 0o700,
        });
        r.say(`${file}: ${cur ? "updated" : "created"}: every registry asks docker-credential-cloud first`);
        if (w.backup) r.say(`  backup of the previous file: ${w.backup}`);
      }
    }
    // containers/image reads the files in order and the last credential-helpers wins.
    const order = registriesConfOrder(ctx.home, file);
    if (!order.includes(file)) {
      r.warn(
        `${file} is not read: ${userRegistriesConf(ctx.home)} exists, and then containers/image reads only the drop-ins of ${join(ctx.home, ".config", "containers", "registries.conf.d")} for this user; run configure podman without --system`,
      );
    } else {
      const settings = credentialHelperSettings(order, { [file]: DROP_IN_TEXT });
      const at = settings.findIndex((x) => x.path === file);
      const later = settings.slice(at + 1);
      const winner = later[later.length - 1];
      if (winner && !winner.helpers.includes(HELPER)) {
        r.warn(
          `ours is overridden and ignored: ${winner.path} sets ${formatHelpers(winner.helpers)} and is read after ${file}, so podman, skopeo and buildah do not ask docker-credential-cloud; remove that credential-helpers line, or put "${HELPER}" first in it`,
        );
      } else if (winner) {
        r.say(
          `note: ${winner.path} sets ${formatHelpers(winner.helpers)} after ours and is the one in force; it asks ${HELPER}`,
        );
      }
      for (const x of later.slice(0, -1)) r.say(`note: ${x.path} also sets ${formatHelpers(x.helpers)} after ours`);
      for (const x of settings.slice(0, at)) {
        r.say(`note: ${x.path} sets ${formatHelpers(x.helpers)}; ${file} is read after it and replaces it`);
      }
    }
    if (!o.system && ctx.uid === 0)
      r.say(`note: --system writes ${SYSTEM_REGISTRIES_DIR}/${DROP_IN_NAME} for every user`);
  }
  await warnIfNotOnPath(ctx, r);
  return r.result();
};
