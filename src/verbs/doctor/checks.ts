// doctor's local checks: files read and whether they parse, the token cache, the static store's
// backend, and whether the clients are wired to this helper. Reads only; writes nothing; never
// reads or shows a secret (the cache's and the store's secrets stay where they are).

import { fs, path } from "../../builtins.ts";
import { fileCache } from "../../cache/cache.ts";
import { isFresh, isUsable } from "../../cache/entry.ts";
import { oneLine } from "../../errors.ts";
import { adcFile } from "../../identity/google.ts";
import { isObj } from "../../json.ts";
import { scrub } from "../../log.ts";
import { parseServerUrl } from "../../registry/hosts.ts";
import type { Env, Settings } from "../../settings.ts";
import { credentialHelperSettings, registriesConfOrder } from "../configure/podman-conf.ts";
import type { CacheCheck, ClientConfig, FileCheck, PathCheck, StoreCheck } from "./report.ts";

const octal = (mode: number): string => (mode & 0o777).toString(8).padStart(3, "0");

const readText = (file: string): { text: string } | { missing: true } | { error: string } => {
  try {
    return { text: fs.readFileSync(file, "utf8") };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return { missing: true };
    return { error: `cannot read (${code ?? oneLine(e)})` };
  }
};

/** A JSON file's check: found, parses, and a summary the caller derives from the parsed value. */
const jsonFile = (what: string, file: string, summarize: (v: unknown) => string | undefined): FileCheck => {
  const r = readText(file);
  if ("missing" in r) return { what, path: file, found: false, parses: null };
  if ("error" in r) return { what, path: file, found: true, parses: null, error: r.error };
  if (r.text.trim() === "") return { what, path: file, found: true, parses: true, summary: "empty" };
  try {
    // The position only: a parser message may quote the text, and these files can hold secrets.
    const v = JSON.parse(r.text.replace(/^\uFEFF/, ""));
    const summary = summarize(v);
    return { what, path: file, found: true, parses: true, ...(summary ? { summary } : {}) };
  } catch (e) {
    const at = /position \d+|line \d+ column \d+/.exec((e as Error).message)?.[0];
    return { what, path: file, found: true, parses: false, error: `not valid JSON${at ? ` (at ${at})` : ""}` };
  }
};

/** The cloud identity files this machine has (AWS shared files, Google credentials, Azure CLI profile). */
export const cloudFiles = async (env: Env, home: string): Promise<FileCheck[]> => {
  const out: FileCheck[] = [];
  const awsConfig = env.AWS_CONFIG_FILE || path.join(home, ".aws", "config");
  const awsCredentials = env.AWS_SHARED_CREDENTIALS_FILE || path.join(home, ".aws", "credentials");
  let parsed: { configFile?: Record<string, unknown>; credentialsFile?: Record<string, unknown> } | string = {};
  try {
    const { loadSharedConfigFiles } = await import("@smithy/core/config");
    parsed = await loadSharedConfigFiles({ filepath: awsCredentials, configFilepath: awsConfig, ignoreCache: true });
  } catch (e) {
    parsed = scrub(oneLine(e));
  }
  for (const [what, file, key] of [
    ["AWS shared config", awsConfig, "configFile"],
    ["AWS shared credentials", awsCredentials, "credentialsFile"],
  ] as const) {
    const r = readText(file);
    if ("missing" in r) out.push({ what, path: file, found: false, parses: null });
    else if ("error" in r) out.push({ what, path: file, found: true, parses: null, error: r.error });
    else if (typeof parsed === "string") out.push({ what, path: file, found: true, parses: false, error: parsed });
    else {
      const profiles = Object.keys(parsed[key] ?? {});
      out.push({
        what,
        path: file,
        found: true,
        parses: true,
        summary: profiles.length ? `profiles: ${profiles.join(", ")}` : "no profiles",
      });
    }
  }
  const googleSummary = (v: unknown) => {
    if (!isObj(v)) return "not a JSON object";
    const type = typeof v.type === "string" ? v.type : "no type";
    return typeof v.client_email === "string" ? `${type} ${v.client_email}` : type;
  };
  if (env.GOOGLE_APPLICATION_CREDENTIALS) {
    out.push(
      jsonFile(
        "Google credentials (GOOGLE_APPLICATION_CREDENTIALS)",
        env.GOOGLE_APPLICATION_CREDENTIALS,
        googleSummary,
      ),
    );
  }
  out.push(jsonFile("gcloud ADC file", adcFile(env, home), googleSummary));
  const azureDir = env.AZURE_CONFIG_DIR || path.join(home, ".azure");
  out.push(
    jsonFile("Azure CLI profile", path.join(azureDir, "azureProfile.json"), (v) => {
      const subs = isObj(v) && Array.isArray(v.subscriptions) ? v.subscriptions.length : 0;
      return `${subs} subscription${subs === 1 ? "" : "s"} (az login)`;
    }),
  );
  return out;
};

