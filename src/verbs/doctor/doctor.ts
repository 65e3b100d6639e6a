// `docker-credential-cloud doctor [--json]`: one screen about this machine — version and runtime;
// the config and identity files read and whether they parse; for each cloud identity the sources
// in precedence order, the one used and who that is (a live who-am-i); the token cache and its
// entries (never a secret); the static store's backend; whether Docker and podman point at this
// helper and whether it is on the PATH they (and root's services) see. Then the first problem and
// the next step. Returns {stdout, stderr, code}; touches nothing of process.* but what is read-only.

import { util } from "../../builtins.ts";
import { EMPTY_CONFIG } from "../../config.ts";
import { ConfigError, clipLine, oneLine } from "../../errors.ts";
import { createLogger, scrub } from "../../log.ts";
import { loadSettings, type Settings } from "../../settings.ts";
import { VERSION, versionDetail } from "../../version.ts";
import { edgeSettings } from "../../wiring.ts";
import { styleFor, type VerbContext, type VerbResult } from "../explain/output.ts";
import { cacheCheck, clientConfigs, cloudFiles, ourConfigFiles, pathChecks, storeCheck } from "./checks.ts";
import { checkIdentity, routesToCheck } from "./identities.ts";
import { render } from "./render.ts";
import { codeFor, DOCTOR_SCHEMA, type DoctorReport, EXIT, type Problem } from "./report.ts";

export { DOCTOR_SCHEMA, type DoctorReport, EXIT } from "./report.ts";

export interface DoctorContext extends VerbContext {
  /** Effective uid, undefined where there are none (Windows). */
  uid: number | undefined;
  /** This program's real path. */
  self: string;
  platform: NodeJS.Platform;
}

export const DOCTOR_HELP = `Usage: docker-credential-cloud doctor [--json]
One screen about this machine: version and runtime; config and identity files and whether they
parse; for each cloud identity the sources in precedence order, the one used and who that is (a live
check: AWS STS GetCallerIdentity, Google service account or user, Azure tenant and object id); the
token cache (host, identity, fresh until, expires; never a secret); the static store's backend; which
Docker and podman configs point at this helper, and whether it is on the PATH they and root see.
  --json   machine-readable output (schema ${DOCTOR_SCHEMA}, docs/troubleshooting.md)
Exit codes: 0 healthy; 1 usage error; 2 a config file does not parse; 3 an identity problem;
4 a cache or store problem; 5 the clients are not wired to a runnable helper. The first problem
found decides the code and is named on the last lines (and in "verdict").
`;