/** Our config file: where it was looked for, and whether the one found parses. */
export const ourConfigFiles = (env: Env, home: string, loaded: string | null, error?: string): FileCheck[] => {
  const what = "docker-credential-cloud config";
  const explicit = env.DOCKER_CREDENTIAL_CLOUD_CONFIG;
  const xdg = path.join(env.XDG_CONFIG_HOME || path.join(home, ".config"), "docker-credential-cloud", "config.yaml");
  const candidates = explicit ? [explicit] : [xdg, "/etc/docker-credential-cloud/config.yaml"];
  const out: FileCheck[] = [];
  for (const file of candidates) {
    const exists = fs.existsSync(file);
    const isIt = file === loaded || (error !== undefined && exists && out.every((f) => !f.found));
    if (!exists) {
      out.push({ what, path: file, found: false, parses: null });
      continue;
    }
    out.push(
      isIt
        ? { what, path: file, found: true, parses: error === undefined, ...(error ? { error } : { summary: "in use" }) }
        : { what, path: file, found: true, parses: null, summary: "not read: an earlier file wins" },
    );
  }
  return out;
};

export const cacheCheck = async (settings: Settings, now: number): Promise<CacheCheck> => {
  const dir = settings.cacheDir;
  if (!dir) return { enabled: false, dir: null, exists: false, entries: [] };
  let st: ReturnType<typeof fs.lstatSync>;
  try {
    st = fs.lstatSync(dir);
  } catch {
    return { enabled: true, dir, exists: false, entries: [] };
  }
  const out: CacheCheck = { enabled: true, dir, exists: true, mode: octal(st.mode), owner: st.uid, entries: [] };
  const uid = process.geteuid?.();
  if (st.isSymbolicLink()) out.problem = `${dir} is a symbolic link; use a real directory (mkdir -m 700)`;
  else if (!st.isDirectory()) out.problem = `${dir} is not a directory`;
  else if (uid !== undefined && st.uid !== uid)
    out.problem = `${dir} is owned by uid ${st.uid}, not by this user (uid ${uid}); chown it or remove it`;
  else if (st.mode & 0o022)
    out.problem = `${dir} is writable by other users (mode ${octal(st.mode)}); chmod 700 ${dir}`;
  else {
    // Its owner but no access (mode 000, 500…): every pull would skip the cache, as `get` warns.
    try {
      fs.accessSync(dir, fs.constants.R_OK | fs.constants.W_OK | fs.constants.X_OK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? oneLine(e);
      out.problem = `${dir} cannot be read and written by this user (mode ${octal(st.mode)}, ${code}); chmod 700 ${dir}`;
    }
  }
  if (out.problem) return out;
  const warnings: string[] = [];
  const cache = fileCache(dir, { now: () => now, lockWaitMs: 0, onWarning: (m) => warnings.push(m) });
  const entries = await cache.readAll();
  if (warnings[0]) out.problem = warnings[0];
  const iso = (ms: number) => new Date(ms).toISOString();
  for (const e of Object.values(entries)) {
    if (e.kind === "token") {
      out.entries.push({
        kind: "token",
        host: e.host,
        identity: e.identity,
        freshUntil: iso(e.fetchedAt + (e.expiresAt - e.fetchedAt) / 2),
        expiresAt: iso(e.expiresAt),
        state: isFresh(e, now) ? "fresh" : isUsable(e, now) ? "stale" : "expired",
      });
    } else if (e.kind === "plugin") {
      // A kubelet plugin's answer (keyring library): the registries it covers, never the passwords.
      out.entries.push({
        kind: "plugin",
        host: e.auth.map(([k]) => k).join(", ") || "(no registries)",
        identity: `kubelet plugin ${e.provider} (cacheKeyType ${e.cacheKeyType})`,
        expiresAt: iso(e.expiresAt),
        state: now < e.expiresAt ? "fresh" : "expired",
      });
    } else {
      out.entries.push({
        kind: "none",
        host: e.host ?? "(any host of this identity)",
        identity: `remembered: ${e.reason}`,
        expiresAt: iso(e.expiresAt),
        state: now < e.expiresAt ? "fresh" : "expired",
      });
    }
  }
  out.entries.sort((a, b) => a.host.localeCompare(b.host));
  return out;
};

export const storeCheck = async (settings: Settings, platform: NodeJS.Platform): Promise<StoreCheck> => {
  const { keyringName, openKeyring } = await import("../../store/os-keychain.ts");
  const name = keyringName(platform);
  const file = path.join(settings.dataDir, "credentials.json");
  let fileMode: string | undefined;
  try {
    fileMode = octal(fs.statSync(file).mode);
  } catch {}
  let keyring: StoreCheck["keyring"];
  if (settings.storeBackend === "file") {
    keyring = { name, reachable: false, reason: "not asked: DOCKER_CREDENTIAL_CLOUD_STORE=file" };
  } else {
    const k = await openKeyring({ env: settings.env, platform, probe: true });
    keyring = k.ok ? { name, reachable: true } : { name, reachable: false, reason: k.reason };
  }
  const newLogins =
    settings.storeBackend === "file"
      ? `a plaintext file, ${file} (mode 0600): DOCKER_CREDENTIAL_CLOUD_STORE=file`
      : keyring.reachable
        ? `the OS keyring (${name})`
        : settings.storeBackend === "keyring"
          ? `nowhere: DOCKER_CREDENTIAL_CLOUD_STORE=keyring, but the ${name} is not reachable (${keyring.reason})`
          : `a plaintext file, ${file} (mode 0600), because the ${name} is not reachable`;
  const stored = { keyring: 0, file: 0 };
  const { openStore } = await import("../../store/store.ts");
  const { silentLogger } = await import("../../log.ts");
  const index = await openStore({
    dataDir: settings.dataDir,
    mode: settings.storeBackend,
    env: settings.env,
    platform,
    log: silentLogger,
    now: Date.now,
  }).list();
  for (const e of Object.values(index)) stored[e.backend]++;
  return {
    mode: settings.storeBackend,
    keyring,
    file: { path: file, exists: fileMode !== undefined, ...(fileMode ? { mode: fileMode } : {}) },
    newLogins,
    stored,
  };
};

export const ROOT_DOCKER_CONFIG = "/root/.docker/config.json";
/** systemd's default PATH for services (containerd, the SOCI snapshotter, the kubelet). */
export const SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
export const HELPER = "cloud";
const EXECUTABLE = "docker-credential-cloud";

const dockerLike = (client: ClientConfig["client"], file: string): ClientConfig => {
  const r = readText(file);
  if ("missing" in r) return { client, path: file, found: false, parses: null, hosts: [], wired: false };
  if ("error" in r) return { client, path: file, found: true, parses: null, error: r.error, hosts: [], wired: false };
  let v: unknown;
  try {
    v = r.text.trim() === "" ? {} : JSON.parse(r.text);
  } catch (e) {
    const at = /position \d+|line \d+ column \d+/.exec((e as Error).message)?.[0];
    return {
      client,
      path: file,
      found: true,
      parses: false,
      error: `not valid JSON${at ? ` (at ${at})` : ""}`,
      hosts: [],
      wired: false,
    };
  }
  if (!isObj(v))
    return { client, path: file, found: true, parses: false, error: "not a JSON object", hosts: [], wired: false };
  const helpers = isObj(v.credHelpers) ? v.credHelpers : {};
  const hosts = Object.entries(helpers)
    .filter(([, h]) => h === HELPER)
    .map(([host]) => parseServerUrl(host)?.host ?? host)
    .sort();
  const credsStore = typeof v.credsStore === "string" && v.credsStore !== "" ? v.credsStore : undefined;
  return {
    client,
    path: file,
    found: true,
    parses: true,
    ...(credsStore ? { credsStore } : {}),
    hosts,
    wired: credsStore === HELPER || hosts.length > 0,
  };
};

export const clientConfigs = (env: Env, home: string, uid: number | undefined): ClientConfig[] => {
  const out: ClientConfig[] = [];
  const dockerFile = env.DOCKER_CONFIG
    ? path.join(env.DOCKER_CONFIG, "config.json")
    : path.join(home, ".docker", "config.json");
  out.push(dockerLike("docker", dockerFile));
  if (dockerFile !== ROOT_DOCKER_CONFIG) {
    const root = dockerLike("docker (root: containerd, SOCI)", ROOT_DOCKER_CONFIG);
    if (root.found || uid === 0) out.push(root);
  }
  // containers-auth.json(5): REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json, then
  // $XDG_CONFIG_HOME/containers/auth.json (and the Docker config, listed above).
  const authFiles = env.REGISTRY_AUTH_FILE
    ? [env.REGISTRY_AUTH_FILE]
    : [
        ...(env.XDG_RUNTIME_DIR ? [path.join(env.XDG_RUNTIME_DIR, "containers", "auth.json")] : []),
        path.join(env.XDG_CONFIG_HOME || path.join(home, ".config"), "containers", "auth.json"),
      ];
  for (const f of authFiles) {
    const c = dockerLike("podman/skopeo/buildah", f);
    if (c.found || f === authFiles[authFiles.length - 1]) out.push({ ...c, wired: c.hosts.length > 0 });
  }
  // registries.conf files in the order containers/image reads them: only the last credential-helpers
  // is in force, so a file listing cloud before a later one that does not is not wired.
  const settings = credentialHelperSettings(registriesConfOrder(home));
  const inForce = settings[settings.length - 1];
  for (const x of settings) {
    const overridden = x !== inForce && inForce ? inForce : undefined;
    out.push({
      client: "podman/skopeo/buildah",
      path: x.path,
      found: true,
      parses: true,
      hosts: [],
      credentialHelpers: x.helpers,
      ...(overridden ? { overriddenBy: { path: overridden.path, credentialHelpers: overridden.helpers } } : {}),
      wired: !overridden && x.helpers.includes(HELPER),
    });
  }
  return out;
};

const findOnPath = (pathVar: string): string | undefined => {
  for (const dir of pathVar.split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, EXECUTABLE);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {}
  }
  return undefined;
};

export const pathChecks = (env: Env): PathCheck[] => {
  const user = env.PATH ?? "";
  const mine = findOnPath(user);
  const root = findOnPath(SYSTEMD_PATH);
  return [
    { who: "this user's PATH", path: user, ...(mine ? { found: mine } : {}) },
    { who: "root's systemd PATH (containerd, SOCI, kubelet)", path: SYSTEMD_PATH, ...(root ? { found: root } : {}) },
  ];
};