export const run = async (argv: string[], ctx: DoctorContext): Promise<VerbResult> => {
  let values: { json?: boolean; help?: boolean };
  try {
    ({ values } = util.parseArgs({
      args: argv,
      options: { json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
      allowPositionals: false,
    }));
  } catch (e) {
    return {
      stdout: "",
      stderr: `docker-credential-cloud doctor: ${clipLine(oneLine(e))} (doctor --help)\n`,
      code: EXIT.usage,
    };
  }
  if (values.help) return { stdout: DOCTOR_HELP, stderr: "", code: 0 };
  if (typeof ctx.home !== "string") {
    return { stdout: "", stderr: `docker-credential-cloud doctor: ${ctx.home.error}\n`, code: EXIT.usage };
  }
  const home = ctx.home;
  const problems: Problem[] = [];
  const warnings: string[] = [];
  const stderrLines: string[] = [];
  const log = createLogger("warn", (l) => stderrLines.push(scrub(l)));

  // Settings as a pull reads them; a config file that does not parse is the first problem, and
  // the rest is checked as a pull would then behave for stored logins (no config).
  let settings: Settings;
  let configError: string | undefined;
  try {
    settings = await edgeSettings(ctx.env, home);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    configError = scrub(oneLine(e));
    try {
      settings = await loadSettings(ctx.env, home, { parseConfig: async () => EMPTY_CONFIG });
    } catch (e2) {
      // The environment itself is wrong (a misspelt DOCKER_CREDENTIAL_CLOUD_* value): nothing works.
      return { stdout: "", stderr: `docker-credential-cloud doctor: ${scrub(oneLine(e2))}\n`, code: EXIT.config };
    }
  }
  const ours = ourConfigFiles(ctx.env, home, settings.configFile, configError);
  if (configError) {
    problems.push({
      area: "config",
      message: configError,
      next: "fix the file (every pull through a cloud route fails until then; stored logins still work)",
    });
  }
  const files = [...ours, ...(await cloudFiles(settings.env, home))];
  for (const f of files) {
    if (f.parses === false && !f.what.startsWith("docker-credential-cloud")) {
      problems.push({ area: "config", message: `${f.what} ${f.path}: ${f.error}`, next: `repair or remove ${f.path}` });
    }
  }

  const configs = clientConfigs(settings.env, home, ctx.uid);
  const path = pathChecks(settings.env);
  const now = ctx.now();
  const [cache, store] = await Promise.all([cacheCheck(settings, now), storeCheck(settings, ctx.platform)]);

  // Identities: the hosts the clients and the config name, so that their rules apply.
  const known = [
    ...configs.flatMap((c) => c.hosts),
    ...cache.entries.filter((e) => e.kind === "token").map((e) => e.host),
  ];
  const routes = routesToCheck(settings, known);
  const identities = await Promise.all(routes.map((r) => checkIdentity(r.route, settings, log, ctx.now, r.known)));
  for (const [i, id] of identities.entries()) {
    const where = `${id.cloud} identity (${id.scope}${routes[i]?.known ? `, for ${id.host}` : ""})`;
    if (id.status === "failed") {
      problems.push({
        area: "identity",
        message: `${where}: ${id.error ?? "no principal"}`,
        next: `fix the source marked ✗ under ${id.cloud}; \`docker-credential-cloud explain ${routes[i]?.known ? id.host : "IMAGE"}\` shows the whole pull`,
      });
    } else if (id.status === "none" && routes[i]?.known) {
      problems.push({
        area: "identity",
        message: `${where}: no ${id.cloud} identity on this machine, but ${id.host} is sent to this helper`,
        next:
          id.cloud === "aws"
            ? "give this machine an AWS identity (aws configure / aws sso login, a profile, IRSA, an instance profile)"
            : id.cloud === "google"
              ? "run gcloud auth application-default login, or set GOOGLE_APPLICATION_CREDENTIALS"
              : "run az login, or configure a service principal, workload identity or managed identity",
      });
    }
  }
  if (identities.length > 0 && identities.every((i) => i.status === "none")) {
    warnings.push("no cloud identity found for AWS, Google or Azure: cloud registries are pulled anonymously");
  }

  if (cache.problem) {
    problems.push({
      area: "cache",
      message: `token cache: ${cache.problem}`,
      next: "fix it as said: until then every pull fetches a token",
    });
  }
  if (!cache.enabled) warnings.push("the token cache is off: every pull makes cloud calls");
  if (store.mode === "keyring" && !store.keyring.reachable) {
    problems.push({
      area: "store",
      message: `credential store: ${store.newLogins}`,
      next: "start a Secret Service (e.g. gnome-keyring) in this session, or set DOCKER_CREDENTIAL_CLOUD_STORE=file or auto",
    });
  } else if (store.stored.keyring > 0 && !store.keyring.reachable && store.mode !== "file") {
    problems.push({
      area: "store",
      message: `credential store: ${store.stored.keyring} stored login(s) are in the ${store.keyring.name}, which is not reachable (${store.keyring.reason})`,
      next: "run in the desktop session that holds the keyring, or docker login again here",
    });
  }
  if (store.file.mode && Number.parseInt(store.file.mode, 8) & 0o077) {
    problems.push({
      area: "store",
      message: `credential store: ${store.file.path} is readable by other users (mode ${store.file.mode})`,
      next: `chmod 600 ${store.file.path}`,
    });
  }

  const userPath = path[0];
  const rootPath = path[1];
  for (const c of configs) {
    if (c.parses === false) {
      problems.push({
        area: "clients",
        message: `${c.client} config ${c.path}: ${c.error}`,
        next: `repair ${c.path} (the client cannot read it either)`,
      });
    }
  }
  const wiredUser = configs.filter((c) => c.wired && !c.client.startsWith("docker (root"));
  const wiredRoot = configs.filter((c) => c.wired && c.client.startsWith("docker (root"));
  if (wiredUser.length > 0 && !userPath?.found) {
    problems.push({
      area: "clients",
      message: `${wiredUser.map((c) => c.path).join(", ")} send${wiredUser.length === 1 ? "s" : ""} registries to "cloud", but docker-credential-cloud is not on this user's PATH`,
      next: `link it: sudo ln -s ${ctx.self} /usr/local/bin/docker-credential-cloud`,
    });
  }
  if (wiredRoot.length > 0 && !rootPath?.found) {
    problems.push({
      area: "clients",
      message: `${wiredRoot.map((c) => c.path).join(", ")} sends registries to "cloud", but docker-credential-cloud is not on root's systemd PATH (${rootPath?.path})`,
      next: `install it there: sudo install -m 0755 ${ctx.self} /usr/local/bin/docker-credential-cloud`,
    });
  }
  for (const c of configs) {
    if (
      c.overriddenBy &&
      c.credentialHelpers?.includes("cloud") &&
      !c.overriddenBy.credentialHelpers.includes("cloud")
    ) {
      warnings.push(
        `podman, skopeo and buildah do not ask cloud: ${c.path} lists it in credential-helpers, but ${c.overriddenBy.path} (read after it) sets credential-helpers = [${c.overriddenBy.credentialHelpers.join(", ")}], and the last one wins; remove that line or put "cloud" first in it`,
      );
    }
  }
  if (configs.every((c) => !c.wired)) {
    warnings.push(
      'no Docker or podman config points at "cloud": run docker-credential-cloud configure docker|podman (the kubelet is configured separately: configure kubelet)',
    );
  }

  const first = problems[0];
  const report: DoctorReport = {
    schema: DOCTOR_SCHEMA,
    version: {
      version: VERSION,
      detail: versionDetail(),
      runtime: (process.versions as Record<string, string | undefined>).bun
        ? `bun ${process.versions.bun}`
        : `node ${process.versions.node}`,
      platform: `${ctx.platform}-${process.arch}`,
      executable: ctx.self,
    },
    configFiles: files,
    identities,
    cache,
    store,
    clients: { configs, path },
    warnings,
    problems,
    verdict: first
      ? { ok: false, code: codeFor(first.area), problem: first.message, next: first.next }
      : {
          ok: true,
          code: EXIT.ok,
          next: warnings.length ? "nothing required; the ! lines above are worth a look" : "nothing",
        },
  };
  const stdout = values.json ? `${JSON.stringify(report, null, 2)}\n` : render(report, styleFor(ctx), now);
  return { stdout, stderr: stderrLines.join(""), code: report.verdict.code };
};
